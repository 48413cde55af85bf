"""Backends chosen by the scheme of ``--store URL``: ``sqlite://``, ``redis://``,
``redis+cluster://``, ``postgresql://`` (or ``postgres://``)."""

from __future__ import annotations

from collections.abc import Callable

from sniper.clock import Clock
from sniper.errors import ConfigError
from sniper.store.backends.base import Backend
from sniper.store.backends.sqlfile import path_from_url
from sniper.store.backends.sqlite import SqliteBackend
from sniper.store.settings import StoreSettings

BackendFactory = Callable[[StoreSettings, Clock], Backend]


def _sqlite(settings: StoreSettings, clock: Clock) -> Backend:
    return SqliteBackend(
        path_from_url(settings.store),
        clock,
        synchronous=settings.sqlite_synchronous,
        busy_timeout_ms=settings.sqlite_busy_timeout_ms,
        max_batch=settings.sqlite_max_batch,
    )


def _redis(settings: StoreSettings, clock: Clock) -> Backend:
    from sniper.store.redisdb.backend import RedisBackend

    return RedisBackend(
        settings.store,
        clock,
        orders_db=settings.orders_db,
        persister_max_workers=settings.persister_max_workers,
        persister_batch_timeout_s=settings.persister_batch_timeout_s,
        pg_timeout_s=settings.pg_timeout_s,
        session_ttl_s=settings.session_ttl_s,
    )


def _postgres(settings: StoreSettings, clock: Clock) -> Backend:
    from sniper.store.pgdb.backend import PostgresBackend

    return PostgresBackend(
        settings.store,
        clock,
        pool_size=settings.pg_pool_size,
        max_batch=settings.pg_max_batch,
        timeout_s=settings.pg_timeout_s,
    )


BACKENDS: dict[str, BackendFactory] = {
    "sqlite": _sqlite,
    "redis": _redis,
    "redis+cluster": _redis,
    "postgresql": _postgres,
    "postgres": _postgres,
}


def backend_from_settings(settings: StoreSettings, clock: Clock) -> Backend:
    """Build (not open) the backend named by the scheme of ``settings.store``."""
    scheme = settings.store.partition("://")[0]
    factory = BACKENDS.get(scheme)
    if factory is None:
        known = ", ".join(sorted(BACKENDS))
        raise ConfigError(f"store: unknown scheme {scheme!r} (known: {known})")
    return factory(settings, clock)


__all__ = ["BACKENDS", "Backend", "SqliteBackend", "backend_from_settings"]
