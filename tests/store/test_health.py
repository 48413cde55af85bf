"""Liveness, readiness and answers whose outcome is unknown, in-process."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import httpx
import pytest

from sniper.clock import ManualClock
from sniper.errors import OutcomeUnknown
from sniper.store.rules import Reservation, ReservationResult
from sniper.store.service import StoreService
from sniper.store.settings import StoreSettings
from tests.conftest import ADMIN, T0_MS, in_process
from tests.store.helpers import make_users, put_item

Store = tuple[httpx.AsyncClient, StoreService]


async def test_probes_are_answered_while_orders_fill_the_admission_limit(
    clock: ManualClock, settings: StoreSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Room for one request, taken by an order that waits on its reservation: the order path
    is full, yet /healthz and /readyz answer 200 (a busy replica is not a dead one)."""
    tight = settings.model_copy(update={"max_inflight": 1})
    async with in_process(tight, clock) as (client, service):
        await put_item(client, "eggs", stock=5, start_ms=T0_MS)
        [(_, token)] = await make_users(client, 1)
        release = asyncio.Event()
        real = service.backend.reserve

        async def held(request: Reservation) -> ReservationResult:
            await release.wait()
            return await real(request)

        monkeypatch.setattr(service.backend, "reserve", held)
        order = asyncio.create_task(
            client.post(
                "/api/orders", json={"sku_id": "eggs"}, headers={"Cookie": f"session={token}"}
            )
        )
        for _ in range(1000):
            if service.pending:
                break
            await asyncio.sleep(0.001)
        assert service.pending == 1
        refused = await client.get("/api/time")
        assert refused.status_code == 503  # the limit is reached for everything else
        health, ready = await client.get("/healthz"), await client.get("/readyz")
        release.set()
        assert (await order).status_code == 201
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert (ready.status_code, ready.json()) == (200, {"status": "ready"})


async def test_readiness_is_a_real_commit_made_at_most_once_a_second(
    store: Store, clock: ManualClock, db_path: Path
) -> None:
    """Twenty pollers at once and more after them cost one commit until a second has passed;
    the commit is a real write in the database."""
    client, service = store
    answers = await asyncio.gather(*(client.get("/readyz") for _ in range(20)))
    answers.append(await client.get("/readyz"))
    assert {a.status_code for a in answers} == {200}
    assert service.backend.op_counts["probe_commit"] == 1
    clock.advance(1.1)
    assert (await client.get("/readyz")).status_code == 200
    assert service.backend.op_counts["probe_commit"] == 2
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT probed_ms FROM readiness").fetchall() != []


@pytest.mark.parametrize("sent_id", [None, "my-own-1"])
async def test_an_order_whose_outcome_is_unknown_names_the_request_id_that_finds_it(
    store: Store, monkeypatch: pytest.MonkeyPatch, sent_id: str | None
) -> None:
    """The reservation commits but its reply is lost: 503 outcome_unknown with Retry-After and
    a request id (the client's, or one the store gave the request); a retry with it gets the
    order back (200), and there is one order."""
    client, service = store
    await put_item(client, "eggs", stock=5, start_ms=T0_MS)
    [(_, token)] = await make_users(client, 1)
    cookie = {"Cookie": f"session={token}"}
    real = service.backend.reserve

    async def reply_lost(request: Reservation) -> ReservationResult:
        await real(request)
        raise OutcomeUnknown("storage failed after the call was sent (TimeoutError)")

    monkeypatch.setattr(service.backend, "reserve", reply_lost)
    body = {"sku_id": "eggs"} if sent_id is None else {"sku_id": "eggs", "request_id": sent_id}
    unknown = await client.post("/api/orders", json=body, headers=cookie)
    monkeypatch.setattr(service.backend, "reserve", real)
    assert unknown.status_code == 503
    assert unknown.headers["retry-after"] == "1"
    answer = unknown.json()
    assert set(answer) == {"error", "message", "request_id"}
    assert answer["error"] == "outcome_unknown"
    assert answer["request_id"] == (sent_id or answer["request_id"])
    assert 1 <= len(answer["request_id"]) <= 64
    retry = await client.post(
        "/api/orders", headers=cookie, json={"sku_id": "eggs", "request_id": answer["request_id"]}
    )
    assert retry.status_code == 200
    orders = (await client.get("/admin/orders", headers=ADMIN)).json()["orders"]
    assert [o["order_id"] for o in orders] == [retry.json()["order_id"]]


async def test_requests_without_an_id_get_distinct_ones(store: Store) -> None:
    """Two orders without a request id by one user (limit 2): two orders, not a replay."""
    client, _ = store
    await put_item(client, "eggs", stock=5, start_ms=T0_MS, limit=2)
    [(_, token)] = await make_users(client, 1)
    cookie = {"Cookie": f"session={token}"}
    first = await client.post("/api/orders", json={"sku_id": "eggs"}, headers=cookie)
    second = await client.post("/api/orders", json={"sku_id": "eggs"}, headers=cookie)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["order_id"] != second.json()["order_id"]
