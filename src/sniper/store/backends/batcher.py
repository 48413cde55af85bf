"""Calls that arrive together go to the storage together: the core of SQLite's group commit and
of Redis's script pipelines.

A call is queued with a future; the queue is taken as a batch (up to ``max_batch`` calls) once the
calls ready in this turn of the event loop have joined, or, when ``max_in_flight`` batches are
already out (SQLite: one transaction at a time), as soon as one of them is done. Each caller gets
its own answer: a subclass's :meth:`Batcher._send` settles each call, and a failure of one call
fails only its caller. If ``_send`` raises, every caller it left waiting gets that error as a
:class:`~sniper.errors.StoreError`; a batch cancelled midway answers those left "outcome
unknown", so nobody waits forever. A caller that goes away (a client that hung up) leaves its
call in the batch: it may be running already, and its answer is dropped.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

from sniper.errors import OutcomeUnknown, StoreError, Unavailable
from sniper.store.backends.base import StorageErrors

P = TypeVar("P")
#: One queued call: what to send, and where its caller waits.
Call = tuple[P, "asyncio.Future[Any]"]


class Batcher(ABC, Generic[P]):
    """The queue, the batches, and the answers; :meth:`_send` is the storage's part."""

    def __init__(
        self, errors: StorageErrors, *, max_batch: int, max_in_flight: int | None = None
    ) -> None:
        self.errors, self.max_batch = errors, max_batch
        self._max_in_flight = max_in_flight
        self._pending: list[Call[P]] = []
        self._flush_due = False
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        #: Batches sent and calls carried (how well calls are being grouped).
        self.batches = 0
        self.carried = 0

    def _submit(self, payload: P) -> asyncio.Future[Any]:
        """Queue one call; the future is its answer. (A future, not a coroutine: awaited by the
        caller, it costs no coroutine of its own on the order path.)"""
        if self._closed:
            raise Unavailable("the store is shutting down")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((payload, future))
        if not self._flush_due:
            self._flush_due = True
            loop.call_soon(self._flush)
        return future

    async def close(self) -> None:
        """Refuse new calls; return once every queued one is answered (a cancelled ``close``
        does not cancel them)."""
        self._closed = True
        self._flush()
        while self._tasks:
            await asyncio.shield(asyncio.wait(set(self._tasks)))

    def _flush(self) -> None:
        """Start batches for the queued calls, as many as may be out at once."""
        self._flush_due = False
        while self._pending and (
            self._max_in_flight is None or self._in_flight < self._max_in_flight
        ):
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._run(self._take()))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _take(self) -> list[Call[P]]:
        batch = self._pending[: self.max_batch]
        del self._pending[: self.max_batch]
        return batch

    async def _run(self, batch: list[Call[P]]) -> None:
        try:
            while True:
                await self._run_one(batch)
                # Calls queued while this batch was out, that no flush is coming for (the
                # limit held them back): this task takes them on, as the next batch.
                if not self._pending or self._flush_due:
                    return
                batch = self._take()
        finally:
            self._in_flight -= 1

    async def _run_one(self, batch: list[Call[P]]) -> None:
        self.batches += 1
        self.carried += len(batch)
        try:
            await self._send(batch)
        except Exception as exc:  # whatever happened, every caller gets an answer
            self._fail(batch, self._batch_error(exc))
        finally:  # even when cancelled: nobody waits forever
            self._fail(batch, OutcomeUnknown("storage call cancelled"))

    @abstractmethod
    async def _send(self, batch: list[Call[P]]) -> None:
        """Send the batch and settle each call (:meth:`_settle`)."""

    def _batch_error(self, exc: BaseException) -> StoreError:
        """What the callers of a batch whose ``_send`` raised hear: a store error as it is; a
        storage error before anything was sent (a send marks what follows with
        :meth:`StorageErrors.sent`) is unavailable; anything else may have come mid-send."""
        if isinstance(exc, StoreError):
            return exc
        if isinstance(exc, self.errors.kinds):
            return self.errors.unavailable(exc)
        return self.errors.unknown(exc)

    @staticmethod
    def _settle(
        future: asyncio.Future[Any], *, result: Any = None, error: StoreError | None = None
    ) -> None:
        """Answer a caller unless it has gone (cancelled: a client that hung up)."""
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def _fail(self, batch: list[Call[P]], error: StoreError) -> None:
        """Answer every caller of ``batch`` still waiting with ``error``."""
        for _, future in batch:
            self._settle(future, error=error)
