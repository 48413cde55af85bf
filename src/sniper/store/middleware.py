"""Plain ASGI middleware of the store: metrics outermost, then admission control.

Each middleware is a plain ASGI class (no BaseHTTPMiddleware): it costs one call per request.
The order hot path (:mod:`sniper.store.hotpath`) does the same accounting inline.
"""

from __future__ import annotations

import time
from email.utils import formatdate

from prometheus_client.metrics import Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sniper.clock import Clock
from sniper.errors import Unavailable
from sniper.store.http import render_error, send_json
from sniper.store.metrics import StoreMetrics

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"
#: What :class:`Admission` answers when it says no.
OVERLOADED = render_error(Unavailable("overloaded, try again"))


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: StoreMetrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            template = getattr(scope.get("route"), "path", None) or UNMATCHED
            self.metrics.observe_request(method, template, status, time.perf_counter() - start)


class HttpDate:
    """The ``Date`` header from the store's own clock (``--clock-skew-ms`` included), exact to
    the second. uvicorn's own header is refreshed about once a second at an arbitrary phase,
    which would mislead a client that reads the server's time from it."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._second = -1
        self._value = b""

    def header(self) -> tuple[bytes, bytes]:
        """``(b"date", value)`` for now."""
        now = self._clock.time()
        second = int(now)
        if second != self._second:
            self._second, self._value = second, formatdate(second, usegmt=True).encode()
        return b"date", self._value


class DateMiddleware:
    """Adds the store's ``Date`` header to every response."""

    def __init__(self, app: ASGIApp, date: HttpDate) -> None:
        self.app, self.date = app, date

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.date.header()]}
            await send(message)

        await self.app(scope, receive, send_with_date)


class Admission:
    """Requests in progress, and the limit past which new ones are refused at once.

    Queueing without bound only turns overload into timeouts for everyone; a quick 503 with
    ``Retry-After`` lets clients back off while the admitted requests finish fast.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inflight = 0
        #: Set when in-flight requests must be counted through a gauge (several processes).
        self.gauge: Gauge | None = None

    @property
    def full(self) -> bool:
        """Whether a new request would be refused now."""
        return self.inflight >= self.limit

    def enter(self) -> bool:
        """Admit one more request, or say no."""
        if self.full:
            return False
        self.inflight += 1
        if self.gauge is not None:
            self.gauge.inc()
        return True

    def leave(self) -> None:
        """One admitted request is done."""
        self.inflight -= 1
        if self.gauge is not None:
            self.gauge.dec()


class AdmissionControl:
    """Answers ``503 unavailable`` when :class:`Admission` says no.

    A request counts only once its body is in (up to ``body_limit`` bytes; past that the app
    refuses it anyway): a client that sends its body slowly, or never, holds no slot. The
    ``exempt`` paths (health probes: a busy replica is not a dead one) are never refused nor
    counted.
    """

    def __init__(
        self,
        app: ASGIApp,
        admission: Admission,
        body_limit: int,
        exempt: frozenset[str] = frozenset(),
    ) -> None:
        self.app, self.admission, self.body_limit = app, admission, body_limit
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        received = await _receive_body(receive, self.body_limit)
        if not self.admission.enter():
            await send_json(send, *OVERLOADED)
            return

        async def replay() -> Message:
            return received.pop(0) if received else await receive()

        try:
            await self.app(scope, replay, send)
        finally:
            self.admission.leave()


async def _receive_body(receive: Receive, limit: int) -> list[Message]:
    """The request's messages up to the end of its body, a disconnect, or ``limit`` bytes."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body") or size > limit:
            return messages
