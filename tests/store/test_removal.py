"""Removing items and users through the admin API, on every backend: what goes (the item, the
user, its sessions, at once here and within the cache TTL on another process), and what stays
(every order placed)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import orjson

from sniper.clock import ManualClock
from sniper.store.service import StoreService
from sniper.store.settings import StoreSettings
from tests.conftest import ADMIN, T0_MS, in_process
from tests.store.helpers import make_users, put_item
from tests.store_backends import Snapshot, every_backend

Store = tuple[httpx.AsyncClient, StoreService]

pytestmark = every_backend


def cookie(token: str) -> dict[str, str]:
    """The session cookie header."""
    return {"Cookie": f"session={token}"}


async def order(client: httpx.AsyncClient, token: str, sku: str = "eggs") -> httpx.Response:
    """``POST /api/orders`` of one unit."""
    return await client.post("/api/orders", json={"sku_id": sku}, headers=cookie(token))


async def works(client: httpx.AsyncClient, token: str) -> int:
    """The status of a request that needs the session (the caller's orders)."""
    return (await client.get("/api/orders", headers=cookie(token))).status_code


async def new_user(client: httpx.AsyncClient, user: str, password: str) -> str:
    """Create (or replace) ``user``; its first session."""
    made = await client.post(
        "/admin/users", headers=ADMIN, json={"user": user, "password": password}
    )
    assert made.status_code == 201, made.text
    token: str = made.json()["users"][0]["session"]
    return token


async def login(client: httpx.AsyncClient, user: str, password: str) -> int:
    """The status of ``POST /api/login``."""
    return (await client.post("/api/login", json={"user": user, "password": password})).status_code


async def bulk(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    """``POST /admin/users/delete`` with a raw body."""
    headers = {**ADMIN, "Content-Type": "application/json"}
    return await client.post("/admin/users/delete", content=body, headers=headers)


class TestItem:
    """``DELETE /admin/items/{sku_id}``."""

    async def test_the_item_goes_and_its_orders_stay(self, store: Store) -> None:
        """200 with the item as it was; then GET and new orders are 404, the orders placed are
        still listed and still their owners'; a second DELETE is 404."""
        client, _ = store
        await put_item(client, "eggs", stock=5, start_ms=T0_MS)
        await put_item(client, "milk", stock=5, start_ms=T0_MS)
        [(user, token), (_, other)] = await make_users(client, 2)
        placed = (await order(client, token)).json()
        assert (await client.get("/api/items/eggs")).status_code == 200  # cached here
        gone = await client.delete("/admin/items/eggs", headers=ADMIN)
        assert gone.status_code == 200, gone.text
        assert (gone.json()["sku_id"], gone.json()["stock"]) == ("eggs", 4)
        missing = await client.get("/api/items/eggs")
        assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
        refused = await order(client, other)
        assert (refused.status_code, refused.json()["error"]) == (404, "not_found")
        listed = await client.get("/admin/orders?sku_id=eggs", headers=ADMIN)
        assert listed.json()["orders"] == [placed]
        assert (await client.get("/admin/orders", headers=ADMIN)).json()["orders"] == [placed]
        mine = await client.get(f"/api/orders/{placed['order_id']}", headers=cookie(token))
        assert (mine.status_code, mine.json()["user"]) == (200, user)
        assert (await order(client, other, "milk")).status_code == 201  # others untouched
        again = await client.delete("/admin/items/eggs", headers=ADMIN)
        assert (again.status_code, again.json()["error"]) == (404, "not_found")

    async def test_a_sold_out_item_goes_at_once_here(self, store: Store) -> None:
        """The sold-out fast path of this process forgets the item with it."""
        client, service = store
        await put_item(client, "eggs", stock=1, start_ms=T0_MS)
        [(_, first), (_, second)] = await make_users(client, 2)
        assert (await order(client, first)).status_code == 201
        assert (await order(client, second)).status_code == 409
        await service.aclose()  # the sold-out snapshot loaded: the fast path is on
        assert service.cache.sold_out("eggs")[0] is not None
        assert (await client.delete("/admin/items/eggs", headers=ADMIN)).status_code == 200
        refused = await order(client, second)
        assert (refused.status_code, refused.json()["error"]) == (404, "not_found")

    async def test_made_again_it_sells_anew_within_the_limit(self, store: Store) -> None:
        """An item made again under the same sku_id: a buyer's earlier unit still counts
        against the limit (as when an item is replaced), others buy."""
        client, _ = store
        await put_item(client, "eggs", stock=5, start_ms=T0_MS)
        [(_, buyer), (_, other)] = await make_users(client, 2)
        assert (await order(client, buyer)).status_code == 201
        assert (await client.delete("/admin/items/eggs", headers=ADMIN)).status_code == 200
        await put_item(client, "eggs", stock=5, start_ms=T0_MS)
        again = await order(client, buyer)
        assert (again.status_code, again.json()["error"]) == (409, "limit_reached")
        assert (await order(client, other)).status_code == 201
        listed = await client.get("/admin/orders?sku_id=eggs", headers=ADMIN)
        assert len(listed.json()["orders"]) == 2


class TestUser:
    """``DELETE /admin/users/{user}``."""

    async def test_the_user_and_its_sessions_go_its_orders_stay(self, store: Store) -> None:
        """200 with the live sessions revoked; each is 401 at once, the password no longer logs
        in, the orders stay listed; other users go on; a second DELETE is 404."""
        client, _ = store
        await put_item(client, "eggs", stock=5, start_ms=T0_MS)
        ann = [await new_user(client, "ann", "pw-ann")]
        assert await login(client, "ann", "pw-ann") == 200
        ann.append(
            (await client.post("/api/login", json={"user": "ann", "password": "pw-ann"})).cookies[
                "session"
            ]
        )
        bob = await new_user(client, "bob", "pw-bob")
        placed = (await order(client, ann[0])).json()
        assert [await works(client, t) for t in ann] == [200, 200]  # cached here
        gone = await client.delete("/admin/users/ann", headers=ADMIN)
        assert (gone.status_code, gone.json()) == (200, {"user": "ann", "revoked": 3})
        assert [await works(client, t) for t in ann] == [401, 401]
        assert (await order(client, ann[1])).status_code == 401
        assert await login(client, "ann", "pw-ann") == 401
        assert await works(client, bob) == 200
        listed = await client.get("/admin/orders?sku_id=eggs", headers=ADMIN)
        assert listed.json()["orders"] == [placed]
        again = await client.delete("/admin/users/ann", headers=ADMIN)
        assert (again.status_code, again.json()["error"]) == (404, "not_found")
        fresh = await new_user(client, "ann", "pw-new")  # the name can be taken again
        assert await works(client, fresh) == 200
        assert await login(client, "ann", "pw-new") == 200

    async def test_a_session_only_user_goes(self, store: Store) -> None:
        """A user made by count (no password): removed, its session dead."""
        client, _ = store
        [(user, token)] = await make_users(client, 1)
        gone = await client.delete(f"/admin/users/{user}", headers=ADMIN)
        assert (gone.status_code, gone.json()) == (200, {"user": user, "revoked": 1})
        assert await works(client, token) == 401


class TestUsers:
    """``POST /admin/users/delete``: many at once."""

    async def test_the_named_users_go(self, store: Store) -> None:
        """How many were users (unknown names and repeats are no more), their sessions dead;
        the others' live."""
        client, _ = store
        users = await make_users(client, 5)
        names = [u for u, _ in users[:3]]
        body = orjson.dumps({"users": [*names, "ghost", names[0]]})
        gone = await bulk(client, body)
        assert (gone.status_code, gone.json()) == (200, {"removed": 3, "revoked": 3})
        assert [await works(client, t) for _, t in users] == [401, 401, 401, 200, 200]
        assert (await bulk(client, body)).json() == {"removed": 0, "revoked": 0}
        assert (await bulk(client, b'{"users": []}')).json() == {"removed": 0, "revoked": 0}

    async def test_ten_thousand_names_at_once(self, store: Store) -> None:
        """The cap: 10,000 names of 64 characters (a body of 670 KB) are one request."""
        client, _ = store
        [(user, token)] = await make_users(client, 1)
        names = [f"{i:064d}" for i in range(9_999)] + [user]
        gone = await bulk(client, orjson.dumps({"users": names}))
        assert (gone.status_code, gone.json()) == (200, {"removed": 1, "revoked": 1})
        assert await works(client, token) == 401

    async def test_one_bad_name_removes_nobody(
        self, store: Store, store_snapshot: Callable[[], Snapshot]
    ) -> None:
        """A real user beside a name that is not an identifier: 400 naming the field, and
        nothing stored changes."""
        client, _ = store
        [(user, token)] = await make_users(client, 1)
        before = store_snapshot()
        refused = await bulk(client, orjson.dumps({"users": [user, "a b"]}))
        assert (refused.status_code, refused.json()["error"]) == (400, "bad_request")
        assert "users" in refused.json()["message"]
        assert store_snapshot() == before
        assert await works(client, token) == 200


async def test_another_process_stops_serving_them_within_the_cache_ttl(
    settings: StoreSettings, clock: ManualClock
) -> None:
    """Two stores on one storage (two workers, or two replicas): B has the item and the
    session cached; once A removed them, B answers 404 and 401 when its cache is --cache-ttl
    old, without hearing of it."""
    async with in_process(settings, clock) as (a, _), in_process(settings, clock) as (b, _):
        await put_item(a, "eggs", stock=5, start_ms=T0_MS)
        [(user, token), (_, other)] = await make_users(a, 2)
        assert (await b.get("/api/items/eggs")).status_code == 200
        assert await works(b, token) == 200
        assert (await a.delete("/admin/items/eggs", headers=ADMIN)).status_code == 200
        assert (await a.delete(f"/admin/users/{user}", headers=ADMIN)).status_code == 200
        clock.advance(settings.cache_ttl_s)
        assert (await b.get("/api/items/eggs")).status_code == 404
        refused = await order(b, other)
        assert (refused.status_code, refused.json()["error"]) == (404, "not_found")
        assert await works(b, token) == 401
