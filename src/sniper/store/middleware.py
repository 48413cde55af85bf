"""Plain ASGI middleware of the store: metrics outermost, then admission control."""
# Each middleware is a plain ASGI class (no BaseHTTPMiddleware): it costs one call per request.

from __future__ import annotations

import time
from typing import Any

import orjson
from prometheus_client.metrics import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sniper.store.metrics import StoreMetrics

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"


class MetricsMiddleware:
    """Counts and times every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp, metrics: StoreMetrics) -> None:
        self.app, self.metrics = app, metrics
        self._counters: dict[tuple[str, str, int], Counter] = {}
        self._timers: dict[tuple[str, str], Histogram] = {}

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
            self._observe(scope, status, time.perf_counter() - start)

    def _observe(self, scope: Scope, status: int, elapsed: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        route = scope.get("route")
        template = getattr(route, "path", None) or UNMATCHED
        key = (method, template, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.metrics.requests.labels(
                method, template, str(status)
            )
        counter.inc()
        timer = self._timers.get(key[:2])
        if timer is None:
            timer = self._timers[key[:2]] = self.metrics.duration.labels(method, template)
        timer.observe(elapsed)


class AdmissionControl:
    """Answers ``503 unavailable`` at once when too many requests are already in progress.

    Queueing without bound only turns overload into timeouts for everyone; a quick 503 with
    ``Retry-After`` lets clients back off while the admitted requests finish fast.
    """

    def __init__(self, app: ASGIApp, max_inflight: int) -> None:
        self.app, self.max_inflight = app, max_inflight
        self.inflight = 0
        #: Set when in-flight requests must be counted through a gauge (several processes).
        self.gauge: Gauge | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.inflight >= self.max_inflight:
            await _send_json(send, 503, {"error": "unavailable", "message": "overloaded"},
                             [(b"retry-after", b"1")])
            return
        self.inflight += 1
        if self.gauge is not None:
            self.gauge.inc()
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1
            if self.gauge is not None:
                self.gauge.dec()


async def _send_json(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]]
) -> None:
    payload = orjson.dumps(body)
    await send({
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()), *headers],
    })
    await send({"type": "http.response.body", "body": payload})
