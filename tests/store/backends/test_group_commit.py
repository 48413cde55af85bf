"""The SQLite group-commit writer when the storage fails: what callers hear, what the log gets."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sniper.clock import ManualClock
from sniper.errors import OutcomeUnknown, StoreError, Unavailable
from sniper.store.backends.group_commit import GroupCommitWriter

pytestmark = pytest.mark.sqlite


class FailingCommit(sqlite3.Connection):
    """A real SQLite connection whose COMMIT raises ``fail_with`` when set (an injected write
    error: SQLite's own codes, as its VFS would report them)."""

    fail_with: sqlite3.OperationalError | None = None

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        """Run ``sql``, except a COMMIT while ``fail_with`` is set."""
        if sql == "COMMIT" and self.fail_with is not None:
            raise self.fail_with
        return super().execute(sql, *args)


def _error(code: int) -> sqlite3.OperationalError:
    exc = sqlite3.OperationalError(f"injected (code {code})")
    exc.sqlite_errorcode = code
    return exc


@pytest.fixture
def db(tmp_path: Path) -> Callable[..., sqlite3.Connection]:
    """A connect function for a fresh file with table ``t`` (a blob per row)."""
    path = tmp_path / "gc.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)")
    conn.close()

    def connect(**kwargs: Any) -> sqlite3.Connection:
        made: sqlite3.Connection = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, **kwargs
        )
        return made

    return connect


def _insert(conn: sqlite3.Connection) -> int:
    return conn.execute("INSERT INTO t (data) VALUES (zeroblob(8192))").lastrowid or 0


async def _count(connect: Callable[..., sqlite3.Connection]) -> int:
    conn = connect()
    try:
        return int(conn.execute("SELECT count(*) FROM t").fetchone()[0])
    finally:
        conn.close()


async def test_a_full_database_fails_every_batch_once_and_logs_one_line(
    db: Callable[..., sqlite3.Connection], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """The file may not grow (SQLite's own SQLITE_FULL): 40 batches of 10 writes each fail as a
    whole, each caller hears 503 unavailable with Retry-After, nothing is written, and the log
    gets one ERROR line for the lot (the next, once the clock has moved on, counts the rest)."""

    def connect() -> sqlite3.Connection:
        conn = db()
        conn.execute("PRAGMA max_page_count = 1")  # no page past the current size
        return conn

    writer = GroupCommitWriter(connect, clock, max_batch=10, busy_timeout_ms=1000)
    writer.start()
    caplog.set_level(logging.ERROR, "sniper.store.backends.group_commit")
    try:
        answers = []
        for _ in range(40):
            answers += await asyncio.gather(
                *(writer.submit(_insert) for _ in range(10)), return_exceptions=True
            )
        assert all(isinstance(a, Unavailable) for a in answers), answers
        assert {a.retry_after for a in answers if isinstance(a, StoreError)} == {1}
        assert len(caplog.records) == 1
        clock.advance(11)
        await asyncio.gather(writer.submit(_insert), return_exceptions=True)
        assert len(caplog.records) == 2
        assert "(39 more since the last)" in caplog.records[1].getMessage()
    finally:
        await writer.stop()
    assert await _count(db) == 0


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (sqlite3.SQLITE_FULL, Unavailable),
        (sqlite3.SQLITE_IOERR_WRITE, Unavailable),
        (sqlite3.SQLITE_BUSY, Unavailable),
        (sqlite3.SQLITE_IOERR_FSYNC, OutcomeUnknown),
        (sqlite3.SQLITE_IOERR, OutcomeUnknown),
    ],
)
async def test_a_failed_commit_says_whether_it_may_have_committed(
    db: Callable[..., sqlite3.Connection], clock: ManualClock, code: int, error: type[StoreError]
) -> None:
    """A COMMIT that fails before its record reaches the log (disk full, a failed write, a lock)
    committed nothing: unavailable. Any other failure (a failed fsync above all) may have left a
    commit that a crash brings back: outcome unknown. The writer goes on afterwards."""
    conn: FailingCommit | None = None

    def connect() -> sqlite3.Connection:
        nonlocal conn
        made = db(factory=FailingCommit)
        assert isinstance(made, FailingCommit)
        conn = made
        return made

    writer = GroupCommitWriter(connect, clock, max_batch=10, busy_timeout_ms=1000)
    writer.start()
    try:
        assert conn is not None
        conn.fail_with = _error(code)
        answers = await asyncio.gather(
            *(writer.submit(_insert) for _ in range(3)), return_exceptions=True
        )
        assert [type(a) for a in answers] == [error] * 3
        conn.fail_with = None
        assert await writer.submit(_insert) > 0
    finally:
        await writer.stop()
    assert await _count(db) == 1


async def test_a_job_that_breaks_a_constraint_fails_alone(
    db: Callable[..., sqlite3.Connection], clock: ManualClock
) -> None:
    """A job's own error (a constraint) is that job's; the rest of its batch commits."""

    def duplicate(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (id) VALUES (1)")

    writer = GroupCommitWriter(db, clock, max_batch=10, busy_timeout_ms=1000)
    writer.start()
    try:
        await writer.submit(duplicate)
        answers = await asyncio.gather(
            writer.submit(_insert),
            writer.submit(duplicate),
            writer.submit(_insert),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
    assert isinstance(answers[1], Unavailable)
    assert all(isinstance(a, int) for a in (answers[0], answers[2]))
    assert await _count(db) == 3


class FailingRollback(sqlite3.Connection):
    """A real connection on which COMMIT and ROLLBACK both fail (the storage failing hard)."""

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        """Run ``sql``, except COMMIT and ROLLBACK."""
        if sql in ("COMMIT", "ROLLBACK"):
            raise _error(sqlite3.SQLITE_IOERR)
        return super().execute(sql, *args)


async def test_a_failed_rollback_and_reopen_answers_every_caller_and_recovers(
    db: Callable[..., sqlite3.Connection],
) -> None:
    """COMMIT and ROLLBACK fail, then the file cannot be reopened: each batch's callers are
    answered (503), none left waiting; once the storage can be opened again, jobs commit."""
    opens: list[str] = []

    def connect() -> sqlite3.Connection:
        opens.append("open")
        if len(opens) == 1:
            return db(factory=FailingRollback)
        if len(opens) <= 3:
            raise sqlite3.OperationalError("unable to open database file")
        return db()

    writer = GroupCommitWriter(connect, ManualClock(), 64, 100)
    writer.start()
    for _ in range(3):  # the failed rollback, then two batches that cannot reopen the file
        async with asyncio.timeout(5):
            with pytest.raises(StoreError) as caught:
                await writer.submit(_insert)
        assert caught.value.status == 503
    async with asyncio.timeout(5):
        assert await writer.submit(_insert) >= 1  # the storage is back: committed
    await writer.stop()
    assert len(opens) == 4
