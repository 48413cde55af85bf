"""Prometheus metrics of the store, labelled by route template (never by raw path).

With ``--workers N`` the workers write to files under ``PROMETHEUS_MULTIPROC_DIR`` and
``/metrics`` on any worker adds all of them up.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class StoreMetrics:
    """The store's metric families in their own registry (one per app)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request",
            ["method", "route"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "http_requests_in_flight",
            "HTTP requests being answered",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.orders = Counter(
            "store_orders_total",
            "Order requests by result, and by where they were decided: the backend, or the "
            "local cache's fast path",
            ["result", "path"],
            registry=self.registry,
        )
        # Children bound once: ``labels()`` takes a lock and a dict lookup on every call.
        self._children: dict[tuple[str, str], Counter] = {}
        self._requests: dict[tuple[str, str, int], Counter] = {}
        self._timers: dict[tuple[str, str], Histogram] = {}

    def order(self, result: str, path: str) -> Counter:
        """The ``store_orders_total`` child for one result decided on one path."""
        child = self._children.get((result, path))
        if child is None:
            child = self._children[result, path] = self.orders.labels(result, path)
        return child

    def observe_request(self, method: str, route: str, status: int, elapsed: float) -> None:
        """Count and time one answered request."""
        key = (method, route, status)
        counter = self._requests.get(key)
        if counter is None:
            counter = self._requests[key] = self.requests.labels(method, route, str(status))
        counter.inc()
        timer = self._timers.get((method, route))
        if timer is None:
            timer = self._timers[method, route] = self.duration.labels(method, route)
        timer.observe(elapsed)

    def watch_in_flight(self, count: Callable[[], float]) -> bool:
        """Report in-flight requests by asking ``count`` at scrape time, which costs the
        requests nothing. Impossible with several processes (each only knows its own): then
        False, and the caller must ``inc``/``dec`` the gauge itself."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return False
        self.in_flight.set_function(count)
        return True

    def render(self) -> bytes:
        """The exposition text, summed over worker processes when there are several."""
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if path:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
