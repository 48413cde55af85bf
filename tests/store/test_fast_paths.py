"""Once an item is sold out, the flood is answered without touching the backend."""

from __future__ import annotations

import asyncio

import httpx

from sniper.clock import ManualClock
from sniper.store.service import StoreService
from tests.conftest import ADMIN, T0_MS
from tests.store.helpers import make_users, put_item
from tests.store_backends import every_backend

Store = tuple[httpx.AsyncClient, StoreService]

pytestmark = every_backend


async def _settle(service: StoreService, sku: str) -> None:
    """Wait (bounded) for the background snapshot to switch the fast path on."""
    for _ in range(200):
        if service.cache.sold_out(sku)[0] is not None:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("sold-out flag never set")


class TestSoldOutFastPath:
    """The cache's sold-out flag, its replay map, and restock."""

    async def test_flood_does_not_reach_the_backend(self, store: Store) -> None:
        """After the last unit goes, 200 more requests leave the backend's call count alone."""
        client, service = store
        await put_item(client, "eggs", stock=1, start_ms=T0_MS)
        users = await make_users(client, 201)
        first = await client.post(
            "/api/orders", json={"sku_id": "eggs"}, headers={"Cookie": f"session={users[0][1]}"}
        )
        assert first.status_code == 201
        await _settle(service, "eggs")
        reserves_before = service.backend.op_counts["reserve"]
        calls_before = sum(service.backend.op_counts.values())
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/orders", json={"sku_id": "eggs"}, headers={"Cookie": f"session={t}"}
                )
                for _, t in users[1:]
            )
        )
        assert {a.status_code for a in answers} == {409}
        assert {a.json()["error"] for a in answers} == {"sold_out"}
        assert service.backend.op_counts["reserve"] == reserves_before
        # The sessions were cached when the admin API made them: nothing reaches the backend.
        assert sum(service.backend.op_counts.values()) == calls_before
        metrics = (await client.get("/metrics")).text
        assert 'store_orders_total{path="cache",result="sold_out"} 200.0' in metrics

    async def test_replay_after_sold_out_gets_its_order(self, store: Store) -> None:
        """The winner's retry with the same request_id gets 200 and its order, from memory."""
        client, service = store
        await put_item(client, "eggs", stock=1, start_ms=T0_MS)
        [(_, token)] = await make_users(client, 1)
        body = {"sku_id": "eggs", "request_id": "abc"}
        headers = {"Cookie": f"session={token}"}
        won = await client.post("/api/orders", json=body, headers=headers)
        await _settle(service, "eggs")
        reserves = service.backend.op_counts["reserve"]
        again = await client.post("/api/orders", json=body, headers=headers)
        assert (again.status_code, again.json()) == (200, won.json())
        other = await client.post(
            "/api/orders", json={"sku_id": "eggs", "request_id": "new"}, headers=headers
        )
        assert other.status_code == 409
        assert service.backend.op_counts["reserve"] == reserves

    async def test_limit_reached_still_wins_over_sold_out(self, store: Store) -> None:
        """The rules check the limit before the stock: the winner's new request_id after the
        sell-out hears limit_reached from the cache too, as it would from the backend."""
        client, service = store
        await put_item(client, "eggs", stock=1, start_ms=T0_MS)
        (_, ann), (_, bob) = await make_users(client, 2)
        first = await client.post(
            "/api/orders",
            json={"sku_id": "eggs", "request_id": "a"},
            headers={"Cookie": f"session={ann}"},
        )
        assert first.status_code == 201
        await _settle(service, "eggs")
        reserves = service.backend.op_counts["reserve"]
        again = await client.post(
            "/api/orders",
            json={"sku_id": "eggs", "request_id": "b"},
            headers={"Cookie": f"session={ann}"},
        )
        other = await client.post(
            "/api/orders", json={"sku_id": "eggs"}, headers={"Cookie": f"session={bob}"}
        )
        assert (again.status_code, again.json()["error"]) == (409, "limit_reached")
        assert (other.status_code, other.json()["error"]) == (409, "sold_out")
        assert service.backend.op_counts["reserve"] == reserves

    async def test_restock_clears_the_flag(self, store: Store) -> None:
        """PATCH stock through the admin API: the next order reaches the backend and succeeds."""
        client, service = store
        await put_item(client, "eggs", stock=1, start_ms=T0_MS)
        (_, ann), (_, bob) = await make_users(client, 2)
        await client.post(
            "/api/orders", json={"sku_id": "eggs"}, headers={"Cookie": f"session={ann}"}
        )
        await _settle(service, "eggs")
        refused = await client.post(
            "/api/orders", json={"sku_id": "eggs"}, headers={"Cookie": f"session={bob}"}
        )
        assert refused.status_code == 409
        restock = await client.patch("/admin/items/eggs", headers=ADMIN, json={"stock": 3})
        assert restock.status_code == 200
        assert service.cache.sold_out("eggs") == (None, False)
        again = await client.post(
            "/api/orders", json={"sku_id": "eggs"}, headers={"Cookie": f"session={bob}"}
        )
        assert again.status_code == 201


class TestEarlyAndUnknownFastPaths:
    """Requests before the opening, and for unknown items, are answered from memory too."""

    async def test_early_requests_stop_at_the_cache_until_the_opening(
        self, store: Store, clock: ManualClock
    ) -> None:
        """One 425 reaches the backend; the next ones do not; at the opening orders go through."""
        client, service = store
        await put_item(client, "eggs", stock=5, start_ms=T0_MS + 500)
        [(_, token)] = await make_users(client, 1)
        headers = {"Cookie": f"session={token}"}
        first = await client.post("/api/orders", json={"sku_id": "eggs"}, headers=headers)
        assert first.status_code == 425
        reserves = service.backend.op_counts["reserve"]
        for _ in range(20):
            early = await client.post("/api/orders", json={"sku_id": "eggs"}, headers=headers)
            assert early.json()["error"] == "not_started"
        assert service.backend.op_counts["reserve"] == reserves
        clock.advance(0.5)
        opened = await client.post("/api/orders", json={"sku_id": "eggs"}, headers=headers)
        assert opened.status_code == 201
        assert service.backend.op_counts["reserve"] == reserves + 1

    async def test_unknown_item_is_remembered(self, store: Store) -> None:
        """404 once from the backend, then from memory; creating the item clears it."""
        client, service = store
        [(_, token)] = await make_users(client, 1)
        headers = {"Cookie": f"session={token}"}
        for _ in range(3):
            missing = await client.post("/api/orders", json={"sku_id": "tea"}, headers=headers)
            assert missing.status_code == 404
        assert service.backend.op_counts["reserve"] == 1
        await put_item(client, "tea", stock=1, start_ms=T0_MS)
        created = await client.post("/api/orders", json={"sku_id": "tea"}, headers=headers)
        assert created.status_code == 201
