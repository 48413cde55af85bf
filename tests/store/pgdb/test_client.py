"""What PostgreSQL's errors mean to a caller, and which store URLs are PostgreSQL's."""

from __future__ import annotations

import asyncpg
import pytest

from sniper.errors import ConfigError, OutcomeUnknown, Unavailable
from sniper.store.pgdb.client import PG_ERRORS, borrow, check_url, maybe_committed, start_failure


@pytest.mark.parametrize(
    ("exc", "committed"),
    [
        (asyncpg.exceptions.AdminShutdownError(), True),  # pg_terminate_backend, mid-commit
        (asyncpg.exceptions.ConnectionFailureError(), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError(), True),  # the socket went
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (asyncpg.exceptions.CharacterNotInRepertoireError(), False),  # refused: rolled back
        (asyncpg.exceptions.DeadlockDetectedError(), False),
        (asyncpg.exceptions.CheckViolationError(), False),
        (asyncpg.exceptions.DiskFullError(), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_a_failure_after_sending_is_unknown_only_when_it_may_have_committed(
    exc: BaseException, committed: bool
) -> None:
    """A statement the server refused rolled back (safe to retry: unavailable); a connection
    that went, an operator's shutdown or a timeout may have come after the commit."""
    assert maybe_committed(exc) is committed
    error = PG_ERRORS.unknown(exc)
    assert type(error) is (OutcomeUnknown if committed else Unavailable)
    assert error.status == 503
    assert type(exc).__name__ in error.message
    assert type(PG_ERRORS.unavailable(exc)) is Unavailable


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://u:hunter2@h:5432/db", "is not postgresql://"),
        ("postgresql://u:hunter2@h:5432", "names no database"),
        ("postgresql://u:hunter2@h:5432/", "names no database"),
        ("postgresql://u:hunter2@h:5432/a/b", "names no database"),
        ("postgresql://u:hunter2@h:99999/db", "not a valid PostgreSQL URL"),
        ("postgresql://u:hunter2@[::1/db", "not a valid PostgreSQL URL"),
    ],
)
def test_a_url_that_is_not_postgresql_is_one_line_without_the_password(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_url(url, "store")
    assert says in str(caught.value)
    assert str(caught.value).startswith("store: ")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@db.internal:5432/shop",
        "postgres://u@127.0.0.1/shop?sslmode=require",
        "postgresql:///shop?host=/run/postgresql",
    ],
)
def test_postgresql_urls_with_libpq_options_pass(url: str) -> None:
    assert check_url(url, "store") == url


def test_a_start_failure_never_quotes_the_password() -> None:
    """Should a driver's or server's text ever quote the URL's password, it is hidden."""
    said = start_failure(OSError("cannot reach u:s3cr3t@h"), "postgresql://u:s3cr3t@h:1/db")
    assert said == "OSError: cannot reach u:***@h"
    assert start_failure(TimeoutError(), "postgresql://h/db") == "TimeoutError"


class _DetachedConn:
    """A pooled connection whose server went: asyncpg has taken it back, so that every call on
    it raises."""

    def terminate(self) -> None:
        raise asyncpg.InterfaceError("connection has been released back to the pool")


class _Pool:
    def __init__(self) -> None:
        self.released: list[object] = []

    async def acquire(self, **_: float) -> _DetachedConn:
        return _DetachedConn()

    async def release(self, conn: object, **_: float) -> None:
        self.released.append(conn)
        raise asyncpg.InterfaceError("released already")


async def test_a_borrowed_connection_never_replaces_the_blocks_error() -> None:
    """The block failed "outcome unknown" (its call was sent) on a connection the server
    dropped: dropping and giving it back fail too, and the caller still hears the block's error
    (were it the driver's, the order would be answered "unavailable", certainly not placed)."""
    pool = _Pool()
    with pytest.raises(OutcomeUnknown):
        async with borrow(pool, 1.0):  # type: ignore[arg-type]
            raise OutcomeUnknown("sent, then the connection went")
    assert len(pool.released) == 1
