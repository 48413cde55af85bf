"""One clock estimate per server, shared by every task of a run aimed at it.

Four tasks against one shop need one measurement, not four: the first task to ask measures, the
others (waiting on the same lock) take its result while it is fresh.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sniper.client.connection import Origin
from sniper.client.timesync import Estimate, Sample

Measured = tuple[Estimate, list[Sample]]


@dataclass(frozen=True)
class _Entry:
    measured: Measured
    at_ms: float


class ClockBoard:
    """Estimates by origin; ``fresh_ms`` says how long one may be reused."""

    def __init__(self, fresh_ms: float = 1000.0) -> None:
        self.fresh_ms = fresh_ms
        self._entries: dict[Origin, _Entry] = {}
        self._locks: dict[Origin, asyncio.Lock] = {}
        self.measurements = 0

    async def get(self, origin: Origin, now_ms: Callable[[], float],
                  measure: Callable[[], Awaitable[Measured]], *, force: bool = False) -> Measured:
        """A fresh estimate for ``origin``: reused if another task just measured (unless
        ``force``: after a clock jump nothing from before counts), else made."""
        lock = self._locks.setdefault(origin, asyncio.Lock())
        async with lock:
            entry = self._entries.get(origin)
            if not force and entry is not None and now_ms() - entry.at_ms < self.fresh_ms:
                return entry.measured
            measured = await measure()
            self.measurements += 1
            self._entries[origin] = _Entry(measured, now_ms())
            return measured
