"""A task whose openings repeat: one full run per opening, a quiet wait between, a history.

Each opening is a whole run (:class:`~sniper.client.engine.Sniper`), started :data:`LEAD_S`
before its pre-flight: the cookie read again, the clock measured, the pre-flight, preheat, the
burst and its retries, the notification. Between openings the task sleeps in short stretches of
the wall clock, so that a machine that was suspended, or a clock that was stepped, is noticed
within one; on a terminal a status line says what comes next. A refused cookie is told, and
when it comes from a ``cookie_file`` the task waits for that file to change. Nothing that goes
wrong at one opening ends the schedule. Every opening adds one line to the history file, from
which ``aim: learned`` takes its aim (:mod:`sniper.client.aim`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sniper.client import aim, history
from sniper.client.clockboard import ClockBoard
from sniper.client.config import TaskConfig
from sniper.client.console import Console
from sniper.client.engine import RunSummary, Sniper
from sniper.client.gate import FireGate
from sniper.client.notify import Notifier
from sniper.client.platforms import platform_for
from sniper.client.policy import Result
from sniper.client.scrub import printable
from sniper.clock import Clock
from sniper.errors import ConfigError
from sniper.ratelimit import TokenBucket

#: A run starts this long before its pre-flight (and the local clock may be off by as much).
LEAD_S = 60.0
#: Without a terminal the wait wakes this often: a suspend or a clock step is noticed so soon.
QUIET_WAKE_S = 30.0
#: On a terminal the status line is redrawn this often.
LIVE_WAKE_S = 1.0
#: How often a cookie file that is waited for is looked at (one ``stat``).
COOKIE_POLL_S = 2.0
#: The learned aim reads this much of the history file's end: thousands of openings, at a cost
#: that does not grow with the file.
HISTORY_READ_BYTES = 1 << 20

#: Runs one opening: the task at that opening, its cookie, the aim (ms after the opening).
RunOpening = Callable[[TaskConfig, str, float], Awaitable[RunSummary]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class Shared:
    """What the tasks of one run share (see :mod:`sniper.client.many`)."""

    clocks: ClockBoard | None = None
    bucket: TokenBucket | None = None
    gate: FireGate | None = None


def sniper_runs(console: Console, clock: Clock, shared: Shared | None = None) -> RunOpening:
    """Each opening run as one :class:`~sniper.client.engine.Sniper`, with what is shared."""
    given = shared or Shared()

    async def run_opening(task: TaskConfig, cookie: str, aim_ms: float) -> RunSummary:
        sniper = Sniper(
            task,
            console,
            clock=clock,
            cookie=cookie,
            clocks=given.clocks,
            bucket=given.bucket,
            gate=given.gate,
            aim_ms=aim_ms,
        )
        return await sniper.run()

    return run_opening


def earlier_order(task: TaskConfig, shop: str) -> history.Opening | None:
    """With ``repeat_until: ordered``, the order this task's schedule already has in its history
    file (its task, shop and item, at one of its openings), if any: a restarted task stops."""
    if not task.openings.until_ordered:
        return None
    try:
        records = history.read(task.history_file, last_bytes=HISTORY_READ_BYTES)
    except OSError:
        return None
    mine = [
        r
        for r in records
        if r.result == "ordered"
        and (r.task, r.shop, r.sku_id) == (task.name, shop, task.sku_id)
        and task.openings.opens_at(datetime.fromtimestamp(r.opening_ms / 1000, UTC))
    ]
    return mine[-1] if mine else None


def learned_aim(task: TaskConfig, shop: str) -> aim.Aim:
    """The task's aim: with ``aim: learned``, from the latest openings in its history file
    (one that cannot be read is no history)."""
    if task.aim != "learned":
        return aim.Aim(0.0)
    try:
        records = history.read(task.history_file, last_bytes=HISTORY_READ_BYTES)
    except OSError:
        records = []
    return aim.learned(records, shop=shop, sku_id=task.sku_id, window_ms=task.retry.window_s * 1000)


class Repeater:
    """One task's openings, one after another, until the schedule ends."""

    def __init__(
        self,
        task: TaskConfig,
        cookie: str,
        console: Console,
        run_opening: RunOpening,
        *,
        clock: Clock,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.task, self.console, self.clock = task, console, clock
        self._run_opening, self._sleep = run_opening, sleep
        self._cookie = cookie
        self._cookie_seen = _signature(task.cookie_path)
        self.shop = platform_for(task, cookie).origin.host_header
        self._last = self._last_said()
        self._history_failed = False
        self._running = False
        #: The order of the latest opening that ordered.
        self.order_id: str | None = None

    def _last_said(self) -> str:
        """The status line's "last": this task's latest opening in its history (a restart
        remembers it), or ``-``."""
        try:
            records = history.read(self.task.history_file, last_bytes=HISTORY_READ_BYTES)
        except OSError:
            return "-"
        mine = [r for r in records if r.task == self.task.name and r.sku_id == self.task.sku_id]
        if not mine:
            return "-"
        order = f", {printable(mine[-1].order_id)}" if mine[-1].order_id else ""
        return self.console.word(mine[-1].result) + order

    async def run(self) -> Result:
        """Every opening of the schedule; the result: ordered if any opening ordered, else
        the last opening's (a bad task when there was none left to run)."""
        try:
            return await self._openings()
        except asyncio.CancelledError:
            if not self._running:  # a run says so itself
                self.console.say("interrupted")
            raise

    async def _openings(self) -> Result:
        window = timedelta(seconds=self.task.retry.window_s)
        done: datetime | None = None
        ordered, last = False, Result.BAD_TASK
        if self._ordered_before():
            return Result.ORDERED  # a restart after the order: nothing is left to do
        while True:
            # An opening whose retry window is still open is run: late beats never.
            after = self._now() - window
            opening = self.task.openings.next_opening(
                after if done is None else max(after, done), ordered=ordered
            )
            if opening is None:
                why = "ordered" if ordered else "the schedule is over"
                if done is None:
                    why = "every day in dates is past"
                self.console.say("schedule_over", why=self.console.word(why))
                break
            planned = learned_aim(self.task, self.shop)
            if not await self._wait_for(opening, planned):
                continue  # woke past it (a suspend, a clock step): the next one
            if not await self._fresh_cookie():
                if self.task.cookie_path is None:
                    done = opening  # nothing to wait for: on to the next opening
                continue
            summary = await self._one(opening, planned.offset_ms)
            done, last = opening, summary.result
            if summary.result is Result.ORDERED:
                ordered, self.order_id = True, summary.order_id
            if summary.result is Result.AUTH_FAILED:
                await self._cookie_refused(summary.detail or "the cookie was refused")
        return Result.ORDERED if ordered else last

    def _ordered_before(self) -> bool:
        """Whether ``repeat_until: ordered`` already has its order (said if so)."""
        earlier = earlier_order(self.task, self.shop)
        if earlier is None:
            return False
        self.order_id = earlier.order_id
        self.console.say(
            "ordered_before",
            at=printable(earlier.opening),
            order_id=printable(self.order_id or "-"),
            path=str(self.task.history_file),
        )
        return True

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock.time(), UTC)

    async def _wait_for(self, opening: datetime, planned: aim.Aim) -> bool:
        """Sleep until the run for ``opening`` is due; False if the clock is already past
        its retry window."""
        lead = self.task.preflight_s + LEAD_S + self.task.preheat_ms / 1000
        # In UTC: an aware datetime plus a timedelta is wall-clock arithmetic in its own zone,
        # which a daylight-saving change would bend by an hour.
        at = opening.astimezone(UTC)
        start = at - timedelta(seconds=lead)
        shown = opening.isoformat(timespec="milliseconds")
        aimed = ""
        if planned.openings:
            aimed = self.console.text(
                "aim_learned", offset=planned.offset_ms, n=len(planned.openings)
            )
        until = self.console.duration((opening - self._now()).total_seconds())
        self.console.say("next_opening", at=shown, wait=until, aim=aimed)
        while (left := (start - self._now()).total_seconds()) > 0:
            until = self.console.duration((opening - self._now()).total_seconds(), units_shown=3)
            self.console.status("between", at=shown, wait=until, last=self._last)
            await self._sleep(min(left, LIVE_WAKE_S if self.console.live else QUIET_WAKE_S))
        return self._now() <= at + timedelta(seconds=self.task.retry.window_s)

    async def _fresh_cookie(self) -> bool:
        """The cookie read again (a cookie_file may have been replaced); False if it cannot
        be used (told, and waited for)."""
        self._cookie_seen = _signature(self.task.cookie_path)
        try:
            self._cookie = self.task.cookie_value()
        except ConfigError as exc:
            await self._cookie_refused(str(exc))
            return False
        return True

    async def _one(self, opening: datetime, aim_ms: float) -> RunSummary:
        """One opening's run, told and written to the history; a surprise is a failed opening,
        never the schedule's end."""
        task = self.task.at(opening)
        summary = RunSummary(Result.FATAL, detail="interrupted")
        self._running = True  # still so while a cancellation leaves: the run said it
        try:
            summary = await self._run_opening(task, self._cookie, aim_ms)
        except asyncio.CancelledError:
            self._record(task, aim_ms, summary, "interrupted")
            raise
        except Exception as exc:
            summary = RunSummary(Result.FATAL, detail=type(exc).__name__)
        self._running = False
        result = summary.result.name.lower()
        self._record(task, aim_ms, summary, result)
        order = f", {summary.order_id}" if summary.order_id else ""
        self._last = self.console.word(result) + order
        self.console.say(
            "opening_done",
            at=opening.isoformat(timespec="milliseconds"),
            result=self.console.word(result),
            order=order,
        )
        return summary

    def _record(self, task: TaskConfig, aim_ms: float, summary: RunSummary, result: str) -> None:
        record = opening_record(
            task, summary, shop=self.shop, aim_ms=aim_ms, result=result, now=self._now()
        )
        try:
            history.append(task.history_file, record)
        except OSError as exc:  # the next opening matters more than its record: said once
            if not self._history_failed:
                self._history_failed = True
                self.console.say(
                    "history_failed", path=str(task.history_file), detail=exc.strerror or "error"
                )

    async def _cookie_refused(self, detail: str) -> None:
        """Tell it; with a cookie_file, wait until that file changes."""
        file = self.task.cookie_path
        waits = file is not None
        notifier = Notifier(self.task.notify, lambda m: self.console.say("notify_failed", detail=m))
        if waits:
            self.console.say("cookie_wait", detail=detail, file=str(file))
            notifier.send(
                "sniper: cookie refused",
                f"task {self.task.name}: {detail}; waiting for {file} to change",
            )
        else:
            self.console.say("cookie_again", detail=detail)
            notifier.send("sniper: cookie refused", f"task {self.task.name}: {detail}")
        await notifier.drain()
        if not waits:
            return
        while _signature(file) == self._cookie_seen:
            await self._sleep(COOKIE_POLL_S)
        self.console.say("cookie_changed", file=str(file))


