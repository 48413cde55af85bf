"""``POST /api/orders`` as a plain ASGI app: the hot path of an opening.

At an opening nearly every request is an order, and most of them are refused (sold out, not
started). Framework layers (request objects, exception middleware, routing) would cost more
than the refusal itself, so this endpoint reads the cookie and body straight from the ASGI
messages and answers with two ``send`` calls. :class:`HotPath` hands it those requests before
Starlette; everything else goes through Starlette as usual.
"""

from __future__ import annotations

import functools
import logging

import orjson
from starlette.requests import cookie_parser
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sniper.errors import StoreError, TooLarge
from sniper.store.schemas import OrderBody, parse_body
from sniper.store.service import StoreService
from sniper.store.settings import MAX_BODY_BYTES

_JSON = (b"content-type", b"application/json")
log = logging.getLogger(__name__)


class OrderEndpoint:
    """The order endpoint of one store."""

    def __init__(self, service: StoreService) -> None:
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extra: list[tuple[bytes, bytes]] = []
        try:
            token, declared = _cookie_and_length(scope["headers"])
            if declared > MAX_BODY_BYTES:
                raise TooLarge(f"request body over {MAX_BODY_BYTES} bytes")
            body = parse_body(OrderBody, await _read_body(receive))
            status, order = await self.service.place_order(token, body)
            payload = orjson.dumps(order.to_json())
        except StoreError as exc:
            status, payload = exc.status, _error_payload(exc.code, exc.message)
            if exc.retry_after is not None:
                extra.append((b"retry-after", str(max(1, int(exc.retry_after))).encode()))
        except Exception:  # this path bypasses Starlette's error middleware: answer 500 here
            log.exception("unhandled error in POST /api/orders")
            status, payload = 500, _error_payload("internal", "internal error")
        await send({
            "type": "http.response.start",
            "status": status,
            "headers": [_JSON, (b"content-length", str(len(payload)).encode()), *extra],
        })
        await send({"type": "http.response.body", "body": payload})


@functools.lru_cache(maxsize=256)
def _error_payload(code: str, message: str) -> bytes:
    """Refusals repeat by the thousand at an opening: encode each kind once."""
    return orjson.dumps({"error": code, "message": message})


def _cookie_and_length(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, int]:
    token: str | None = None
    length = 0
    for name, value in headers:
        if name == b"cookie":
            text = value.decode("latin-1")
            if text.startswith("session=") and not any(c in text for c in ';"'):  # the usual case
                token = text[8:]
            else:
                token = cookie_parser(text).get("session", token)
        elif name == b"content-length":
            length = int(value) if value.isdigit() else MAX_BODY_BYTES + 1
    return token, length


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise TooLarge("request ended before its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLarge(f"request body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class HotPath:
    """Sends ``POST /api/orders`` straight to its endpoint; everything else to ``app``."""

    def __init__(self, app: ASGIApp, route: Route) -> None:
        self.app, self.route = app, route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/api/orders" \
                and scope["method"] == "POST":
            scope["route"] = self.route  # the metrics label, as the router would set it
            await self.route.app(scope, receive, send)
            return
        await self.app(scope, receive, send)
