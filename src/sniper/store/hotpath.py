"""``POST /api/orders``, the hot path of an opening, as plain ASGI, and before ASGI.

At an opening nearly every request is an order, and most of them are refused (sold out, not
started). Framework layers (request objects, routing, exception and metrics middleware) would
cost more than the refusal itself, so :class:`HotPath` takes these requests first, does the
admission check and the metrics inline, and lets :class:`OrderEndpoint` read the cookie and body
straight from the ASGI messages. Everything else goes on to the rest of the app.

Even plain ASGI costs a task, a scope and two messages per request, about three times what the
store spends deciding a refusal it already knows. :class:`OrderLane` gives the answer to such a
request whole, for the HTTP protocol (:mod:`sniper.store.protocol`) to write before any of that;
what memory alone cannot answer goes to :class:`HotPath` as before. The app hands its lane to the
server in its lifespan state, under :data:`ORDER_LANE`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import NamedTuple

import orjson
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

from sniper.errors import ClientGone, StoreError
from sniper.store.http import (
    INTERNAL,
    ORDER_PATH,
    Answer,
    Headers,
    declared_within,
    read_body,
    render_error,
    send_json,
)
from sniper.store.metrics import StoreMetrics
from sniper.store.middleware import OVERLOADED, Admission, HttpDate
from sniper.store.models import Order
from sniper.store.rules import Outcome
from sniper.store.schemas import OrderBody, parse_body
from sniper.store.service import REFUSED, StoreService, refusal
from sniper.store.settings import MAX_BODY_BYTES

log = logging.getLogger(__name__)

#: The lifespan state's key for the app's :class:`OrderLane`.
ORDER_LANE = "sniper.order_lane"


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
        except StoreError as exc:
            return render_error(exc)
        except Exception:
            return _internal()
        return await self.place(token, body, admission)

    async def place(
        self, token: str | None, body: OrderBody, admission: Admission | None
    ) -> Answer:
        """:meth:`answer` once the body is in and valid."""
        try:
            if admission is None:
                order, replayed = await self.service.place_order(token, body)
            elif admission.enter():
                try:
                    order, replayed = await self.service.place_order(token, body)
                finally:
                    admission.leave()
            else:
                return OVERLOADED
            return _placed(order, replayed)
        except StoreError as exc:
            return render_error(exc)
        except Exception:
            return _internal()

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


class Claim(NamedTuple):
    """An order request the lane took: its session token, and when its headers were in."""

    token: str | None
    start: float


class OrderLane:
    """``POST /api/orders`` for the HTTP protocol, with the answers :class:`HotPath` gives: the
    protocol hands over a claimed request whose body is in and writes the answer itself.

    :meth:`known` answers at once what memory alone decides (the session cached; the item known
    sold out, not started or missing): the flood at an opening, with no task at all. The rest
    goes to :meth:`place`, which the protocol runs as its own task.
    """

    def __init__(
        self,
        endpoint: OrderEndpoint,
        admission: Admission,
        metrics: StoreMetrics,
        date: HttpDate,
    ) -> None:
        self.endpoint, self.service = endpoint, endpoint.service
        self.admission, self.metrics, self.date = admission, metrics, date

    def claims(self, headers: Iterable[tuple[bytes, bytes]]) -> Claim | None:
        """The lane's claim on an order request (the protocol has checked its method and path)
        whose headers are in, so that it may wait for the body and answer: one whose declared
        body is within the limit (for others the app answers the limit)."""
        token, declared = _cookie_and_length(headers)
        if declared is None or not declared_within(declared, MAX_BODY_BYTES):
            return None
        return Claim(token, time.perf_counter())

    def known(self, claim: Claim, raw: bytes) -> Answer | OrderBody:
        """The whole answer (its ``Date`` header included) when it is known now: a bad body,
        or what memory decides. Else the valid order, for :meth:`place`, nothing changed."""
        extra: Headers = ()
        try:
            body = parse_body(OrderBody, raw)
            if self.admission.full:
                return body  # for place() to answer 503, as the app would have
            placed = self.service.answer_now(claim.token, body)
            if placed is None:
                return body
            if isinstance(placed, Outcome):
                status, payload, extra = _REFUSED_ANSWERS[placed]
            else:
                status, payload, extra = _placed(*placed)
        except StoreError as exc:
            status, payload, extra = render_error(exc)
        except Exception:
            status, payload, extra = _internal()
        return self._done(claim, status, payload, extra)

    async def place(self, claim: Claim, body: OrderBody) -> Answer:
        """The whole answer to an order memory cannot decide, as :class:`HotPath` gives it."""
        status, payload, extra = await self.endpoint.place(claim.token, body, self.admission)
        return self._done(claim, status, payload, extra)

    def gone(self, claim: Claim) -> None:
        """The client left (or was cut off) before the body was in: counted as the app counts
        it, with nothing to answer."""
        self._count(claim, ClientGone.status)

    def _done(self, claim: Claim, status: int, payload: bytes, extra: Headers) -> Answer:
        self._count(claim, status)
        return status, payload, (*extra, self.date.header())

    def _count(self, claim: Claim, status: int) -> None:
        elapsed = time.perf_counter() - claim.start
        self.metrics.observe_request("POST", ORDER_PATH, status, elapsed)


#: The answers of the refusals memory decides, rendered once.
_REFUSED_ANSWERS = {outcome: render_error(refusal(outcome)) for outcome in REFUSED}


def _placed(order: Order, replayed: bool) -> Answer:
    """The answer to a placed order: 201, or 200 when it was placed before (a replay)."""
    return 200 if replayed else 201, orjson.dumps(order.to_json()), ()


def _internal() -> Answer:
    """The answer to an unforeseen failure, its traceback logged (this path bypasses Starlette's
    error middleware, so it answers 500 itself)."""
    log.exception("unhandled error in POST %s", ORDER_PATH)
    return INTERNAL


def _cookie_and_length(headers: Iterable[tuple[bytes, bytes]]) -> tuple[str | None, bytes | None]:
    token: str | None = None
    length = None
    for name, value in headers:
        if name == b"cookie":
            text = value.decode("latin-1")
            if text.startswith("session=") and ";" not in text and '"' not in text:  # the usual
                token = text[8:]
            else:
                token = cookie_parser(text).get("session", token)
        elif name == b"content-length":
            length = value
    return token, length
