"""Group commit for SQLite: one writer thread runs many jobs per transaction.

Every job is a function of a connection. The thread takes whatever jobs are queued (up to
``max_batch``), opens ``BEGIN IMMEDIATE`` (which waits on the busy timeout for other processes'
writers, where a deferred transaction would fail with ``SQLITE_BUSY`` on its first write), runs
each job inside its own savepoint so that one failing job rolls back alone, commits once, and only
then settles the jobs' futures. A reply therefore never goes out before its commit is durable,
and one fsync serves the whole batch.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sniper.errors import StoreError, Unavailable

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    fn: Job
    future: asyncio.Future[Any]


class GroupCommitWriter:
    """A thread that owns the write connection and commits jobs in batches."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], max_batch: int) -> None:
        self._connect = connect
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="sqlite-writer", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.batches = 0

    def start(self) -> None:
        """Start the thread; jobs may be submitted from the running event loop afterwards."""
        self._loop = asyncio.get_running_loop()
        self._thread.start()

    async def submit(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in the next batch and return its result once the batch has committed."""
        assert self._loop is not None, "writer not started"
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put(_Pending(fn, future))
        return await future

    async def stop(self) -> None:
        """Let queued jobs finish, then end the thread and close the connection."""
        if self._thread.is_alive():
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)

    def _run(self) -> None:
        conn = self._connect()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stop = False
                while len(batch) < self._max_batch:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    batch.append(nxt)
                self._run_batch(conn, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                outcomes.append(self._run_job(conn, job))
            conn.execute("COMMIT")
            self.batches += 1
        except sqlite3.Error as exc:
            log.error("sqlite batch of %d failed: %s", len(batch), exc)
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = Unavailable("storage is unavailable, try again")
            outcomes = [(False, failure)] * len(batch)
        self._settle(batch, outcomes)

    @staticmethod
    def _run_job(conn: sqlite3.Connection, job: _Pending) -> tuple[bool, Any]:
        conn.execute("SAVEPOINT job")
        try:
            result = job.fn(conn)
        except (StoreError, sqlite3.Error, ValueError) as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            if isinstance(exc, StoreError):
                return False, exc
            log.error("sqlite job failed: %s", exc)
            return False, Unavailable("storage refused the change")
        conn.execute("RELEASE job")
        return True, result

    def _settle(self, batch: list[_Pending], outcomes: list[tuple[bool, Any]]) -> None:
        assert self._loop is not None

        def settle() -> None:
            for job, (ok, value) in zip(batch, outcomes, strict=True):
                if job.future.done():  # the caller went away; its job still ran
                    continue
                if ok:
                    job.future.set_result(value)
                else:
                    job.future.set_exception(value)

        try:
            self._loop.call_soon_threadsafe(settle)
        except RuntimeError:  # the loop closed under us at shutdown
            log.warning("event loop closed before %d replies could be settled", len(batch))
