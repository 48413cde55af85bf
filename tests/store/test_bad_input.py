"""Bad input: the documented 4xx with a JSON error, and nothing changed in the database."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest

from sniper.store.auth import hash_token
from sniper.store.models import Session
from sniper.store.service import StoreService
from tests.conftest import ADMIN, T0_MS
from tests.store.helpers import make_users, put_item
from tests.store_backends import Snapshot, every_backend

pytestmark = every_backend

GOOD_ITEM: dict[str, Any] = {
    "name": "eggs",
    "price_cents": 100,
    "stock": 5,
    "sale_start": "2024-04-15T07:00:00+08:00",
}
EXPIRED_TOKEN = "expired-token-for-the-bad-input-table"


def order(**fields: Any) -> bytes:
    """An order body for ``eggs`` with fields replaced or (value ...) removed."""
    body: dict[str, Any] = {"sku_id": "eggs", "qty": 1, **fields}
    return orjson.dumps({k: v for k, v in body.items() if v is not ...})


def item(**fields: Any) -> bytes:
    """An item body with fields replaced or (value ...) removed."""
    body = {**GOOD_ITEM, **fields}
    return orjson.dumps({k: v for k, v in body.items() if v is not ...})


def users(names: list[object]) -> bytes:
    """A bulk removal's body."""
    return orjson.dumps({"users": names})


ORD, PUT, PATCH = "/api/orders", "/admin/items/eggs", "/admin/items/eggs"
BULK = "/admin/users/delete"
USER, NOBODY, FORGED, EXPIRED, ADMIN_OK, ADMIN_BAD = (
    "user",
    "nobody",
    "forged",
    "expired",
    "admin",
    "admin-wrong",
)

