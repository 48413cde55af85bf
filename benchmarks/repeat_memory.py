"""Memory and time of a repeating task over many openings, in process on a fake clock.

    python benchmarks/repeat_memory.py [--openings 1000] [--every 100] [--aim learned]
                                       [--lines 10,1000,10000] [--rate-openings 200]

A :class:`~sniper.client.repeating.Repeater` for ``repeat: daily`` at two times of day
(05:59 and 08:29 in Asia/Shanghai) with ``aim: learned`` (or ``--aim``) runs on a
:class:`~sniper.clock.ManualClock`: its sleep moves the clock (each wake-up of the wait, every
30 s, runs as it would), and each opening's run is a fake that answers at once with what a shop
opening 150 ms late shows (a filled :class:`~sniper.client.sighting.Sighting`), so that a real
history line is written for every opening and read back for the next one's aim.

1. ``--openings`` openings from an empty history: Python's traced memory (``tracemalloc``, after
   a collection) and the process's RSS every ``--every`` openings, and the growth from the first
   sample to the last.
2. Openings per second with the history file already ``--lines`` lines long, beside the same
   with ``aim: published`` (which never reads the file): what reading it costs each opening, in
   time and in Python memory at its peak.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import random
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO

from sniper.client import history
from sniper.client.config import TaskConfig
from sniper.client.console import Console
from sniper.client.engine import RunSummary
from sniper.client.policy import Result
from sniper.client.repeating import Repeater, opening_record
from sniper.client.sighting import Sighting
from sniper.client.timesync import Estimate
from sniper.clock import ManualClock

#: Where the task's orders would go: the history's ``shop``.
SHOP = "127.0.0.1:9"
#: The fake clock's start (2024-01-01 00:00 UTC).
START = 1_704_067_200.0
#: How late the simulated shop really opens (ms after its published time), and its wander.
LATE_MS, WANDER_MS = 150.0, 5.0


def rss_mib() -> float:
    """This process's resident memory, MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def make_task(history_file: Path, aim: str) -> TaskConfig:
    """The repeating task (never sent anywhere: its runs are fakes)."""
    return TaskConfig.model_validate(
        {
            "base_url": f"http://{SHOP}",
            "cookie": "session=bench",
            "sku_id": "eggs",
            "target_time": ["05:59:00", "08:29:00"],
            "tz": "Asia/Shanghai",
            "repeat": "daily",
            "aim": aim,
            "history_file": str(history_file),
        }
    )


class Shop:
    """Fake runs of a shop that opens ``LATE_MS`` after its published time."""

    def __init__(self, clock: ManualClock, seed: int = 1) -> None:
        self.clock, self.rng, self.runs = clock, random.Random(seed), 0
        self.every: int | None = None
        self.samples: list[tuple[int, float, float]] = []
        self.stop_after: int | None = None

    async def run_opening(self, task: TaskConfig, cookie: str, aim_ms: float) -> RunSummary:
        """One opening as the shop answers it: closed until it opens, one order in three."""
        self.runs += 1
        opening = float(task.target_ms)
        real = opening + LATE_MS + self.rng.uniform(-WANDER_MS, WANDER_MS)
        first = opening + aim_ms + 0.2
        closed = first < real
        opened = max(first, real + self.rng.uniform(0.1, 2.0))
        ordered = self.runs % 3 == 0
        seen = Sighting(
            first_arrival=first,
            first_not_started=first if closed else None,
            last_not_started=real - self.rng.uniform(0.1, 2.0) if closed else None,
            first_open=opened,
            first_accepted=opened if ordered else None,
            sold_out=opened + 40.0,
            requests=self.rng.randint(3, 9),
            one_way_ms=0.1,
        )
        wall_minus_mono = (self.clock.time() - self.clock.monotonic()) * 1000
        # The run lasts from its start until a second past the opening.
        self.clock.advance(max(0.0, opening / 1000 + 1 - self.clock.time()))
        self._sample()
        return RunSummary(
            Result.ORDERED if ordered else Result.NOT_ORDERED,
            order_id=f"o-{self.runs}" if ordered else None,
            attempts=seen.requests,
            clock=Estimate(wall_minus_mono, 0.3, 0.2, "ms", 8),
            seen=seen,
            won_at=(opened + 0.5 - wall_minus_mono) if ordered else None,
        )

    async def sleep(self, seconds: float) -> None:
        """The wait between openings: the clock moves on, or the schedule is cancelled once
        enough openings have run."""
        if self.stop_after is not None and self.runs >= self.stop_after:
            raise asyncio.CancelledError
        self.clock.advance(seconds)

    def _sample(self) -> None:
        if self.every and self.runs % self.every == 0:
            gc.collect()
            self.samples.append((self.runs, tracemalloc.get_traced_memory()[0] / 1024, rss_mib()))


