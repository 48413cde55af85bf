"""Every endpoint of the store API, in-process, on a manual clock."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sniper.clock import ManualClock
from sniper.store.service import StoreService
from sniper.store.settings import StoreSettings
from tests.conftest import ADMIN, T0_MS, in_process
from tests.store.helpers import make_users, put_item, rfc3339
from tests.store_backends import every_backend, xfail_on

Store = tuple[httpx.AsyncClient, StoreService]

pytestmark = every_backend


def cookie(token: str) -> dict[str, str]:
    """The session cookie header."""
    return {"Cookie": f"session={token}"}


async def test_time_is_the_store_clock(store: Store, clock: ManualClock) -> None:
    """GET /api/time answers the store's clock in epoch ms."""
    client, _ = store
    clock.advance(1.5)
    response = await client.get("/api/time")
    assert response.json() == {"now_ms": T0_MS + 1500}


class TestItems:
    """Reading items and their status."""

    async def test_status_follows_clock_and_stock(self, store: Store, clock: ManualClock) -> None:
        """upcoming → on_sale at sale_start → sold_out when the stock is gone."""
        client, _ = store
        created = await put_item(client, "eggs", stock=1, start_ms=T0_MS + 1000)
        assert created == {
            "sku_id": "eggs",
            "name": "item eggs",
            "price_cents": 100,
            "stock": 1,
            "sale_start": rfc3339(T0_MS + 1000),
            "limit_per_user": 1,
            "status": "upcoming",
        }
        clock.advance(1.0)
        assert (await client.get("/api/items/eggs")).json()["status"] == "on_sale"
        [(_, token)] = await make_users(client, 1)
        assert (
            await client.post("/api/orders", json={"sku_id": "eggs"}, headers=cookie(token))
        ).status_code == 201
        clock.advance(1.0)  # past the cache TTL
        body = (await client.get("/api/items/eggs")).json()
        assert (body["status"], body["stock"]) == ("sold_out", 0)

    async def test_unknown_item(self, store: Store) -> None:
        """404 not_found."""
        client, _ = store
        response = await client.get("/api/items/nope")
        assert (response.status_code, response.json()["error"]) == (404, "not_found")


class TestLogin:
    """Password login sets a session cookie."""

    async def test_login_then_order(self, store: Store, clock: ManualClock) -> None:
        """A named user logs in, and the cookie places an order."""
        client, _ = store
        await put_item(client, "eggs", stock=5, start_ms=T0_MS)
        created = await client.post(
            "/admin/users", headers=ADMIN, json={"user": "ann", "password": "s3cret-pass"}
        )
        assert created.status_code == 201
        response = await client.post("/api/login", json={"user": "ann", "password": "s3cret-pass"})
        assert response.status_code == 200
        set_cookie = response.headers["set-cookie"]
        assert "HttpOnly" in set_cookie
        assert "Max-Age=86400" in set_cookie
        token = response.cookies["session"]
        order = await client.post("/api/orders", json={"sku_id": "eggs"}, headers=cookie(token))
        assert (order.status_code, order.json()["user"]) == (201, "ann")

    @pytest.mark.parametrize(("user", "password"), [("ann", "wrong"), ("nobody", "s3cret-pass")])
    async def test_wrong_credentials(self, store: Store, user: str, password: str) -> None:
        """Wrong password and unknown user look the same: 401 unauthorized, no cookie."""
        client, _ = store
        await client.post(
            "/admin/users", headers=ADMIN, json={"user": "ann", "password": "s3cret-pass"}
        )
        response = await client.post("/api/login", json={"user": user, "password": password})
        assert (response.status_code, response.json()["error"]) == (401, "unauthorized")
        assert "set-cookie" not in response.headers

    async def test_session_expires_after_a_day(self, store: Store, clock: ManualClock) -> None:
        """The 24 h default expiry turns the session into 401."""
        client, _ = store
        await put_item(client, "eggs", stock=5, start_ms=T0_MS)
        [(_, token)] = await make_users(client, 1)
        clock.advance(86_400)
        response = await client.post("/api/orders", json={"sku_id": "eggs"}, headers=cookie(token))
        assert (response.status_code, response.json()["error"]) == (401, "unauthorized")
        assert "expired" in response.json()["message"]


