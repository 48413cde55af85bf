"""``POST /api/orders``, the hot path of an opening, as plain ASGI.

At an opening nearly every request is an order, and most of them are refused (sold out, not
started). Framework layers (request objects, routing, exception and metrics middleware) would
cost more than the refusal itself, so :class:`HotPath` takes these requests first, does the
admission check and the metrics inline, and lets :class:`OrderEndpoint` read the cookie and body
straight from the ASGI messages. Everything else goes on to the rest of the app.
"""

from __future__ import annotations

import logging
import time

import orjson
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from sniper.errors import ClientGone, StoreError
from sniper.store.http import INTERNAL, ORDER_PATH, Answer, read_body, render_error, send_json
from sniper.store.metrics import StoreMetrics
from sniper.store.middleware import OVERLOADED, Admission, HttpDate
from sniper.store.schemas import OrderBody, parse_body
from sniper.store.service import StoreService

log = logging.getLogger(__name__)


class OrderEndpoint:
    """The order endpoint of one store."""

    def __init__(self, service: StoreService) -> None:
        self.service = service

    async def answer(
        self, scope: Scope, receive: Receive, admission: Admission | None = None
    ) -> Answer:
        """Status, JSON body and extra headers for one order request; with ``admission``, the
        request counts against it once its body is in (a slow body holds no slot)."""
        try:
            token, declared = _cookie_and_length(scope["headers"])
            body = parse_body(OrderBody, await read_body(receive, declared))
            if admission is None:
                order, replayed = await self.service.place_order(token, body)
            elif admission.enter():
                try:
                    order, replayed = await self.service.place_order(token, body)
                finally:
                    admission.leave()
            else:
                return OVERLOADED
            return 200 if replayed else 201, orjson.dumps(order.to_json()), ()
        except StoreError as exc:
            return render_error(exc)
        except Exception:  # this path bypasses Starlette's error middleware: answer 500 here
            log.exception("unhandled error in POST %s", ORDER_PATH)
            return INTERNAL

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
        if scope["type"] != "http" or scope["path"] != ORDER_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        try:
            status, payload, extra = await self.endpoint.answer(scope, receive, self.admission)
            if status != ClientGone.status:  # nobody to answer
                await send_json(send, status, payload, [*extra, self.date.header()])
        finally:
            self.metrics.observe_request("POST", ORDER_PATH, status, time.perf_counter() - start)


def _cookie_and_length(headers: list[tuple[bytes, bytes]]) -> tuple[str | None, bytes | None]:
    token: str | None = None
    length = None
    for name, value in headers:
        if name == b"cookie":
            text = value.decode("latin-1")
            if text.startswith("session=") and not any(c in text for c in ';"'):  # the usual case
                token = text[8:]
            else:
                token = cookie_parser(text).get("session", token)
        elif name == b"content-length":
            length = value
    return token, length
