"""A repeating task's loop, with a fake clock and fake runs: which openings run, when, with which
cookie and aim; what a refused cookie, a surprise, a suspend and a signal do; the history."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sniper.client import history
from sniper.client.config import TaskConfig
from sniper.client.console import Console
from sniper.client.engine import RunSummary
from sniper.client.policy import Result
from sniper.client.repeating import LEAD_S, Repeater
from sniper.client.sighting import Sighting
from sniper.clock import ManualClock

START = datetime(2024, 4, 15, 0, 0, tzinfo=UTC)


def _task(tmp_path: Path, **fields: Any) -> TaskConfig:
    cookie = tmp_path / "me.cookie"
    if not cookie.exists():
        cookie.write_text("session=first-cookie-value\n")
    base: dict[str, Any] = {
        "base_url": "http://127.0.0.1:9",
        "sku_id": "eggs",
        "cookie_file": str(cookie),
        "target_time": ["07:00:00Z", "08:00:00Z"],
        "repeat": "daily",
        "history_file": str(tmp_path / "history.jsonl"),
        "log_file": str(tmp_path / "sniper.log"),
    }
    return TaskConfig.model_validate(base | fields)


class Shop:
    """Fake runs: each answers the next result of ``results`` (then ``NOT_ORDERED``), after
    ``takes_s`` of the fake clock."""

    def __init__(self, clock: ManualClock, results: list[Result | Exception] | None = None):
        self.clock, self.results = clock, list(results or [])
        self.runs: list[tuple[datetime, str, float, datetime]] = []
        self.takes_s = 5.0
        self.on_run: Callable[[int], None] | None = None

    async def run_opening(self, task: TaskConfig, cookie: str, aim_ms: float) -> RunSummary:
        started = datetime.fromtimestamp(self.clock.time(), UTC)
        self.runs.append((task.opening, cookie, aim_ms, started))
        if self.on_run is not None:
            self.on_run(len(self.runs))
        self.clock.advance(self.takes_s)
        result = self.results.pop(0) if self.results else Result.NOT_ORDERED
        if isinstance(result, Exception):
            raise result
        opening_ms = task.target_ms
        seen = Sighting(
            first_arrival=opening_ms + 1.0,
            last_not_started=opening_ms + 149.0,
            first_open=opening_ms + 151.0,
            requests=4,
        )
        order = "o-1" if result is Result.ORDERED else None
        return RunSummary(result, order, seen=seen)


class Harness:
    """A Repeater on a fake clock; ``sleep`` moves the clock and counts the wakes; the loop
    is stopped (cancelled) once ``runs`` openings have run, or by the test."""

    def __init__(
        self, tmp_path: Path, results: list[Result | Exception] | None = None, **fields: Any
    ):
        self.clock = ManualClock(wall=START.timestamp())
        self.shop = Shop(self.clock, results)
        self.out = io.StringIO()
        self.task = _task(tmp_path, **fields)
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[int], None] | None = None
        self.repeater = Repeater(
            self.task,
            self.task.cookie_value(),
            Console("en", self.out),
            self.shop.run_opening,
            clock=self.clock,
            sleep=self.sleep,
        )

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(len(self.sleeps))
        self.clock.advance(seconds)
        await asyncio.sleep(0)

    async def run(self, *, runs: int) -> Result | None:
        """The loop until it ends, or until ``runs`` openings have run (then None)."""
        loop = asyncio.create_task(self.repeater.run())
        for _ in range(100_000):
            if loop.done() or len(self.shop.runs) >= runs:
                break
            await asyncio.sleep(0)
        if loop.done():
            return loop.result()
        loop.cancel()
        with pytest.raises(asyncio.CancelledError):
            await loop
        return None


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def test_every_opening_runs_once_in_order_started_ahead(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    assert await h.run(runs=3) is None
    openings = [run[0] for run in h.shop.runs]
    assert openings == [
        _at("2024-04-15T07:00:00+00:00"),
        _at("2024-04-15T08:00:00+00:00"),
        _at("2024-04-16T07:00:00+00:00"),
    ]
    lead = h.task.preflight_s + LEAD_S + h.task.preheat_ms / 1000
    for opening, _, aim_ms, started in h.shop.runs:
        assert 0 <= (opening - started).total_seconds() - lead < 1.0
        assert aim_ms == 0.0  # aim: published
    # Between openings the loop sleeps in long stretches: few wakes for hours of waiting.
    assert max(h.sleeps) == 30.0
    assert len(h.sleeps) <= sum(h.sleeps) / 30 + 3  # one wake per 30 s, a few short ones
    lines = history.read(h.task.history_file)
    assert [r.opening for r in lines] == [
        "2024-04-15T07:00:00.000+00:00",
        "2024-04-15T08:00:00.000+00:00",
        "2024-04-16T07:00:00.000+00:00",
    ]
    first = lines[0]
    assert (first.result, first.shop, first.sku_id, first.requests) == (
        "not_ordered",
        "127.0.0.1:9",
        "eggs",
        4,
    )
    assert (first.last_not_started_ms, first.first_open_ms, first.first_arrival_ms) == (
        149.0,
        151.0,
        1.0,
    )
    assert "next opening 2024-04-15T07:00:00.000+00:00 (in 7 h)" in h.out.getvalue()


async def test_repeat_until_ordered_stops_at_the_first_order(tmp_path: Path) -> None:
    h = Harness(tmp_path, [Result.NOT_ORDERED, Result.ORDERED], repeat_until="ordered")
    assert await h.run(runs=10) is Result.ORDERED
    assert len(h.shop.runs) == 2
    assert "no openings left (ordered)" in h.out.getvalue()


async def test_dates_run_on_those_days_and_end(tmp_path: Path) -> None:
    h = Harness(
        tmp_path,
        target_time="07:00:00+08:00",
        repeat=None,
        dates=["2024-04-16", "2024-04-18"],
    )
    assert await h.run(runs=10) is Result.NOT_ORDERED  # the last opening's result
    assert [run[0] for run in h.shop.runs] == [
        _at("2024-04-16T07:00:00+08:00"),
        _at("2024-04-18T07:00:00+08:00"),
    ]


async def test_dates_all_past_is_a_bad_task(tmp_path: Path) -> None:
    h = Harness(tmp_path, target_time="07:00:00Z", repeat=None, dates=["2024-04-01"])
    assert await h.run(runs=1) is Result.BAD_TASK
    assert h.shop.runs == []
    assert "no openings left (every day in dates is past)" in h.out.getvalue()


async def test_the_cookie_file_is_read_again_at_every_opening(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    cookie_file = tmp_path / "me.cookie"

    def replace(n: int) -> None:
        cookie_file.write_text(f"session=cookie-after-run-{n}\n")

    h.shop.on_run = replace
    await h.run(runs=3)
    assert [run[1] for run in h.shop.runs] == [
        "session=first-cookie-value",
        "session=cookie-after-run-1",
        "session=cookie-after-run-2",
    ]


async def test_a_refused_cookie_waits_for_its_file_to_change(tmp_path: Path) -> None:
    """Refused at the first opening: the openings while the file stays as it was are skipped;
    once it changes, the next opening runs with the new cookie."""
    h = Harness(tmp_path, [Result.AUTH_FAILED, Result.ORDERED])
    cookie_file = tmp_path / "me.cookie"
    polls: list[int] = []

    def replace_late(n: int) -> None:
        if len(h.shop.runs) == 1:
            polls.append(n)
            if len(polls) == 3 * 3600 // 2:  # three hours of polls later: past 08:00
                cookie_file.write_text("session=fresh-cookie-value\n")

    h.on_sleep = replace_late
    await h.run(runs=2)
    (first, _, _, _), (second, cookie, _, _) = h.shop.runs
    assert first == _at("2024-04-15T07:00:00+00:00")
    assert second == _at("2024-04-16T07:00:00+00:00")  # 08:00 passed while waiting
    assert cookie == "session=fresh-cookie-value"
    out = h.out.getvalue()
    assert f"waiting for {cookie_file} to change" in out
    assert f"✓ {cookie_file} changed: going on" in out
    assert [r.result for r in history.read(h.task.history_file)] == ["auth_failed", "ordered"]


async def test_an_unreadable_cookie_file_is_waited_out_too(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    cookie_file = tmp_path / "me.cookie"
    cookie_file.write_text("")

    def write_late(n: int) -> None:
        if n == 2000:
            cookie_file.write_text("session=written-at-last\n")

    h.on_sleep = write_late
    await h.run(runs=1)
    assert h.shop.runs[0][1] == "session=written-at-last"
    assert f"cookie_file: {cookie_file} is empty" in h.out.getvalue()


async def test_a_cookie_in_the_task_is_tried_again_at_the_next_opening(tmp_path: Path) -> None:
    h = Harness(tmp_path, [Result.AUTH_FAILED], cookie="session=inline-cookie-value")
    await h.run(runs=2)
    assert [run[0] for run in h.shop.runs] == [
        _at("2024-04-15T07:00:00+00:00"),
        _at("2024-04-15T08:00:00+00:00"),
    ]
    assert "trying again at the next opening" in h.out.getvalue()


async def test_a_surprise_at_one_opening_does_not_end_the_schedule(tmp_path: Path) -> None:
    h = Harness(tmp_path, [RuntimeError("boom"), Result.ORDERED])
    await h.run(runs=2)
    results = [r.result for r in history.read(h.task.history_file)]
    assert results[0] == "fatal"
    assert history.read(h.task.history_file)[0].detail == "RuntimeError"


async def test_waking_past_an_opening_skips_it(tmp_path: Path) -> None:
    """A machine suspended through an opening wakes after its retry window: that opening is
    skipped, the next one runs."""
    h = Harness(tmp_path)

    def suspend(n: int) -> None:
        if n == 5:
            h.clock.advance(8 * 3600)  # asleep until ~08:00:30

    h.on_sleep = suspend
    await h.run(runs=1)
    assert h.shop.runs[0][0] == _at("2024-04-16T07:00:00+00:00")


async def test_a_signal_mid_run_is_recorded_as_interrupted(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    gate = asyncio.Event()

    async def hangs(task: TaskConfig, cookie: str, aim_ms: float) -> RunSummary:
        gate.set()
        await asyncio.Event().wait()
        raise AssertionError

    h.repeater._run_opening = hangs
    loop = asyncio.create_task(h.repeater.run())
    await gate.wait()
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert [r.result for r in history.read(h.task.history_file)] == ["interrupted"]


async def test_aim_learned_comes_from_the_history(tmp_path: Path) -> None:
    h = Harness(tmp_path, aim="learned")
    await h.run(runs=3)
    aims = [run[2] for run in h.shop.runs]
    # Nothing to learn from at first; then each opening saw the shop closed at +149 ms and
    # open at +151 ms.
    assert aims == [0.0, 151.0, 151.0]
    assert "aiming to arrive +151.0 ms after it (learned from 1 opening(s))" in h.out.getvalue()


async def test_a_history_file_that_cannot_be_written_is_said_once(tmp_path: Path) -> None:
    h = Harness(tmp_path, history_file=str(tmp_path))  # a folder
    await h.run(runs=3)
    assert len(h.shop.runs) == 3
    assert h.out.getvalue().count("history_file: cannot write") == 1


async def test_a_run_starts_ahead_across_a_daylight_saving_change(tmp_path: Path) -> None:
    """03:00 in Berlin on the night clocks go forward (02:00 → 03:00) is 01:00 UTC: its run
    starts the lead before that, not by the wall clock of a zone that skipped an hour."""
    h = Harness(tmp_path, target_time="03:00:00", tz="Europe/Berlin")
    h.clock = ManualClock(wall=datetime(2024, 3, 30, 0, 0, tzinfo=UTC).timestamp())
    h.shop.clock = h.clock
    h.repeater.clock = h.clock
    await h.run(runs=2)
    lead = h.task.preflight_s + LEAD_S + h.task.preheat_ms / 1000
    for opening, _, _, started in h.shop.runs:
        assert 0 <= (opening - started).total_seconds() - lead < 1.0
    assert [run[0].astimezone(UTC) for run in h.shop.runs] == [
        datetime(2024, 3, 30, 2, 0, tzinfo=UTC),  # CET
        datetime(2024, 3, 31, 1, 0, tzinfo=UTC),  # CEST, the night of the change
    ]


async def test_an_empty_given_cookie_reads_the_file_and_waits_for_it(tmp_path: Path) -> None:
    """``SNIPER_COOKIE=`` (empty) leaves the cookie to cookie_file: a file emptied after the
    first opening is waited for, with no loop spinning on the next opening meanwhile."""
    h = Harness(tmp_path, cookie="")
    cookie_file = tmp_path / "me.cookie"

    def empty_after_first(n: int) -> None:
        if n == 1:
            cookie_file.write_text("")

    h.shop.on_run = empty_after_first
    waits: list[int] = []

    def write_late(n: int) -> None:
        if "is empty: waiting for" in h.out.getvalue():
            waits.append(n)
            if len(waits) == 100:
                cookie_file.write_text("session=written-at-last\n")

    h.on_sleep = write_late
    await h.run(runs=2)
    assert [run[1] for run in h.shop.runs] == [
        "session=first-cookie-value",
        "session=written-at-last",
    ]
    assert h.out.getvalue().count("is empty: waiting for") == 1


async def test_a_hostile_history_does_not_end_a_learned_schedule(tmp_path: Path) -> None:
    (tmp_path / "history.jsonl").write_text(
        '{"v":1,"task":"t","shop":"127.0.0.1:9","sku_id":"eggs","opening":"x",'
        '"opening_ms":1,"aim_ms":0.0,"result":"ordered","first_open_ms":' + "9" * 400 + "}\n"
    )
    h = Harness(tmp_path, aim="learned")
    await h.run(runs=2)
    assert [run[2] for run in h.shop.runs] == [0.0, 151.0]


async def test_repeat_until_ordered_remembers_an_order_across_a_restart(tmp_path: Path) -> None:
    first = Harness(tmp_path, [Result.ORDERED], repeat_until="ordered")
    assert await first.run(runs=5) is Result.ORDERED
    again = Harness(tmp_path, repeat_until="ordered")
    assert await again.run(runs=5) is Result.ORDERED
    assert again.shop.runs == []
    assert again.repeater.order_id == "o-1"
    assert "✓ already ordered at the opening 2024-04-15T07:00:00.000+00:00 (order o-1" in (
        again.out.getvalue()
    )
    other_item = Harness(tmp_path, repeat_until="ordered", sku_id="milk")
    assert await other_item.run(runs=1) is None  # another item: its schedule runs
    other_times = Harness(tmp_path, repeat_until="ordered", target_time="09:00:00Z")
    assert await other_times.run(runs=1) is None  # another schedule: the order was not its


async def test_a_signal_during_the_wait_is_said_once(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    loop = asyncio.create_task(h.repeater.run())
    for _ in range(20):
        await asyncio.sleep(0)
    loop.cancel()
    with pytest.raises(asyncio.CancelledError):
        await loop
    assert h.out.getvalue().count("✗ interrupted") == 1
