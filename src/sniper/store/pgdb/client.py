"""Connecting to PostgreSQL from a store URL, and what PostgreSQL's errors mean to a caller.

``postgresql://USER:PASSWORD@HOST:PORT/DB`` (or ``postgres://``), with libpq's query options
(``?sslmode=require``, ``?host=/run/postgresql``…) as asyncpg reads them; ``PGPASSWORD`` and
``~/.pgpass`` work as they do for ``psql``. The URL is only ever shown redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, TypeAlias
from urllib.parse import urlsplit

import asyncpg

from sniper.errors import ConfigError, OutcomeUnknown, StoreError, Unavailable
from sniper.store.backends.base import StorageErrors
from sniper.store.urls import redact_url

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

#: A connection, on its own or lent by a pool.
Conn: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

SCHEMES = ("postgresql", "postgres")

#: SQLSTATE classes of a failure that may have come after a commit: the connection went
#: (08), an operator or a crash ended the session (57), the system failed (58), an internal
#: error (XX). Any other error the server reports failed its statement, which rolled back.
_MAYBE_COMMITTED = frozenset({"08", "57", "58", "XX"})


def check_url(url: str, what: str) -> str:
    """``url`` if it is a PostgreSQL URL with a database, else a one-line ``ConfigError``
    (``what`` names the setting) that shows it redacted."""
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it is the check: a bad port raises here
    except ValueError:
        raise ConfigError(f"{what}: {shown!r} is not a valid PostgreSQL URL") from None
    if parts.scheme not in SCHEMES:
        raise ConfigError(f"{what}: {shown!r} is not postgresql://USER@HOST:PORT/DATABASE")
    if parts.path.strip("/") == "" or "/" in parts.path.strip("/"):
        raise ConfigError(f"{what}: {shown!r} names no database (postgresql://…/DATABASE)")
    return url


async def create_pool(
    url: str, what: str, *, warm: int, max_size: int, timeout_s: float
) -> asyncpg.Pool:
    """A pool of connections to ``url``: each connection made within ``timeout_s``, each
    statement bounded by it too (a stalled server is an error, never a hang). Connections that
    break are made again on their next use: the pool outlives a restart of the server."""
    try:
        pool = asyncpg.create_pool(
            url,
            # Opened warm, but with no floor kept: asyncpg would reconnect to the floor in the
            # background during an outage and log a traceback per try; a connection is made
            # again by the request that needs it instead.
            init_size=warm,
            min_size=0,
            max_size=max_size,
            timeout=timeout_s,
            command_timeout=timeout_s,
            server_settings={"application_name": "sniper-store"},
            reset=_keep,
        )
        return await pool
    except (ValueError, TypeError, asyncpg.ClientConfigurationError) as exc:
        raise ConfigError(f"{what}: {redact_url(url)!r}: {start_failure(exc, url)}") from None


async def _keep(conn: Conn) -> None:
    """A connection goes back to the pool as it is: the store leaves no session state on one
    (no LISTEN, SET or session lock; transactions are always closed), so asyncpg's reset query,
    a round trip per use, is not needed."""


@contextlib.asynccontextmanager
async def borrow(pool: asyncpg.Pool, timeout_s: float) -> AsyncIterator[Conn]:
    """A pooled connection for the block. A block that fails drops the connection (its state
    unknown: a statement timed out, the server went) instead of waiting to reset it, so that a
    failure costs no more than its own timeout; giving one back never raises over the block's
    own error."""
    conn = await pool.acquire(timeout=timeout_s)
    try:
        yield conn
    except BaseException:
        # A connection the server dropped may already be back in the pool, its proxy detached:
        # terminating it then raises, and must not replace the block's own error.
        with contextlib.suppress(Exception):
            conn.terminate()
        raise
    finally:
        with contextlib.suppress(Exception):
            await pool.release(conn, timeout=timeout_s)


async def close_pool(pool: asyncpg.Pool, timeout_s: float) -> None:
    """Close every connection of ``pool`` within ``timeout_s``; past it, or should the server be
    gone, cut them (never raises: closing is the end of the store's work)."""
    try:
        async with asyncio.timeout(timeout_s):
            await pool.close()
    except PG_ERRORS.kinds:
        pool.terminate()


def maybe_committed(exc: BaseException) -> bool:
    """Whether a statement that failed with ``exc`` may have committed (see
    :data:`_MAYBE_COMMITTED`); a client-side failure of a sent statement (a dropped
    connection, a timeout) may have too."""
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate or "XX")[:2] in _MAYBE_COMMITTED
    return True


def start_failure(exc: BaseException, url: str) -> str:
    """Why a connection could not be made, for the operator starting the store: the error and
    its text (the server's reason: a wrong password, no such database), with the URL's password
    hidden should the text ever quote it."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    password = urlsplit(url).password if "://" in url else None
    return text.replace(password, "***") if password else text


def describe(exc: BaseException) -> str:
    """A failure as an operator may read it: its class and SQLSTATE, or the socket error (never
    the server's message text, which may quote a value)."""
    state = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__} {state}" if state else type(exc).__name__


class PostgresErrors(StorageErrors):
    """PostgreSQL's (and asyncpg's, and the socket's) errors as the store's."""

    kinds: tuple[type[BaseException], ...] = (
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        # The driver's own state gone wrong, seen when the server ends sessions under a flood.
        asyncpg.InternalClientError,
        OSError,
        TimeoutError,
    )

    def unavailable(self, exc: BaseException) -> StoreError:
        """Nothing was done (refused, or failed before the commit): try again."""
        return Unavailable(f"storage unavailable ({describe(exc)})", retry_after=1)

    def unknown(self, exc: BaseException) -> StoreError:
        """Sent, then failed: unavailable if the server says the statement failed (it rolled
        back), else the commit may have happened."""
        if not maybe_committed(exc):
            return self.unavailable(exc)
        return OutcomeUnknown(f"storage failed after the call was sent ({describe(exc)})")


PG_ERRORS = PostgresErrors()
