"""The server's clock through one run, and the fire plan that follows from it.

A short-lived connection to where the clock is read measures it first (again while waiting, at
the schedule's checkpoints and after a clock jump), and the warming requests on the burst's own
connections give the last samples (unless the clock is another origin's: then they only warm).
Every measurement answers a fresh :class:`~sniper.client.schedule.FirePlan`, which carries the
estimate it was made from; nothing else holds the estimate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence

from sniper.client import schedule
from sniper.client.clockboard import ClockBoard
from sniper.client.config import TaskConfig
from sniper.client.connection import Connection, ConnectionBroken
from sniper.client.neterrors import TRANSIENT, retry_delay_s
from sniper.client.probe import ClockError, measure, take_sample
from sniper.client.report import Reporter
from sniper.client.schedule import FirePlan
from sniper.client.shop import Shop
from sniper.client.timesync import Estimate, Sample, estimate, whole_seconds

_TICK_MS = 100.0
_IDLE_TICK_MS = 1000.0
#: Before the server's clock is measured, stop waiting for an unreachable server this long
#: before our own clock's preheat (the server's clock may be ahead).
_UNMEASURED_MARGIN_MS = 5_000.0

#: Run once, at the schedule's pre-flight checkpoint, with the plan of the moment; False ends
#: the wait (the task stops before the opening).
Preflight = Callable[[FirePlan], Awaitable[bool]]


class ClockKeeper:
    """Measures one task's server clock and answers the plan; keeps the samples between."""

    def __init__(
        self,
        task: TaskConfig,
        shop: Shop,
        reporter: Reporter,
        board: ClockBoard,
        *,
        aim_ms: float = 0.0,
    ) -> None:
        self._task, self._shop, self._reporter, self._board = task, shop, reporter, board
        #: The burst is planned to arrive this long after the opening (``aim: learned``).
        self._arrive_ms = task.target_ms + aim_ms
        self._clock = shop.clock
        # Date-header samples keep their worth (seconds, not ms, of resolution): pooled.
        self._samples: list[Sample] = []

    def _now(self) -> float:
        return self._clock.monotonic() * 1000

    def _wall_minus_mono(self) -> float:
        return (self._clock.time() - self._clock.monotonic()) * 1000

    def _plan(self, est: Estimate) -> FirePlan:
        # The estimate maps our monotonic clock to the server's wall clock, so a local wall
        # clock step while waiting cannot move the plan.
        return schedule.plan(self._arrive_ms, est, self._task.preheat_ms)

    async def first_plan(self) -> FirePlan:
        """The first measurement's plan. A server that cannot be reached yet (refused, no
        answer, no network) is tried again with a growing pause until shortly before preheat
        (said once): a run started hours ahead must not end because the shop restarts now."""
        tries = 0
        while True:
            try:
                plan = await self._measure()
            except ClockError as exc:
                cause = exc.__cause__
                if not isinstance(cause, ConnectionBroken) or cause.kind not in TRANSIENT:
                    raise
                delay = retry_delay_s(tries, (self._preheat_guess() - self._now()) / 1000)
                if delay is None:
                    raise
                tries += 1
                wait_s = (self._preheat_guess() - self._now()) / 1000
                self._reporter.unreachable(exc, tries=tries, wait_s=wait_s)
                await asyncio.sleep(delay)
                continue
            if tries:
                self._reporter.reached(self._shop.clock_origin.host_header)
            return plan

    def _preheat_guess(self) -> float:
        """Preheat on our monotonic clock before the server's clock is known (taken as ours),
        less a margin for the difference."""
        return (
            self._arrive_ms
            - self._task.preheat_ms
            - _UNMEASURED_MARGIN_MS
            - self._wall_minus_mono()
        )

    async def _measure(
        self, *, fresh: bool = False, wait_until_ms: float | None = None
    ) -> FirePlan:
        """Measure on a connection of its own (shared with other tasks through the board)."""
        source, timeout_s = self._shop.time, self._task.timeout_s
        # Samples of a clock read in whole seconds keep their worth (they narrow one another).
        earlier = self._samples if whole_seconds(self._samples) else None

        def preheat_at(est: Estimate) -> float:
            return self._plan(est).preheat_at

        try:
            async with self._shop.clock_connected(timeout_s) as conn:

                async def measure_here() -> tuple[Estimate, list[Sample]]:
                    return await measure(
                        conn,
                        source,
                        self._clock,
                        timeout_s=timeout_s,
                        earlier=earlier,
                        must_end=preheat_at,
                    )

                est, self._samples = await self._board.get(
                    self._shop.clock_key,
                    self._now,
                    measure_here,
                    force=fresh,
                    wait_until_ms=wait_until_ms,
                )
        except ConnectionBroken as exc:
            raise ClockError(str(exc)) from exc
        self._reporter.measured(est)
        return self._plan(est)

    async def wait_for_preheat(self, plan: FirePlan, preflight: Preflight) -> FirePlan | None:
        """Wait for preheat: ``preflight`` once, the clock re-measured at the checkpoints, the
        countdown kept fresh. The plan from the latest estimate, or None if ``preflight`` ended
        the wait."""
        baseline, measured_at, preflighted = self._wall_minus_mono(), self._now(), False
        while self._now() < plan.preheat_at:
            now = self._now()
            if schedule.clock_jumped(baseline, self._clock.time() * 1000, now):
                # Slept, or the clock was stepped: nothing measured before counts.
                self._reporter.clock_jump(self._wall_minus_mono() - baseline)
                self._samples = []
                plan, baseline = await self._remeasure(plan, fresh=True), self._wall_minus_mono()
                measured_at = self._now()
                continue
            point = schedule.next_checkpoint(
                plan, now, measured_at, self._task.preflight_s * 1000, preflighted
            )
            if point is not None and point[0] <= now:
                if point[1] == "preflight":
                    preflighted = True
                    if not await preflight(plan):
                        return None
                else:
                    plan, measured_at = await self._remeasure(plan), self._now()
                continue
            self._reporter.countdown(plan, now)
            until = min(plan.preheat_at, point[0] if point else plan.preheat_at)
            # A terminal's countdown redraws ten times a second; otherwise wake once a second
            # (to notice a clock jump), so that a long wait costs next to no CPU.
            tick = _TICK_MS if self._reporter.live else _IDLE_TICK_MS
            await asyncio.sleep(max(0.0, min(tick, until - now)) / 1000)
        return plan

    async def _remeasure(self, plan: FirePlan, *, fresh: bool = False) -> FirePlan:
        try:
            # Another task's measurement of the same server may not hold this one past preheat.
            return await self._measure(fresh=fresh, wait_until_ms=plan.preheat_at)
        except ClockError as exc:  # a blip while waiting: keep the last estimate
            self._reporter.remeasure_failed(exc)
            return plan

    async def warm(self, conns: Sequence[Connection], plan: FirePlan) -> FirePlan:
        """At the plan's warm instant, one small request on every connection at once: warms
        them and, when the clock is read on their origin, gives fresh clock samples. Bounded so
        that it ends before the send; a connection that broke or did not answer in time is
        opened afresh (also bounded)."""
        remaining = plan.warm_at - self._now()
        if remaining > 0:
            await asyncio.sleep(remaining / 1000)
        send_at = plan.send_at
        budget_s = max(0.001, (send_at - self._now() - schedule.SPIN_MS) / 1000)

        async def warm_one(conn: Connection) -> Sample | None:
            try:
                if self._shop.clock_apart:  # another server's answer: no sample of the clock
                    await conn.ensure_open(budget_s)
                    await conn.request(self._shop.platform.warm_call(), budget_s)
                    return None
                return await take_sample(conn, self._shop.time, budget_s)
            except (ConnectionBroken, ClockError):
                await conn.aclose()
                with contextlib.suppress(ConnectionBroken):
                    await conn.open(max(0.001, (send_at - self._now()) / 1000))
                return None

        answers = await asyncio.gather(*(warm_one(c) for c in conns))
        fresh = [s for s in answers if s is not None]
        if not fresh:
            return plan
        # Seconds-old samples still bound the offset (clocks drift by microseconds a second):
        # pooled with the fresh ones, the intersection stays tight.
        self._samples = [*self._samples, *fresh]
        return self._plan(estimate(self._samples))
