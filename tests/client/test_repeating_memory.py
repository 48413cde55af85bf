"""A repeating task's memory does not grow with its openings (fake clock, fake runs)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import tracemalloc
from pathlib import Path
from typing import TextIO

import pytest

from sniper.client import history, repeating
from sniper.client.config import TaskConfig
from sniper.client.console import Console
from sniper.client.engine import RunSummary
from sniper.client.policy import Result
from sniper.client.repeating import Repeater
from sniper.client.sighting import Sighting
from sniper.clock import ManualClock

OPENINGS = 1000
#: Python memory the schedule may gain from its 200th opening to its 1,000th: caches that warm
#: up (3–20 KiB measured). Keeping each opening's summary or record (hundreds of bytes) would
#: exceed it several times over.
GROWTH_BOUND = 64 * 1024
#: The history file is cut to its last lines at every opening: the file's growth is on the
#: disk, and each opening's read of it stays the same size.
KEEP_LINES = 8


class Schedule:
    """Fake runs of a shop that opens 150 ms late, a sleep that moves the clock, and the
    traced memory at two openings."""

    def __init__(self, clock: ManualClock, history_file: Path) -> None:
        self.clock, self.history_file = clock, history_file
        self.runs = 0
        self.last_aim = -1.0
        self.traced: dict[int, int] = {}

    async def sleep(self, seconds: float) -> None:
        """The wait: the clock moves on; after the last opening the schedule is cancelled."""
        if self.runs >= OPENINGS:
            raise asyncio.CancelledError
        self.clock.advance(seconds)

    async def run_opening(self, task: TaskConfig, cookie: str, aim_ms: float) -> RunSummary:
        """One opening: closed until +150 ms, sold out; the history file cut short."""
        self.runs += 1
        self.last_aim = aim_ms
        opening = float(task.target_ms)
        first = opening + aim_ms + 0.5
        closed = first < opening + 150
        seen = Sighting(
            first_arrival=first,
            first_not_started=first if closed else None,
            last_not_started=opening + 149 if closed else None,
            first_open=max(first, opening + 151),
            sold_out=opening + 190,
            requests=5,
        )
        self.clock.advance(max(0.0, opening / 1000 + 1 - self.clock.time()))
        lines = self.history_file.read_text().splitlines(keepends=True) if self.runs > 1 else []
        self.history_file.write_text("".join(lines[-KEEP_LINES:]))
        if self.runs in (200, OPENINGS):
            gc.collect()
            self.traced[self.runs] = tracemalloc.get_traced_memory()[0]
        return RunSummary(Result.NOT_ORDERED, attempts=5, seen=seen)


def test_memory_stays_flat_over_a_thousand_openings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One wake-up per wait (each one does the same work) keeps the test fast.
    monkeypatch.setattr(repeating, "QUIET_WAKE_S", 86_400.0)
    history_file = tmp_path / "history.jsonl"
    task = TaskConfig.model_validate(
        {
            "base_url": "http://127.0.0.1:9",
            "cookie": "session=memory",
            "sku_id": "eggs",
            "target_time": ["05:59:00", "08:29:00"],
            "tz": "Asia/Shanghai",
            "repeat": "daily",
            "aim": "learned",
            "history_file": str(history_file),
        }
    )
    clock = ManualClock(1_704_067_200.0)
    schedule = Schedule(clock, history_file)

    async def run(quiet: TextIO) -> None:
        repeater = Repeater(
            task,
            "session=memory",
            Console(stream=quiet),
            schedule.run_opening,
            clock=clock,
            sleep=schedule.sleep,
        )
        with contextlib.suppress(asyncio.CancelledError):
            await repeater.run()

    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        with open(os.devnull, "w") as quiet:  # a log's lines are not the schedule's memory
            asyncio.run(run(quiet))
    finally:
        if not was_tracing:
            tracemalloc.stop()

    assert schedule.runs == OPENINGS
    assert len(history.read(history_file)) == KEEP_LINES + 1  # and the last opening's
    assert schedule.last_aim == 151.0  # learned from the history: first seen open at +151
    growth = schedule.traced[OPENINGS] - schedule.traced[200]
    assert growth < GROWTH_BOUND, f"{growth} bytes more after {OPENINGS - 200} openings"