CASES = [
    # -- POST /api/orders ------------------------------------------------------------------
    ("POST", ORD, USER, b'{"sku_id": ', 400, "bad_request", "malformed-json"),
    ("POST", ORD, USER, b"", 400, "bad_request", "empty-body"),
    ("POST", ORD, USER, b"[1, 2]", 400, "bad_request", "not-an-object"),
    ("POST", ORD, USER, order(qty="1"), 400, "bad_request", "qty-string"),
    ("POST", ORD, USER, order(qty=1.5), 400, "bad_request", "qty-float"),
    ("POST", ORD, USER, order(qty=1.0), 400, "bad_request", "qty-whole-float"),
    ("POST", ORD, USER, order(qty=True), 400, "bad_request", "qty-bool"),
    ("POST", ORD, USER, order(qty=0), 400, "bad_request", "qty-zero"),
    ("POST", ORD, USER, order(qty=-1), 400, "bad_request", "qty-negative"),
    ("POST", ORD, USER, order(qty=1001), 400, "bad_request", "qty-over-1000"),
    (
        "POST",
        ORD,
        USER,
        b'{"sku_id": "eggs", "qty": 100000000000000000000000000}',
        400,
        "bad_request",
        "qty-huge",
    ),
    ("POST", ORD, USER, order(qty=None), 400, "bad_request", "qty-null"),
    ("POST", ORD, USER, order(sku_id=...), 400, "bad_request", "sku-missing"),
    ("POST", ORD, USER, order(sku_id=None), 400, "bad_request", "sku-null"),
    ("POST", ORD, USER, order(sku_id=""), 400, "bad_request", "sku-empty"),
    ("POST", ORD, USER, order(sku_id="eggs!"), 400, "bad_request", "sku-bad-chars"),
    ("POST", ORD, USER, order(sku_id="e" * 65), 400, "bad_request", "sku-too-long"),
    ("POST", ORD, USER, order(sku_id=7), 400, "bad_request", "sku-number"),
    ("POST", ORD, USER, order(request_id="r" * 65), 400, "bad_request", "request-id-too-long"),
    ("POST", ORD, USER, order(request_id=""), 400, "bad_request", "request-id-empty"),
    ("POST", ORD, USER, order(request_id="caf\u00e9"), 400, "bad_request", "request-id-non-ascii"),
    ("POST", ORD, USER, order(request_id="a\nb"), 400, "bad_request", "request-id-control-char"),
    ("POST", ORD, USER, order(colour="red"), 400, "bad_request", "unknown-field"),
    ("POST", ORD, USER, order(request_id="x" * 5000), 413, "too_large", "body-over-4k"),
    ("POST", ORD, USER, order(sku_id="milk"), 404, "not_found", "unknown-sku"),
    ("POST", ORD, NOBODY, order(), 401, "unauthorized", "no-session"),
    ("POST", ORD, FORGED, order(), 401, "unauthorized", "forged-session"),
    ("POST", ORD, EXPIRED, order(), 401, "unauthorized", "expired-session"),
    # -- GET ---------------------------------------------------------------------------------
    ("GET", "/api/items/bad!", NOBODY, b"", 400, "bad_request", "item-path-bad-chars"),
    ("GET", "/api/items/milk", NOBODY, b"", 404, "not_found", "item-unknown"),
    ("GET", "/api/orders/x!", USER, b"", 400, "bad_request", "order-path-bad-chars"),
    ("GET", "/api/orders/20240415", FORGED, b"", 401, "unauthorized", "order-forged-session"),
    ("GET", "/nowhere", NOBODY, b"", 404, "not_found", "unknown-route"),
    ("DELETE", ORD, USER, b"", 405, "method_not_allowed", "wrong-method"),
    # -- POST /api/login ---------------------------------------------------------------------
    ("POST", "/api/login", NOBODY, b"{", 400, "bad_request", "login-malformed"),
    (
        "POST",
        "/api/login",
        NOBODY,
        b'{"user": "a b", "password": "x"}',
        400,
        "bad_request",
        "login-bad-user",
    ),
    ("POST", "/api/login", NOBODY, b'{"user": "ann"}', 400, "bad_request", "login-no-password"),
    # -- admin -------------------------------------------------------------------------------
    ("PUT", PUT, NOBODY, item(), 401, "unauthorized", "put-no-admin-token"),
    ("PUT", PUT, ADMIN_BAD, item(), 401, "unauthorized", "put-wrong-admin-token"),
    (
        "PUT",
        PUT,
        ADMIN_OK,
        item(sale_start="2024-04-15T07:00:00"),
        400,
        "bad_request",
        "put-sale-start-no-offset",
    ),
    (
        "PUT",
        PUT,
        ADMIN_OK,
        item(sale_start="tomorrow"),
        400,
        "bad_request",
        "put-sale-start-garbage",
    ),
    (
        "PUT",
        PUT,
        ADMIN_OK,
        item(sale_start=1713135600000),
        400,
        "bad_request",
        "put-sale-start-number",
    ),
    ("PUT", PUT, ADMIN_OK, item(price_cents=-1), 400, "bad_request", "put-negative-price"),
    ("PUT", PUT, ADMIN_OK, item(stock="5"), 400, "bad_request", "put-stock-string"),
    ("PUT", PUT, ADMIN_OK, item(stock=-5), 400, "bad_request", "put-stock-negative"),
    ("PUT", PUT, ADMIN_OK, item(limit_per_user=0), 400, "bad_request", "put-limit-zero"),
    ("PUT", PUT, ADMIN_OK, item(name=...), 400, "bad_request", "put-missing-name"),
    ("PUT", PUT, ADMIN_OK, item(name="n" * 201), 400, "bad_request", "put-name-too-long"),
    ("PUT", PUT, ADMIN_OK, item(name="n" * 5000), 413, "too_large", "put-body-over-4k"),
    ("PUT", PUT, ADMIN_OK, item(name="a\u0000b"), 400, "bad_request", "put-name-nul"),
    ("PUT", PUT, ADMIN_OK, item(name="a\u001b[2Jb"), 400, "bad_request", "put-name-escape"),
    ("PATCH", PATCH, ADMIN_OK, b'{"name": "a\\u0000"}', 400, "bad_request", "patch-name-nul"),
    ("PUT", "/admin/items/bad!", ADMIN_OK, item(), 400, "bad_request", "put-path-bad-chars"),
    ("PATCH", PATCH, ADMIN_OK, b'{"stock": null}', 400, "bad_request", "patch-null"),
    ("PATCH", PATCH, ADMIN_OK, b'{"stock": 1.0}', 400, "bad_request", "patch-float"),
    (
        "PATCH",
        PATCH,
        ADMIN_OK,
        b'{"sale_start": "soon"}',
        400,
        "bad_request",
        "patch-bad-sale-start",
    ),
    ("PATCH", PATCH, NOBODY, b'{"stock": 1}', 401, "unauthorized", "patch-no-admin-token"),
    (
        "PATCH",
        "/admin/items/milk",
        ADMIN_OK,
        b'{"stock": 1}',
        404,
        "not_found",
        "patch-unknown-sku",
    ),
    ("POST", "/admin/users", ADMIN_OK, b'{"count": 0}', 400, "bad_request", "users-count-zero"),
    ("POST", "/admin/users", ADMIN_OK, b'{"count": 10001}', 400, "bad_request", "users-count-huge"),
    ("POST", "/admin/users", ADMIN_OK, b'{"user": "ann"}', 400, "bad_request", "users-no-password"),
    (
        "POST",
        "/admin/users",
        ADMIN_OK,
        b'{"user": "ann", "password": "p", "count": 2}',
        400,
        "bad_request",
        "users-both-forms",
    ),
    ("POST", "/admin/users", NOBODY, b'{"count": 1}', 401, "unauthorized", "users-no-admin"),
    ("GET", "/admin/orders?sku_id=bad!", ADMIN_OK, b"", 400, "bad_request", "orders-bad-query"),
    ("GET", "/admin/orders", ADMIN_BAD, b"", 401, "unauthorized", "orders-wrong-admin"),
    # -- a trailing newline is not part of an identifier ---------------------------------------
    ("PUT", "/admin/items/nl%0A", ADMIN_OK, item(), 400, "bad_request", "put-path-newline"),
    (
        "PATCH",
        "/admin/items/eggs%0A",
        ADMIN_OK,
        b'{"stock": 1}',
        400,
        "bad_request",
        "patch-path-newline",
    ),
    ("GET", "/api/items/eggs%0A", NOBODY, b"", 400, "bad_request", "item-path-newline"),
    ("GET", "/api/orders?sku_id=eggs%0A", USER, b"", 400, "bad_request", "my-orders-newline"),
    (
        "GET",
        "/admin/orders?sku_id=eggs%0A",
        ADMIN_OK,
        b"",
        400,
        "bad_request",
        "orders-query-newline",
    ),
    ("POST", ORD, USER, order(sku_id="eggs\n"), 400, "bad_request", "sku-newline"),
    ("POST", ORD, USER, order(request_id="r1\n"), 400, "bad_request", "request-id-newline"),
    (
        "POST",
        "/admin/users",
        ADMIN_OK,
        b'{"user": "ann\\n", "password": "p"}',
        400,
        "bad_request",
        "users-name-newline",
    ),
    (
        "PUT",
        PUT,
        ADMIN_OK,
        item(sale_start="2024-04-15T07:00:00+08:00\n"),
        400,
        "bad_request",
        "put-sale-start-newline",
    ),
    # -- a key given twice: the parser would keep the last one ---------------------------------
    (
        "POST",
        ORD,
        USER,
        b'{"sku_id": "eggs", "qty": 1, "qty": 1000}',
        400,
        "bad_request",
        "order-qty-twice",
    ),
    (
        "POST",
        ORD,
        USER,
        b'{"sku_id": "nosuch", "sku_id": "eggs"}',
        400,
        "bad_request",
        "order-sku-twice",
    ),
    (
        "POST",
        ORD,
        USER,
        b'{"sku_id": "eggs", "qty": 1, "q\\u0074y": 1}',
        400,
        "bad_request",
        "order-qty-twice-escaped",
    ),
    (
        "POST",
        ORD,
        USER,
        b'{"sku_id": "eggs", "request_id": "a", "request_id": "b"}',
        400,
        "bad_request",
        "order-request-id-twice",
    ),
    (
        "POST",
        "/api/login",
        NOBODY,
        b'{"user": "x", "user": "y", "password": "p"}',
        400,
        "bad_request",
        "login-user-twice",
    ),
    ("PUT", PUT, ADMIN_OK, item()[:-1] + b', "stock": 9}', 400, "bad_request", "put-stock-twice"),
    (
        "PATCH",
        PATCH,
        ADMIN_OK,
        b'{"stock": 1, "stock": 2}',
        400,
        "bad_request",
        "patch-stock-twice",
    ),
    (
        "POST",
        "/admin/users",
        ADMIN_OK,
        b'{"count": 1, "count": 2}',
        400,
        "bad_request",
        "users-count-twice",
    ),
    # -- sessions ------------------------------------------------------------------------------
    ("POST", "/api/logout", NOBODY, b"", 401, "unauthorized", "logout-no-session"),
    ("POST", "/api/logout", FORGED, b"", 401, "unauthorized", "logout-forged-session"),
    ("POST", "/api/logout", EXPIRED, b"", 401, "unauthorized", "logout-expired-session"),
    ("DELETE", "/admin/users/ann/sessions", NOBODY, b"", 401, "unauthorized", "revoke-no-admin"),
    (
        "DELETE",
        "/admin/users/ann/sessions",
        ADMIN_BAD,
        b"",
        401,
        "unauthorized",
        "revoke-wrong-admin",
    ),
    (
        "DELETE",
        "/admin/users/a%0A/sessions",
        ADMIN_OK,
        b"",
        400,
        "bad_request",
        "revoke-path-newline",
    ),
    # -- removals --------------------------------------------------------------------------
    ("DELETE", PUT, NOBODY, b"", 401, "unauthorized", "delete-item-no-admin"),
    ("DELETE", PUT, ADMIN_BAD, b"", 401, "unauthorized", "delete-item-wrong-admin"),
    ("DELETE", "/admin/items/bad!", ADMIN_OK, b"", 400, "bad_request", "delete-item-bad-chars"),
    ("DELETE", "/admin/items/eggs%0A", ADMIN_OK, b"", 400, "bad_request", "delete-item-newline"),
    ("DELETE", "/admin/items/milk", ADMIN_OK, b"", 404, "not_found", "delete-item-unknown"),
    ("DELETE", "/admin/users/ghost", NOBODY, b"", 401, "unauthorized", "delete-user-no-admin"),
    ("DELETE", "/admin/users/ghost", USER, b"", 401, "unauthorized", "delete-user-as-a-user"),
    ("DELETE", "/admin/users/a%20b", ADMIN_OK, b"", 400, "bad_request", "delete-user-bad-chars"),
    ("DELETE", "/admin/users/a%0A", ADMIN_OK, b"", 400, "bad_request", "delete-user-newline"),
    ("DELETE", "/admin/users/ghost", ADMIN_OK, b"", 404, "not_found", "delete-user-unknown"),
    ("POST", BULK, NOBODY, users(["ghost"]), 401, "unauthorized", "bulk-no-admin"),
    ("POST", BULK, ADMIN_BAD, users(["ghost"]), 401, "unauthorized", "bulk-wrong-admin"),
    ("POST", BULK, ADMIN_OK, b'{"users": [', 400, "bad_request", "bulk-malformed"),
    ("POST", BULK, ADMIN_OK, b"", 400, "bad_request", "bulk-empty-body"),
    ("POST", BULK, ADMIN_OK, b'["ghost"]', 400, "bad_request", "bulk-not-an-object"),
    ("POST", BULK, ADMIN_OK, b"{}", 400, "bad_request", "bulk-no-users"),
    ("POST", BULK, ADMIN_OK, b'{"users": "ghost"}', 400, "bad_request", "bulk-not-a-list"),
    ("POST", BULK, ADMIN_OK, b'{"users": null}', 400, "bad_request", "bulk-null"),
    ("POST", BULK, ADMIN_OK, users([7]), 400, "bad_request", "bulk-number"),
    ("POST", BULK, ADMIN_OK, users([None]), 400, "bad_request", "bulk-null-name"),
    ("POST", BULK, ADMIN_OK, users([["ghost"]]), 400, "bad_request", "bulk-nested-list"),
    ("POST", BULK, ADMIN_OK, users(["ghost", "a b"]), 400, "bad_request", "bulk-bad-chars"),
    ("POST", BULK, ADMIN_OK, users(["ghost", ""]), 400, "bad_request", "bulk-empty-name"),
    ("POST", BULK, ADMIN_OK, users(["g" * 65]), 400, "bad_request", "bulk-name-too-long"),
    ("POST", BULK, ADMIN_OK, users(["ghost\n"]), 400, "bad_request", "bulk-name-newline"),
    (
        "POST",
        BULK,
        ADMIN_OK,
        users([f"u{i}" for i in range(10_001)]),
        400,
        "bad_request",
        "bulk-over-10000",
    ),
    (
        "POST",
        BULK,
        ADMIN_OK,
        b'{"users": ["ghost"], "all": true}',
        400,
        "bad_request",
        "bulk-unknown-field",
    ),
    (
        "POST",
        BULK,
        ADMIN_OK,
        b'{"users": ["ghost"], "users": []}',
        400,
        "bad_request",
        "bulk-users-twice",
    ),
    (
        "POST",
        BULK,
        ADMIN_OK,
        users(["g" * 64] * 16_000),
        413,
        "too_large",
        "bulk-body-over-1mib",
    ),
    ("GET", BULK, ADMIN_OK, b"", 405, "method_not_allowed", "bulk-wrong-method"),
]