def repeat(task: TaskConfig, shop: Shop, openings: int) -> None:
    """Run the schedule for ``openings`` openings, then cancel it; its lines go nowhere (they
    are not the schedule's memory)."""
    with open(os.devnull, "w") as quiet:
        asyncio.run(_repeat(task, shop, openings, quiet))


async def _repeat(task: TaskConfig, shop: Shop, openings: int, quiet: TextIO) -> None:

    repeater = Repeater(
        task,
        "session=bench",
        Console(stream=quiet),
        shop.run_opening,
        clock=shop.clock,
        sleep=shop.sleep,
    )
    shop.stop_after = shop.runs + openings
    with contextlib.suppress(asyncio.CancelledError):
        await repeater.run()


def prefill(path: Path, lines: int, task: TaskConfig, clock: ManualClock) -> None:
    """A history file of ``lines`` past openings of this shop and item, the last one just
    before the clock's present."""
    shop = Shop(ManualClock(), seed=2)
    at = datetime.fromtimestamp(clock.time(), UTC) - timedelta(days=(lines + 1) / 2)
    with path.open("w") as out:
        for _ in range(lines):
            found = task.openings.next_opening(at)
            assert found is not None  # a daily schedule never ends
            at = found
            one = task.at(at)
            summary = asyncio.run(shop.run_opening(one, "", LATE_MS - 4))
            result = summary.result.name.lower()
            record = opening_record(
                one, summary, shop=SHOP, aim_ms=LATE_MS - 4, result=result, now=at
            )
            out.write(record.to_json() + "\n")


def series(openings: int, every: int, aim: str) -> None:
    """Part 1: memory every ``every`` openings from an empty history."""
    with tempfile.TemporaryDirectory(prefix="sniper-repeat-") as tmp:
        path = Path(tmp, "history.jsonl")
        shop = Shop(ManualClock(START))
        shop.every = every
        tracemalloc.start()
        started = time.perf_counter()
        repeat(make_task(path, aim), shop, openings)
        elapsed = time.perf_counter() - started
        tracemalloc.stop()
        records = history.read(path)
        size = path.stat().st_size
    print(
        f"repeat_memory: {openings} openings (daily 05:59 and 08:29 Asia/Shanghai, aim: {aim}, "
        f"a wake-up every 30 s between) in {elapsed:.1f} s; history {len(records)} lines, "
        f"{size / 1024:.0f} KiB; last aim {records[-1].aim_ms:.1f} ms"
    )
    print(f"{'openings':>8} {'traced KiB':>11} {'RSS MiB':>8}")
    for runs, traced, rss in shop.samples:
        print(f"{runs:>8} {traced:>11.1f} {rss:>8.1f}")
    (n0, t0, r0), (n1, t1, r1) = shop.samples[0], shop.samples[-1]
    print(
        f"growth from opening {n0} to {n1}: traced {t1 - t0:+.1f} KiB "
        f"({(t1 - t0) * 1024 / (n1 - n0):+.1f} bytes per opening), RSS {r1 - r0:+.1f} MiB"
    )


def rates(sizes: list[int], openings: int) -> None:
    """Part 2: the time of an opening with a long history, beside ``aim: published``."""
    print(
        f"{'history lines':>13} {'aim':>9} {'openings/s':>10} {'ms each':>8} "
        f"{'ms more than published':>22} {'peak KiB of one opening':>23}"
    )
    for lines in sizes:
        base = 0.0
        for aim in ("published", "learned"):
            with tempfile.TemporaryDirectory(prefix="sniper-repeat-") as tmp:
                path = Path(tmp, "history.jsonl")
                task = make_task(path, aim)
                clock = ManualClock(START)
                prefill(path, lines, task, clock)
                shop = Shop(clock)
                started = time.perf_counter()
                repeat(task, shop, openings)
                each = 1000 * (time.perf_counter() - started) / openings
                tracemalloc.start()
                repeat(task, shop, 1)
                peak = tracemalloc.get_traced_memory()[1] / 1024
                tracemalloc.stop()
            base = base or each
            print(
                f"{lines:>13} {aim:>9} {1000 / each:>10.0f} {each:>8.2f} {each - base:>22.2f} "
                f"{peak:>23.0f}"
            )


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--openings", type=int, default=1000, help="0: the rates alone")
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--aim", choices=("learned", "published"), default="learned")
    parser.add_argument("--lines", default="10,1000,10000", help="history lengths for the rates")
    parser.add_argument("--rate-openings", type=int, default=200)
    args = parser.parse_args()
    if args.openings >= 2 * args.every:
        series(args.openings, args.every, args.aim)
    rates([int(n) for n in args.lines.split(",") if n], args.rate_openings)


if __name__ == "__main__":
    main()
