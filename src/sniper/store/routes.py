"""HTTP endpoints of the store: parse, call the service, answer JSON.

Every StoreError becomes its answer through :func:`sniper.store.http.render_error`; nothing a
client sends can produce a 5xx. The endpoints ask the service alone (never its backend or its
sessions). ``POST /api/orders`` is not here: :mod:`sniper.store.hotpath` answers it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sniper.errors import BadRequest, StoreError
from sniper.store.http import JSON, ORDER_PATH, error_response, read_body
from sniper.store.schemas import (
    MAX_USERS_DELETE_BYTES,
    ItemBody,
    ItemPatchBody,
    LoginBody,
    UsersBody,
    UsersDeleteBody,
    parse_body,
)
from sniper.store.service import StoreService
from sniper.store.settings import MAX_BODY_BYTES
from sniper.validation import is_identifier

Endpoint = Callable[[Request], Awaitable[Response]]
#: Liveness and readiness: answered whatever the load (admission control lets them through).
PROBES = frozenset({"/healthz", "/readyz"})


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response encoded with orjson."""
    return Response(orjson.dumps(data), status, headers, media_type=JSON)


def answers_errors(endpoint: Endpoint) -> Endpoint:
    """Turn a StoreError raised by an endpoint into its JSON answer."""

    @functools.wraps(endpoint)
    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except StoreError as exc:
            return error_response(exc)

    return wrapped


async def _body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    declared = request.headers.get("content-length")
    return await read_body(
        request.receive, None if declared is None else declared.encode("latin-1"), limit
    )


def _service(request: Request) -> StoreService:
    service: StoreService = request.app.state.service
    return service


