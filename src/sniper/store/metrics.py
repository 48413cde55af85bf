"""Prometheus metrics of the store, labelled by route template (never by raw path).

With ``--workers N`` the workers write to files under ``PROMETHEUS_MULTIPROC_DIR`` and
``/metrics`` on any worker adds all of them up. With one process, requests and orders are
counted in plain numbers and handed to the registry when ``/metrics`` is read: a Prometheus
child's ``inc`` takes a lock, and at an opening four of them cost a refusal more than deciding it.
"""

from __future__ import annotations

import os
from bisect import bisect_left
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
        #: Counts not yet in the registry (one process only; see the module's docstring).
        self._deferred = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self._orders_due: dict[tuple[str, str], int] = {}
        #: By (method, route, status): [count, sum of seconds, count per bucket (+Inf last)].
        self._requests_due: dict[tuple[str, str, int], list[float]] = {}

    def count_order(self, result: str, path: str) -> None:
        """Count one order request's result, decided on one path (``store_orders_total``)."""
        if self._deferred:
            due = self._orders_due
            count = due.get((result, path))
            if count is None:  # the series begins now (its _created), though counted later
                self._order_child(result, path)
                count = 0
            due[result, path] = count + 1
        else:
            self._order_child(result, path).inc()

    def observe_request(self, method: str, route: str, status: int, elapsed: float) -> None:
        """Count and time one answered request."""
        if self._deferred:
            due = self._requests_due.get((method, route, status))
            if due is None:
                self._request_child(method, route, status)  # the series begin now (_created)
                self._timer(method, route)
                due = self._requests_due[method, route, status] = [0.0] * (len(_BUCKETS) + 3)
            due[0] += 1
            due[1] += elapsed
            due[2 + bisect_left(_BUCKETS, elapsed)] += 1  # Prometheus buckets count <= bound
            return
        self._request_child(method, route, status).inc()
        self._timer(method, route).observe(elapsed)

    def flush(self) -> None:
        """Hand the counts kept in plain numbers to the registry."""
        for (result, path), count in self._orders_due.items():
            self._order_child(result, path).inc(count)
        self._orders_due.clear()
        for (method, route, status), due in self._requests_due.items():
            self._request_child(method, route, status).inc(due[0])
            timer = self._timer(method, route)
            # Histogram has no public way to add many observations at once; these are the
            # values its observe() adds to, one per bucket and the sum.
            timer._sum.inc(due[1])
            for bucket, seen in zip(timer._buckets, due[2:], strict=True):
                if seen:
                    bucket.inc(seen)
        self._requests_due.clear()

    def _order_child(self, result: str, path: str) -> Counter:
        child = self._children.get((result, path))
        if child is None:
            child = self._children[result, path] = self.orders.labels(result, path)
        return child

    def _request_child(self, method: str, route: str, status: int) -> Counter:
        counter = self._requests.get((method, route, status))
        if counter is None:
            counter = self._requests[method, route, status] = self.requests.labels(
                method, route, str(status)
            )
        return counter

    def _timer(self, method: str, route: str) -> Histogram:
        timer = self._timers.get((method, route))
        if timer is None:
            timer = self._timers[method, route] = self.duration.labels(method, route)
        return timer

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
        self.flush()
        path = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        if path:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
