"""Group commit for SQLite: many jobs per transaction, one fsync per batch.

Every job is a function of a connection. Queued jobs are taken in batches (up to ``max_batch``):
``BEGIN IMMEDIATE``, the jobs, then ``COMMIT``, and only after the commit are the jobs' futures
settled, so a reply never goes out before its order is durable.

The jobs run on the event loop's own thread: each takes microseconds, and running them there
avoids handing the GIL back and forth with a writer thread on every SQLite call. Only the
COMMIT (the fsync, which releases the GIL) runs on a helper thread, while the loop goes on
parsing requests that form the next batch. ``BEGIN IMMEDIATE`` is tried without SQLite's own
blocking busy handler: when another process holds the write lock, the loop retries a moment
later (up to the busy timeout) instead of stalling every connection while it waits.

The queue and the answers are :class:`~sniper.store.backends.batcher.Batcher`'s, with one batch
out at a time (one write transaction). A job that raises leaves the transaction in an unknown
state, so the batch is rolled back and run again without that job, which alone gets the error.
Savepoints around every job would do the same at two more statements per job on the hottest path;
failures are rare. The storage itself failing (disk full, I/O error) fails the whole batch:
``503 unavailable`` when it certainly did not commit, ``503 outcome_unknown`` when the COMMIT failed
in a way that may still have committed (:class:`~sniper.store.backends.sqlfile.SqliteErrors`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sniper.clock import Clock
from sniper.errors import StoreError, Unavailable
from sniper.logs import ThrottledLog
from sniper.store.backends.batcher import Batcher, Call
from sniper.store.backends.sqlfile import SQLITE_ERRORS

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

log = logging.getLogger(__name__)

_RETRY_FIRST_S, _RETRY_MAX_S = 0.0002, 0.002
#: During an outage every batch fails: one line per this many seconds, not one per batch.
_LOG_EVERY_S = 10.0


class GroupCommitWriter(Batcher[Job]):
    """Owns the write connection; batches jobs into transactions."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        clock: Clock,
        max_batch: int,
        busy_timeout_ms: int,
    ) -> None:
        super().__init__(SQLITE_ERRORS, max_batch=max_batch, max_in_flight=1)
        self._connect, self._clock = connect, clock
        self._busy_timeout_s = busy_timeout_ms / 1000
        self._conn: sqlite3.Connection | None = None
        self._committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-commit")
        self._log_failure = ThrottledLog(log, logging.ERROR, _LOG_EVERY_S, clock.monotonic)

    def start(self) -> None:
        """Open the write connection; jobs may be submitted from the running loop afterwards."""
        self._open_connection()

    def submit(self, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
        """Run ``fn`` in the next batch; its result, once the batch has committed."""
        return self._submit(fn)

    async def stop(self) -> None:
        """Let queued jobs finish, then close the connection."""
        await self.close()
        self._committer.shutdown(wait=True)
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _send(self, batch: list[Call[Job]]) -> None:
        failed: dict[int, StoreError] = {}
        results: dict[int, Any] = {}
        committing = False
        try:
            conn = self._open_connection()
            while True:
                await self._begin(conn)
                results = {}
                culprit = self._run_jobs(conn, batch, failed, results)
                if culprit is None:
                    break
                conn.execute("ROLLBACK")
            committing = True
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._committer, conn.execute, "COMMIT")
        except Exception as exc:  # whatever happened, every caller gets an answer
            self._log_failure("sqlite batch of %d failed: %s", len(batch), exc)
            error = self.errors.unknown(exc) if committing else _not_committed(exc)
            self._roll_back()
            failed = {i: failed.get(i, error) for i in range(len(batch))}
            results = {}
        for i, (_, future) in enumerate(batch):  # a caller gone meanwhile: its job still ran
            if i in failed:
                self._settle(future, error=failed[i])
            else:
                self._settle(future, result=results[i])

    def _open_connection(self) -> sqlite3.Connection:
        """The write connection; one lost to a failed rollback is opened again here, so that
        the store recovers once the storage does (until then each batch fails, answered)."""
        if self._conn is None:
            conn = self._connect()
            # BEGIN IMMEDIATE waits in _begin, without blocking the loop.
            conn.execute("PRAGMA busy_timeout = 0")
            self._conn = conn
        return self._conn

    def _roll_back(self) -> None:
        """End a failed transaction; a connection that cannot is dropped (closing it drops
        the transaction), so that no later batch commits what this one left behind."""
        conn = self._conn
        if conn is None:
            return
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            self._log_failure("sqlite rollback failed, reopening at the next batch: %s", exc)
            self._conn = None
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    @staticmethod
    def _run_jobs(
        conn: sqlite3.Connection,
        batch: list[Call[Job]],
        failed: dict[int, StoreError],
        results: dict[int, Any],
    ) -> int | None:
        """Run every job not yet failed; the index of one that raises, else None."""
        for i, (fn, _) in enumerate(batch):
            if i in failed:
                continue
            try:
                results[i] = fn(conn)
            except (sqlite3.OperationalError, sqlite3.InternalError):
                raise  # the storage failing (disk full, I/O error): the whole batch fails
            except Exception as exc:  # a job's own bug or constraint fails that job alone
                failed[i] = _job_failed(exc)
                return i
        return None

    async def _begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, retried without blocking the loop while another process writes."""
        deadline = self._clock.monotonic() + self._busy_timeout_s
        delay = _RETRY_FIRST_S
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                    raise
                if self._clock.monotonic() >= deadline:
                    raise Unavailable("storage is busy, try again") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, _RETRY_MAX_S)


def _job_failed(exc: BaseException) -> StoreError:
    """A job's own failure (a constraint, a bug): that job's caller alone hears it."""
    if isinstance(exc, StoreError):
        return exc
    log.error("sqlite job failed: %r", exc)
    return Unavailable("storage refused the change")


def _not_committed(exc: BaseException) -> StoreError:
    """A batch that failed before its COMMIT: rolled back, nothing happened."""
    if isinstance(exc, Unavailable):
        return exc
    return SQLITE_ERRORS.unavailable(exc)
