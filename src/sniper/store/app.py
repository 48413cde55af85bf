"""The store's ASGI app, built by a factory whose lifespan opens and closes the backend.

``POST /api/orders`` is taken first by the hot path, which does its own admission check and
metrics (and, before that, by the order lane, which the app hands to the server in its lifespan
state: see :mod:`sniper.store.hotpath`); every other request passes metrics → admission control
→ Starlette (routing, the other endpoints, error pages). The hot path sits outside Starlette on
purpose: at an opening it carries nearly all the traffic, and most of it is refused in
microseconds.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from sniper.clock import Clock, skewed
from sniper.errors import MethodNotAllowed, NotFound, StoreError
from sniper.store.backends import Backend, backend_from_settings
from sniper.store.hotpath import ORDER_LANE, HotPath, OrderEndpoint, OrderLane
from sniper.store.http import INTERNAL, ORDER_PATH, answer_response, error_response
from sniper.store.metrics import StoreMetrics
from sniper.store.middleware import (
    Admission,
    AdmissionControl,
    DateMiddleware,
    HttpDate,
    MetricsMiddleware,
)
from sniper.store.routes import PROBES, routes
from sniper.store.service import StoreService
from sniper.store.settings import MAX_BODY_BYTES, StoreSettings, settings_for_worker

log = logging.getLogger(__name__)


class StoreApp:
    """The whole store as one ASGI app; ``state.service`` is its :class:`StoreService`."""

    def __init__(
        self,
        starlette: Starlette,
        service: StoreService,
        settings: StoreSettings,
        order_endpoint: OrderEndpoint,
    ) -> None:
        self.starlette = starlette
        self.state: State = starlette.state
        self.state.service = service
        metrics = service.metrics
        admission = Admission(settings.max_inflight)
        if not metrics.watch_in_flight(lambda: admission.inflight):
            admission.gauge = metrics.in_flight  # several processes: count through the gauge
        date = HttpDate(service.clock)
        admission_control = AdmissionControl(starlette, admission, MAX_BODY_BYTES, exempt=PROBES)
        rest = DateMiddleware(MetricsMiddleware(admission_control, metrics), date)
        self._app = HotPath(rest, order_endpoint, admission, metrics, date)
        self.state.order_lane = OrderLane(order_endpoint, admission, metrics, date)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    def lifespan(self) -> contextlib.AbstractAsyncContextManager[Any]:
        """Open the backend on entry and close it on exit (what the server's lifespan does)."""
        return self.starlette.router.lifespan_context(self.starlette)


def create_app(
    settings: StoreSettings,
    *,
    backend: Backend | None = None,
    clock: Clock | None = None,
) -> StoreApp:
    """Build the store app; the backend is opened at startup and closed at shutdown."""
    clock = clock or skewed(settings.clock_skew_ms)
    backend = backend or backend_from_settings(settings, clock)
    service = StoreService(backend, settings, clock, StoreMetrics())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, OrderLane]]:
        await backend.open()
        try:
            await service.start()
            await backend.start_background()
            yield {ORDER_LANE: app.state.order_lane}
        finally:
            await service.aclose()
            await backend.aclose()
            log.info("store closed")

    order_endpoint = OrderEndpoint(service)
    starlette = Starlette(
        # The router keeps the order route too: its 405 for other methods, and its template.
        routes=routes(Route(ORDER_PATH, order_endpoint, methods=["POST"])),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    starlette.router.redirect_slashes = False
    return StoreApp(starlette, service, settings, order_endpoint)


def worker_app() -> StoreApp:
    """The app of one ``--workers`` process, from the settings its parent passed down."""
    return create_app(settings_for_worker())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    error: StoreError
    if exc.status_code == 405:
        error = MethodNotAllowed("method not allowed here")
    elif exc.status_code == 404:
        error = NotFound("no such route")
    else:
        error = StoreError(str(exc.detail))
        error.status = exc.status_code
    return error_response(error)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return answer_response(INTERNAL)
