"""Running the store: uvicorn (uvloop + httptools), one or several worker processes."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import resource
import secrets
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from pydantic import SecretStr
from uvicorn.supervisors import Multiprocess

from sniper.clock import Clock, skewed
from sniper.errors import StartError, StoreError
from sniper.fdlimit import raise_fd_limit
from sniper.store.backends import Backend, backend_from_settings
from sniper.store.catalog import load_catalog_file
from sniper.store.models import Item
from sniper.store.protocol import ConnectionLimits, StoreProtocol
from sniper.store.settings import WORKER_ENV, StoreSettings
from sniper.store.urls import redact_url


def serve(settings: StoreSettings, say: Callable[[str], None] = print) -> None:
    """Run the store until SIGINT/SIGTERM; returns after a graceful shutdown.

    The port is bound first, then the storage opened (demo, catalog), then the bound socket
    served: a store that cannot start raises :class:`StartError` having written nothing."""
    raise_fd_limit()
    generated = settings.demo and settings.admin_token_value() is None
    if generated:
        settings = settings.model_copy(update={"admin_token": SecretStr(secrets.token_urlsafe(24))})
    # Every mistake in the settings (store URL, catalog file) is found before the port is taken.
    items = load_catalog_file(Path(settings.catalog)) if settings.catalog is not None else None
    clock = skewed(settings.clock_skew_ms)
    backend = backend_from_settings(settings, clock)
    sock = listen(settings.host, settings.port)
    try:
        port = sock.getsockname()[1]
        asyncio.run(_prepare(backend, clock, settings, items, say, port=port, show_token=generated))
        say(f"store {redact_url(settings.store)} listening on http://{settings.host}:{port}")
        _run(settings, sock)
    finally:
        sock.close()


def _run(settings: StoreSettings, sock: socket.socket) -> None:
    """uvicorn on the bound socket, in one process or ``--workers`` processes."""
    with _metrics_dir(settings.workers):
        os.environ[WORKER_ENV] = settings.to_worker_env()
        # uvicorn's httptools protocol, with deadlines, a header cap and a connection bound; a
        # partial of a module-level class, so that --workers can pickle it to its children.
        fd_limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]  # workers inherit it
        limits = ConnectionLimits.from_settings(settings, fd_limit)
        protocol = functools.partial(StoreProtocol, limits=limits)
        try:
            config = uvicorn.Config(
                "sniper.store.app:worker_app",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=settings.workers,
                loop="uvloop",
                http=protocol,  # type: ignore[arg-type]  # a class's partial, called alike
                ws="none",
                log_level=settings.log_level,
                access_log=False,
                date_header=False,  # the store sends its own, from its own (skewed) clock
                backlog=4096,
                timeout_graceful_shutdown=10,
                # X-Forwarded-For names the client (the login limit's key) only when sent by a
                # proxy the operator trusts: uvicorn would trust 127.0.0.1, the default bind.
                proxy_headers=settings.forwarded_allow_ips is not None,
                forwarded_allow_ips=settings.forwarded_allow_ips,
            )
            if settings.workers > 1:
                Multiprocess(config, sockets=[sock]).run()
            else:
                _GracefulServer(config).run(sockets=[sock])
        finally:
            os.environ.pop(WORKER_ENV, None)


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (inherited by ``--workers`` processes; uvicorn sets
    its backlog when it serves it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        sock = socket.create_server((host, port), family=family)
    except OSError as exc:
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        raise StartError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


async def _prepare(
    backend: Backend,
    clock: Clock,
    settings: StoreSettings,
    items: list[Item] | None,
    say: Callable[[str], None],
    *,
    port: int,
    show_token: bool,
) -> None:
    """Open the storage (the one check that it works before serving), then seed the demo and
    load the catalog."""
    try:
        await backend.open()
        if settings.demo:
            # Imported here: the demo module drives the sniper too, which a store never needs.
            from sniper.demo import say_demo, seed_demo

            info = await seed_demo(backend, clock, settings)
            say_demo(
                info,
                settings,
                port,
                say,
                show_token=show_token,
                now=datetime.fromtimestamp(clock.time(), tz=UTC),
            )
        if items is not None:
            created = await backend.load_catalog(items)
            say(
                f"catalog {settings.catalog}: {created} item(s) created, "
                f"{len(items) - created} already there"
            )
    except StoreError as exc:
        raise StartError(f"store {redact_url(settings.store)}: {exc.message}") from None
    finally:
        await backend.aclose()


class _GracefulServer(uvicorn.Server):
    """uvicorn, except that a graceful stop on SIGTERM/SIGINT ends the process with exit 0.

    uvicorn re-raises the stop signal once it has shut down, so that the process dies of it
    (exit 143). For the store a drained, cleanly closed shutdown is a success.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's signal capture, minus the re-raise at the end."""
        with super().capture_signals():
            yield
            self._captured_signals.clear()


@contextlib.contextmanager
def _metrics_dir(workers: int) -> Iterator[None]:
    """With several workers, a private directory where their metric files are summed."""
    if workers == 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    path = tempfile.mkdtemp(prefix="sniper-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(path, ignore_errors=True)
