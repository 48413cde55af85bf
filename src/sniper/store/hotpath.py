"""``POST /api/orders``, the hot path of an opening, as plain ASGI.

At an opening nearly every request is an order, and most of them are refused (sold out, not
started). Framework layers (request objects, routing, exception and metrics middleware) would
cost more than the refusal itself, so :class:`HotPath` takes these requests first, does the
admission check and the metrics inline, and lets :class:`OrderEndpoint` read the cookie and body
straight from the ASGI messages. Everything else goes on to the rest of the app.
"""

from __future__ import annotations

import functools
import logging
import time

import orjson
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from sniper.errors import ClientGone, OutcomeUnknown, StoreError, TooLarge
from sniper.store.metrics import StoreMetrics
from sniper.store.middleware import OVERLOADED, Admission, HttpDate, send_json
from sniper.store.schemas import OrderBody, parse_body
from sniper.store.service import StoreService
from sniper.store.settings import MAX_BODY_BYTES

log = logging.getLogger(__name__)
PATH = "/api/orders"
Headers = list[tuple[bytes, bytes]]


class OrderEndpoint:
    """The order endpoint of one store."""

    def __init__(self, service: StoreService) -> None:
        self.service = service

    async def answer(
        self, scope: Scope, receive: Receive, admission: Admission | None = None
    ) -> tuple[int, bytes, Headers]:
        """Status, JSON body and extra headers for one order request; with ``admission``, the
        request counts against it once its body is in (a slow body holds no slot)."""
        try:
            token, declared = _cookie_and_length(scope["headers"])
            if declared > MAX_BODY_BYTES:
                raise TooLarge(f"request body over {MAX_BODY_BYTES} bytes")
            body = parse_body(OrderBody, await _read_body(receive))
            if admission is None:
                order, replayed = await self.service.place_order(token, body)
            elif admission.enter():
                try:
                    order, replayed = await self.service.place_order(token, body)
                finally:
                    admission.leave()
            else:
                return 503, OVERLOADED, [(b"retry-after", b"1")]
            return 200 if replayed else 201, orjson.dumps(order.to_json()), []
        except StoreError as exc:
            extra = []
            if exc.retry_after is not None:
                extra.append((b"retry-after", str(max(1, int(exc.retry_after))).encode()))
            if isinstance(exc, OutcomeUnknown):  # carries its own request id: never cached
                return exc.status, orjson.dumps(exc.payload()), extra
            return exc.status, _error_payload(exc.code, exc.message), extra
        except Exception:  # this path bypasses Starlette's error middleware: answer 500 here
            log.exception("unhandled error in POST %s", PATH)
            return 500, _error_payload("internal", "internal error"), []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, payload, extra = await self.answer(scope, receive)
        await send_json(send, status, payload, extra)


class HotPath:
    """Answers ``POST /api/orders`` itself (admission, metrics, endpoint); the rest goes on."""

    def __init__(
        self,
        app: ASGIApp,
        endpoint: OrderEndpoint,
        admission: Admission,
        metrics: StoreMetrics,
        date: HttpDate,
    ) -> None:
        self.app, self.endpoint = app, endpoint
        self.admission, self.metrics, self.date = admission, metrics, date

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        try:
            status, payload, extra = await self.endpoint.answer(scope, receive, self.admission)
            if status != ClientGone.status:  # nobody to answer
                await send_json(send, status, payload, [*extra, self.date.header()])
        finally:
            self.metrics.observe_request("POST", PATH, status, time.perf_counter() - start)


@functools.lru_cache(maxsize=256)
def _error_payload(code: str, message: str) -> bytes:
    """Refusals repeat by the thousand at an opening: encode each kind once."""
    return orjson.dumps({"error": code, "message": message})


def _cookie_and_length(headers: Headers) -> tuple[str | None, int]:
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
            raise ClientGone("the client went away before sending its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise TooLarge(f"request body over {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