class TestOrders:
    """The order endpoint's answers."""

    async def test_created_then_replayed(self, store: Store) -> None:
        """201 with the order; the same request_id again is 200 with the same order."""
        client, _ = store
        await put_item(client, "eggs", stock=5, start_ms=T0_MS)
        [(user, token)] = await make_users(client, 1)
        body = {"sku_id": "eggs", "qty": 1, "request_id": "r-1"}
        first = await client.post("/api/orders", json=body, headers=cookie(token))
        again = await client.post("/api/orders", json=body, headers=cookie(token))
        assert (first.status_code, again.status_code) == (201, 200)
        assert first.json() == again.json()
        order = first.json()
        assert set(order) == {"order_id", "sku_id", "qty", "user", "created_ms"}
        assert (order["sku_id"], order["qty"], order["user"], order["created_ms"]) == (
            "eggs",
            1,
            user,
            T0_MS,
        )
        assert order["order_id"].startswith("20231114221320000")

    @pytest.mark.parametrize(
        ("stock", "limit", "qty", "start_delta", "status", "code"),
        [
            (0, 1, 1, 0, 409, "sold_out"),
            (5, 1, 2, 0, 409, "limit_reached"),
            (5, 1, 1, 1, 425, "not_started"),
        ],
    )
    async def test_refusals(
        self,
        store: Store,
        stock: int,
        limit: int,
        qty: int,
        start_delta: int,
        status: int,
        code: str,
    ) -> None:
        """sold_out, limit_reached and not_started, each with its status."""
        client, _ = store
        await put_item(client, "eggs", stock=stock, start_ms=T0_MS + start_delta, limit=limit)
        [(_, token)] = await make_users(client, 1)
        response = await client.post(
            "/api/orders", json={"sku_id": "eggs", "qty": qty}, headers=cookie(token)
        )
        assert (response.status_code, response.json()["error"]) == (status, code)

    async def test_limit_per_user_counts_units(self, store: Store) -> None:
        """limit 2: one then one is fine, a third is limit_reached."""
        client, _ = store
        await put_item(client, "eggs", stock=10, start_ms=T0_MS, limit=2)
        [(_, token)] = await make_users(client, 1)
        codes = [
            (
                await client.post("/api/orders", json={"sku_id": "eggs"}, headers=cookie(token))
            ).status_code
            for _ in range(3)
        ]
        assert codes == [201, 201, 409]

    async def test_rate_limited_with_retry_after(
        self,
        tmp_path: object,
        clock: ManualClock,
        settings: StoreSettings,
        request: pytest.FixtureRequest,
    ) -> None:
        """Past the per-user burst: 429 rate_limited with Retry-After; time refills it."""
        xfail_on(
            request,
            ("redis", "cluster"),
            "on Redis the order buckets are shared: taken after the answers from memory (the "
            "early 425s take no token) and on Redis's clock (the store's clock refills nothing)",
        )
        tight = settings.model_copy(update={"user_rate_per_s": 0.5, "user_burst": 2})
        async with in_process(tight, clock) as (client, _):
            await put_item(client, "eggs", stock=10, start_ms=T0_MS + 60_000)
            [(_, token)] = await make_users(client, 1)

            async def send() -> httpx.Response:
                return await client.post(
                    "/api/orders", json={"sku_id": "eggs"}, headers=cookie(token)
                )

            codes = [(await send()).status_code for _ in range(2)]
            assert codes == [425, 425]
            limited = await send()
            assert (limited.status_code, limited.json()["error"]) == (429, "rate_limited")
            assert limited.headers["retry-after"] == "2"
            clock.advance(2.0)
            assert (await send()).status_code == 425

    async def test_admission_answers_503_instead_of_queueing(
        self, clock: ManualClock, settings: StoreSettings
    ) -> None:
        """With room for one queued reservation, a simultaneous crowd gets quick 503s."""
        tight = settings.model_copy(update={"max_pending_orders": 1})
        async with in_process(tight, clock) as (client, _):
            await put_item(client, "eggs", stock=100, start_ms=T0_MS)
            users = await make_users(client, 20)
            answers = await asyncio.gather(
                *(
                    client.post("/api/orders", json={"sku_id": "eggs"}, headers=cookie(t))
                    for _, t in users
                )
            )
        codes = sorted(a.status_code for a in answers)
        assert 201 in codes
        assert 503 in codes
        assert set(codes) == {201, 503}
        refused = next(a for a in answers if a.status_code == 503)
        assert refused.json()["error"] == "unavailable"
        assert refused.headers["retry-after"] == "1"


class TestOrderLookup:
    """GET /api/orders/{id} is for the owner only."""

    async def test_owner_only(self, store: Store) -> None:
        """Owner 200, another user 404, no cookie 401, unknown id 404."""
        client, _ = store
        await put_item(client, "eggs", stock=5, start_ms=T0_MS)
        (_, ann), (_, bob) = await make_users(client, 2)
        order = (
            await client.post("/api/orders", json={"sku_id": "eggs"}, headers=cookie(ann))
        ).json()
        path = f"/api/orders/{order['order_id']}"
        assert (await client.get(path, headers=cookie(ann))).json() == order
        assert (await client.get(path, headers=cookie(bob))).status_code == 404
        assert (await client.get(path)).status_code == 401
        assert (await client.get("/api/orders/2024x", headers=cookie(ann))).status_code == 404