def _path_id(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    if not is_identifier(value):
        raise BadRequest(f"{name}: 1-64 letters, digits, '-' or '_'")
    return value


def _session(request: Request) -> str | None:
    return request.cookies.get("session")


def _admin(request: Request) -> StoreService:
    service = _service(request)
    service.check_admin(request.headers.get("authorization"))
    return service


async def get_time(request: Request) -> Response:
    """``GET /api/time``: the store's clock."""
    return json_response({"now_ms": _service(request).now_ms()})


@answers_errors
async def get_item(request: Request) -> Response:
    """``GET /api/items/{sku_id}``."""
    service = _service(request)
    item = await service.get_item(_path_id(request, "sku_id"))
    return json_response(item.to_json(service.now_ms()))


@answers_errors
async def login(request: Request) -> Response:
    """``POST /api/login``: sets the ``session`` cookie."""
    body = parse_body(LoginBody, await _body(request))
    service = _service(request)
    client = request.client.host if request.client is not None else ""
    token = await service.login(body.user, body.password, client)
    response = json_response({"user": body.user})
    response.set_cookie(
        "session", token, max_age=service.session_ttl_s, httponly=True, samesite="lax"
    )
    return response


@answers_errors
async def get_order(request: Request) -> Response:
    """``GET /api/orders/{order_id}``: the owner's order."""
    order_id = request.path_params["order_id"]
    service = _service(request)
    await service.user_for(_session(request))  # 401 comes before 400
    if not is_identifier(order_id):
        raise BadRequest("order_id: 1-64 letters, digits, '-' or '_'")
    order = await service.get_order(_session(request), order_id)
    return json_response(order.to_json())


@answers_errors
async def my_orders(request: Request) -> Response:
    """``GET /api/orders?sku_id=``: the caller's own orders (of one item)."""
    sku_id = request.query_params.get("sku_id")
    if sku_id is not None and not is_identifier(sku_id):
        raise BadRequest("sku_id: 1-64 letters, digits, '-' or '_'")
    orders = await _service(request).my_orders(_session(request), sku_id)
    return json_response({"orders": [o.to_json() for o in orders]})


@answers_errors
async def put_item(request: Request) -> Response:
    """``PUT /admin/items/{sku_id}``: create or replace."""
    service = _admin(request)
    sku_id = _path_id(request, "sku_id")
    body = parse_body(ItemBody, await _body(request))
    item = await service.put_item(sku_id, body)
    return json_response(item.to_json(service.now_ms()))


@answers_errors
async def patch_item(request: Request) -> Response:
    """``PATCH /admin/items/{sku_id}``: change the named fields."""
    service = _admin(request)
    sku_id = _path_id(request, "sku_id")
    body = parse_body(ItemPatchBody, await _body(request))
    item = await service.patch_item(sku_id, body)
    return json_response(item.to_json(service.now_ms()))


@answers_errors
async def delete_item(request: Request) -> Response:
    """``DELETE /admin/items/{sku_id}``: the item goes (its orders stay)."""
    service = _admin(request)
    item = await service.delete_item(_path_id(request, "sku_id"))
    return json_response(item.to_json(service.now_ms()))


@answers_errors
async def create_users(request: Request) -> Response:
    """``POST /admin/users``: users with fresh sessions."""
    service = _admin(request)
    body = parse_body(UsersBody, await _body(request))
    users = await service.create_users(body)
    return json_response({"users": [{"user": u, "session": s} for u, s in users]}, 201)


@answers_errors
async def list_orders(request: Request) -> Response:
    """``GET /admin/orders?sku_id=``."""
    service = _admin(request)
    sku_id = request.query_params.get("sku_id")
    if sku_id is not None and not is_identifier(sku_id):
        raise BadRequest("sku_id: 1-64 letters, digits, '-' or '_'")
    orders = await service.list_orders(sku_id)
    return json_response({"orders": [o.to_json() for o in orders]})


async def metrics(request: Request) -> Response:
    """``GET /metrics``: Prometheus text."""
    service = _service(request)
    return Response(service.metrics.render(), media_type=service.metrics.content_type)


async def healthz(request: Request) -> Response:
    """``GET /healthz``: liveness, 200 while the process serves (whatever the backend does)."""
    return json_response({"status": "ok"})


async def readyz(request: Request) -> Response:
    """``GET /readyz``: readiness, 200 when the backend can commit orders, else 503."""
    try:
        await _service(request).check_ready()
    except StoreError as exc:
        return error_response(exc)
    return json_response({"status": "ready"})


@answers_errors
async def logout(request: Request) -> Response:
    """``POST /api/logout``: the session is revoked, on every worker and replica."""
    user = await _service(request).logout(_session(request))
    response = json_response({"user": user})
    response.delete_cookie("session", httponly=True, samesite="lax")
    return response


@answers_errors
async def revoke_sessions(request: Request) -> Response:
    """``DELETE /admin/users/{user}/sessions``: every session of the user is revoked."""
    service = _admin(request)
    user = _path_id(request, "user")
    return json_response({"user": user, "revoked": await service.revoke_sessions(user)})


@answers_errors
async def delete_user(request: Request) -> Response:
    """``DELETE /admin/users/{user}``: the user goes, every session of it revoked."""
    service = _admin(request)
    user = _path_id(request, "user")
    return json_response({"user": user, "revoked": await service.delete_user(user)})


@answers_errors
async def delete_users(request: Request) -> Response:
    """``POST /admin/users/delete``: many users go at once (the admin is checked before the
    body, which may be larger than others, is read)."""
    service = _admin(request)
    body = parse_body(UsersDeleteBody, await _body(request, MAX_USERS_DELETE_BYTES))
    removed, revoked = await service.delete_users(body)
    return json_response({"removed": removed, "revoked": revoked})


def routes(order_route: Route) -> list[Route]:
    """Every route of the API; the order route (the hot path of an opening) first."""
    return [order_route, *_ROUTES, *_SESSION_ROUTES]


_SESSION_ROUTES = [
    Route("/api/logout", logout, methods=["POST"]),
    Route("/admin/users/{user}/sessions", revoke_sessions, methods=["DELETE"]),
    Route("/admin/users/delete", delete_users, methods=["POST"]),
    Route("/admin/users/{user}", delete_user, methods=["DELETE"]),
]


_ROUTES = [
    Route(ORDER_PATH, my_orders, methods=["GET"]),
    Route("/api/time", get_time, methods=["GET"]),
    Route("/api/items/{sku_id}", get_item, methods=["GET"]),
    Route("/api/login", login, methods=["POST"]),
    Route("/api/orders/{order_id}", get_order, methods=["GET"]),
    Route("/admin/items/{sku_id}", put_item, methods=["PUT"]),
    Route("/admin/items/{sku_id}", patch_item, methods=["PATCH"]),
    Route("/admin/items/{sku_id}", delete_item, methods=["DELETE"]),
    Route("/admin/users", create_users, methods=["POST"]),
    Route("/admin/orders", list_orders, methods=["GET"]),
    Route("/metrics", metrics, methods=["GET"]),
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