@pytest.fixture
async def prepared(
    store: tuple[httpx.AsyncClient, StoreService], store_snapshot: Callable[[], Snapshot]
) -> tuple[httpx.AsyncClient, dict[str, dict[str, str]], Callable[[], Snapshot]]:
    """An item on sale, a user with a session, an expired session, and the auth headers."""
    client, service = store
    await put_item(client, "eggs", stock=5, start_ms=T0_MS - 1000)
    [(user, token)] = await make_users(client, 1)
    await service.backend.create_session(Session(user, hash_token(EXPIRED_TOKEN), T0_MS - 1))
    auth = {
        USER: {"Cookie": f"session={token}"},
        NOBODY: {},
        FORGED: {"Cookie": "session=" + "A" * 43},
        EXPIRED: {"Cookie": f"session={EXPIRED_TOKEN}"},
        ADMIN_OK: ADMIN,
        ADMIN_BAD: {"Authorization": "Bearer not-the-token"},
    }
    return client, auth, store_snapshot


@pytest.mark.parametrize(
    ("method", "path", "who", "body", "status", "code"),
    [pytest.param(*case[:6], id=case[6]) for case in CASES],
)
async def test_bad_input_is_refused_and_changes_nothing(
    prepared: tuple[httpx.AsyncClient, dict[str, dict[str, str]], Callable[[], Snapshot]],
    method: str,
    path: str,
    who: str,
    body: bytes,
    status: int,
    code: str,
) -> None:
    """The status and error code are as documented, and everything stored is as it was."""
    client, auth, snapshot = prepared
    before = snapshot()
    headers = {**auth[who], "Content-Type": "application/json"}
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == code
    assert response.json()["message"]
    assert snapshot() == before


@pytest.mark.parametrize(
    ("method", "path", "who", "body"),
    [
        pytest.param("PATCH", PATCH, ADMIN_OK, b'{"stock": 4}', id="item"),
        pytest.param("POST", "/admin/users", ADMIN_OK, b'{"count": 1}', id="user-and-session"),
        pytest.param("POST", ORD, USER, order(), id="order"),
        pytest.param("POST", "/api/logout", USER, b"", id="revocation"),
        pytest.param("DELETE", PUT, ADMIN_OK, b"", id="item-removed"),
    ],
)
async def test_the_snapshot_sees_what_a_request_changes(
    prepared: tuple[httpx.AsyncClient, dict[str, dict[str, str]], Callable[[], Snapshot]],
    method: str,
    path: str,
    who: str,
    body: bytes,
) -> None:
    """The proof above is not blind: an accepted request changes the snapshot."""
    client, auth, snapshot = prepared
    before = snapshot()
    headers = {**auth[who], "Content-Type": "application/json"}
    response = await client.request(method, path, content=body, headers=headers)
    assert response.status_code < 300, response.text
    assert snapshot() != before