class TestAdmin:
    """The admin API."""

    async def test_patch_semantics(self, store: Store) -> None:
        """Absent fields stay; an explicit 0 sets 0; the answer is the whole item."""
        client, _ = store
        await put_item(client, "eggs", stock=7, start_ms=T0_MS, limit=3)
        response = await client.patch("/admin/items/eggs", headers=ADMIN, json={"stock": 0})
        assert response.status_code == 200
        item = response.json()
        assert (item["stock"], item["limit_per_user"], item["name"]) == (0, 3, "item eggs")
        renamed = await client.patch(
            "/admin/items/eggs",
            headers=ADMIN,
            json={"name": "eggs!", "sale_start": rfc3339(T0_MS + 5)},
        )
        assert renamed.json()["name"] == "eggs!"
        assert renamed.json()["stock"] == 0
        assert renamed.json()["status"] == "upcoming"

    async def test_patch_unknown_item(self, store: Store) -> None:
        """404 not_found."""
        client, _ = store
        response = await client.patch("/admin/items/nope", headers=ADMIN, json={"stock": 1})
        assert (response.status_code, response.json()["error"]) == (404, "not_found")

    async def test_list_orders_by_sku(self, store: Store) -> None:
        """All orders, or one item's."""
        client, _ = store
        await put_item(client, "eggs", stock=5, start_ms=T0_MS)
        await put_item(client, "milk", stock=5, start_ms=T0_MS)
        [(_, token)] = await make_users(client, 1)
        for sku in ("eggs", "milk"):
            await client.post("/api/orders", json={"sku_id": sku}, headers=cookie(token))
        every = (await client.get("/admin/orders", headers=ADMIN)).json()["orders"]
        eggs = (await client.get("/admin/orders?sku_id=eggs", headers=ADMIN)).json()["orders"]
        assert sorted(o["sku_id"] for o in every) == ["eggs", "milk"]
        assert [o["sku_id"] for o in eggs] == ["eggs"]

    async def test_users_by_count(self, store: Store) -> None:
        """count=N gives N distinct users, each with a distinct working session."""
        client, _ = store
        users = await make_users(client, 50)
        assert len({u for u, _ in users}) == 50
        assert len({t for _, t in users}) == 50

    async def test_closed_without_admin_token(
        self, clock: ManualClock, settings: StoreSettings
    ) -> None:
        """A store started without a token answers 401 to every admin request."""
        closed = settings.model_copy(update={"admin_token": None})
        async with in_process(closed, clock) as (client, _):
            for headers in ({}, ADMIN, {"Authorization": "Bearer "}):
                response = await client.get("/admin/orders", headers=headers)
                assert response.status_code == 401


async def test_health_and_metrics(store: Store) -> None:
    """/healthz answers 200 and /metrics Prometheus text."""
    client, _ = store
    assert (await client.get("/healthz")).status_code == 200
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "http_requests_total" in metrics.text


async def test_admission_control_answers_503_when_too_many_are_in_flight(
    clock: ManualClock, settings: StoreSettings
) -> None:
    """With room for one request at a time, slow logins in flight make the rest a quick 503."""
    tight = settings.model_copy(update={"max_inflight": 1})
    async with in_process(tight, clock) as (client, _):
        await client.post("/admin/users", headers=ADMIN, json={"user": "ann", "password": "pw"})
        answers = await asyncio.gather(
            *(client.post("/api/login", json={"user": "ann", "password": "pw"}) for _ in range(5))
        )
    codes = [a.status_code for a in answers]
    assert codes.count(200) >= 1
    assert 503 in codes
    refused = next(a for a in answers if a.status_code == 503)
    assert refused.json()["error"] == "unavailable"
    assert refused.headers["retry-after"] == "1"


async def test_my_orders_lists_only_my_own(store: Store) -> None:
    """GET /api/orders?sku_id= answers the caller's orders of that item, nobody else's."""
    client, _ = store
    await put_item(client, "eggs", stock=5, start_ms=T0_MS)
    await put_item(client, "milk", stock=5, start_ms=T0_MS)
    (ann, ann_token), (_, bob_token) = await make_users(client, 2)
    for sku, token in (("eggs", ann_token), ("milk", ann_token), ("eggs", bob_token)):
        await client.post("/api/orders", json={"sku_id": sku}, headers=cookie(token))
    mine = (await client.get("/api/orders?sku_id=eggs", headers=cookie(ann_token))).json()
    assert [(o["user"], o["sku_id"]) for o in mine["orders"]] == [(ann, "eggs")]
    assert (await client.get("/api/orders?sku_id=eggs")).status_code == 401
    assert (await client.get("/api/orders?sku_id=x!", headers=cookie(ann_token))).status_code == 400


async def test_new_sessions_need_no_database_read(store: Store) -> None:
    """Sessions made by the admin API or a login are known to this process at once."""
    client, service = store
    await put_item(client, "eggs", stock=5, start_ms=T0_MS)
    [(_, token)] = await make_users(client, 1)
    await client.post("/admin/users", headers=ADMIN, json={"user": "ann", "password": "pw"})
    login = await client.post("/api/login", json={"user": "ann", "password": "pw"})
    for session in (token, login.cookies["session"]):
        answer = await client.post("/api/orders", json={"sku_id": "eggs"}, headers=cookie(session))
        assert answer.status_code == 201
    assert service.backend.op_counts.get("get_session", 0) == 0
