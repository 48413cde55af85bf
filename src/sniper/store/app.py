"""The store's ASGI app, built by a factory whose lifespan opens and closes the backend."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from sniper.clock import Clock, SkewedClock, SystemClock
from sniper.errors import MethodNotAllowed, NotFound, StoreError
from sniper.store.backends import Backend, backend_from_settings
from sniper.store.metrics import StoreMetrics
from sniper.store.middleware import AdmissionControl, MetricsMiddleware
from sniper.store.routes import ROUTES, error_response
from sniper.store.service import StoreService
from sniper.store.settings import StoreSettings, settings_for_worker

log = logging.getLogger(__name__)


def create_app(
    settings: StoreSettings,
    *,
    backend: Backend | None = None,
    clock: Clock | None = None,
) -> Starlette:
    """Build the store app; the backend is opened at startup and closed at shutdown."""
    clock = clock or SkewedClock(SystemClock(), settings.clock_skew_ms)
    backend = backend or backend_from_settings(settings, clock)
    metrics = StoreMetrics()
    service = StoreService(backend, settings, clock, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await backend.open()
        try:
            yield
        finally:
            await service.aclose()
            await backend.aclose()
            log.info("store closed")

    app = Starlette(
        routes=ROUTES,
        lifespan=lifespan,
        middleware=[
            Middleware(MetricsMiddleware, metrics=metrics),
            Middleware(AdmissionControl, max_inflight=settings.max_inflight),
        ],
        exception_handlers={HTTPException: _http_error, Exception: _internal_error},
    )
    app.router.redirect_slashes = False
    app.state.service = service
    return app


def worker_app() -> Starlette:
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
    return error_response(StoreError("internal error"))