def opening_record(
    task: TaskConfig,
    summary: RunSummary,
    *,
    shop: str,
    aim_ms: float,
    result: str,
    now: datetime,
) -> history.Opening:
    """The history line of one opening's run."""
    opening_ms = task.target_ms
    seen = summary.seen

    def rel(at: float | None) -> float | None:
        return None if at is None else at - opening_ms

    late = None
    if summary.won_at is not None and summary.clock is not None:
        late = summary.clock.server_time(summary.won_at) - opening_ms
    return history.Opening(
        task=task.name,
        shop=shop,
        sku_id=task.sku_id,
        opening=task.opening.isoformat(timespec="milliseconds"),
        opening_ms=opening_ms,
        aim_ms=aim_ms,
        result=result,
        order_id=summary.order_id,
        first_arrival_ms=rel(seen.first_arrival),
        first_not_started_ms=rel(seen.first_not_started),
        last_not_started_ms=rel(seen.last_not_started),
        first_open_ms=rel(seen.first_open),
        first_accepted_ms=rel(seen.first_accepted),
        sold_out_ms=rel(seen.sold_out),
        late_ms=late,
        requests=seen.requests,
        detail=summary.detail,
        written=now.astimezone().isoformat(timespec="seconds"),
    )


def _signature(path: Path | None) -> tuple[int, int, int, int] | None:
    """What tells a replaced, rewritten or re-permitted file: its inode, size, modification
    and change times (a ``chmod`` changes only the last)."""
    if path is None:
        return None
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
