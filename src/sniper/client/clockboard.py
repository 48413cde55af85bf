"""One clock estimate per server clock, shared by every task of a run that reads it.

Four tasks against one shop need one measurement, not four: the first task to ask measures, the
others (waiting on the same lock) take its result while it is fresh. A task that already has an
estimate waits for another's measurement only until its own deadline, then keeps what it has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from sniper.client.probe import ClockError
from sniper.client.timesync import Estimate, Sample

Measured = tuple[Estimate, list[Sample]]


@dataclass(frozen=True)
class _Entry:
    measured: Measured
    at_ms: float


class ClockBoard:
    """Estimates by clock (a time endpoint, or the origin whose ``Date`` is read: two tasks
    reading different endpoints never share); ``fresh_ms`` says how long one may be reused."""

    def __init__(self, fresh_ms: float = 1000.0) -> None:
        self.fresh_ms = fresh_ms
        self._entries: dict[Hashable, _Entry] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self.measurements = 0

    async def get(
        self,
        key: Hashable,
        now_ms: Callable[[], float],
        measure: Callable[[], Awaitable[Measured]],
        *,
        force: bool = False,
        wait_until_ms: float | None = None,
    ) -> Measured:
        """A fresh estimate for the clock ``key``: reused if another task just measured (unless
        ``force``: after a clock jump nothing from before counts), else made.

        With ``wait_until_ms`` (on ``now_ms``'s scale) a busy board is waited for only until
        then: ``ClockError`` after, so that a task due sooner is never held past its preheat by
        another task's measurement."""
        lock = self._locks.setdefault(key, asyncio.Lock())
        wait_s = None if wait_until_ms is None else max(0.0, wait_until_ms - now_ms()) / 1000
        try:
            async with asyncio.timeout(wait_s):
                await lock.acquire()
        except TimeoutError:
            raise ClockError("another task is still measuring this server's clock") from None
        try:
            entry = self._entries.get(key)
            if not force and entry is not None and now_ms() - entry.at_ms < self.fresh_ms:
                return entry.measured
            measured = await measure()
            self.measurements += 1
            self._entries[key] = _Entry(measured, now_ms())
            return measured
        finally:
            lock.release()
