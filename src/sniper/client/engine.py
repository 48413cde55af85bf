"""Running one task, in phases: measure the clock, wait, preheat, fire and retry, report.

The timeline (see :mod:`sniper.client.schedule`): the
:class:`~sniper.client.clockkeeper.ClockKeeper` measures the server's clock on a short-lived
connection and answers a fire plan (again while waiting, with the pre-flight on the way); at
preheat exactly ``concurrency`` connections are opened and warmed shortly before the send (which
gives the last clock samples, on the very connections that will fire); the
:class:`~sniper.client.burst.Burst` fires and retries and answers a result; the
:class:`~sniper.client.report.Reporter` tells the console, the run log and the push channels.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field

from sniper.client import schedule
from sniper.client.burst import Burst
from sniper.client.checkout import StepFailed
from sniper.client.clockboard import ClockBoard
from sniper.client.clockkeeper import ClockKeeper
from sniper.client.config import TaskConfig
from sniper.client.connection import Connection, ConnectionBroken
from sniper.client.console import Console
from sniper.client.gate import FireGate
from sniper.client.policy import Result
from sniper.client.preflight import Checked, preflight
from sniper.client.probe import ClockError
from sniper.client.report import Reporter
from sniper.client.schedule import FirePlan
from sniper.client.shop import Shop
from sniper.client.sighting import Sighting
from sniper.client.timesync import Estimate
from sniper.clock import Clock, SystemClock
from sniper.ratelimit import TokenBucket


@dataclass(frozen=True)
class RunSummary:
    """What came of a run."""

    result: Result
    order_id: str | None = None
    existing: bool = False
    attempts: int = 0
    sent_server_ms: tuple[float, ...] = ()
    clock: Estimate | None = None
    detail: str = ""
    #: Every order the run was answered with (more than one: the shop took several requests of
    #: the burst as orders of their own).
    order_ids: tuple[str, ...] = ()
    #: What the answers showed of the shop's opening.
    seen: Sighting = field(default_factory=Sighting)
    #: Local monotonic ms our order's answer came.
    won_at: float | None = None

    @property
    def exit_code(self) -> int:
        """The CLI's exit code."""
        return self.result.value


class Sniper:
    """One task, run once."""

    def __init__(
        self,
        task: TaskConfig,
        console: Console,
        *,
        clock: Clock | None = None,
        cookie: str | None = None,
        clocks: ClockBoard | None = None,
        bucket: TokenBucket | None = None,
        gate: FireGate | None = None,
        aim_ms: float = 0.0,
    ) -> None:
        self.task = task
        self.clock = clock or SystemClock()
        self.shop = Shop(task, cookie, self.clock)
        self.request_id = f"snp-{secrets.token_hex(8)}"
        self.reporter = Reporter(
            task,
            console,
            cookie=self.shop.platform.cookie,
            clock=self.clock,
            request_id=self.request_id,
            more_secrets=self.shop.platform.secret_values,
        )
        self.keeper = ClockKeeper(
            task, self.shop, self.reporter, clocks or ClockBoard(fresh_ms=0.0), aim_ms=aim_ms
        )
        #: Shared with the run's other tasks: their bursts leave together, their retries keep
        #: to one rate per host.
        self.gate, self.bucket = gate or FireGate(self.clock), bucket
        #: How the run ended before the opening, when the pre-flight ended it.
        self._ended_early = RunSummary(
            Result.FATAL, detail="ended at the pre-flight", seen=self.reporter.seen
        )
        #: The pre-flight ran and every ``before`` step answered: their values are there.
        self._steps_ready = False

    def now(self) -> float:
        """Local monotonic milliseconds."""
        return self.clock.monotonic() * 1000

    async def run(self) -> RunSummary:
        """The whole timeline. Cancelling it (a signal) still closes everything and logs."""
        seen = self.reporter.seen
        summary = RunSummary(Result.FATAL, detail="interrupted", seen=seen)
        interrupted = False
        try:
            summary = await self._run()
            return summary
        except (ClockError, ConnectionBroken, StepFailed) as exc:
            summary = RunSummary(Result.FATAL, detail=str(exc), seen=seen)
            self.reporter.stopped(exc)
            return summary
        except Exception as exc:  # one task's surprise must not end the others
            summary = RunSummary(Result.FATAL, detail=type(exc).__name__, seen=seen)
            self.reporter.fatal(summary.detail)
            return summary
        except asyncio.CancelledError:
            interrupted = True
            self.reporter.interrupted()
            raise
        finally:
            await self.reporter.close(
                result="interrupted" if interrupted else summary.result.name.lower(),
                order_id=summary.order_id,
                order_ids=summary.order_ids,
                existing=summary.existing,
                detail=summary.detail,
            )

    async def _run(self) -> RunSummary:
        task = self.task
        if task.concurrency > 1 and not self.shop.platform.carries_request_id():
            self.reporter.no_request_id()
        plan = await self.keeper.first_plan()
        late = schedule.past_target(
            task.opening, plan.clock.server_time(self.now()), task.retry.window_s
        )
        if late is not None:
            self.reporter.bad_task(late)
            return RunSummary(Result.BAD_TASK, detail=late, seen=self.reporter.seen)
        self.reporter.waiting((plan.send_at - self.now()) / 1000)
        waited = await self.keeper.wait_for_preheat(plan, self._preflight)
        if waited is None:
            return self._ended_early
        return await self._fire(waited)

    async def _preflight(self, plan: FirePlan) -> bool:
        """The pre-flight, reported; False if it ends the task (a dead cookie, a ``before``
        step that no longer answers as captured), with :attr:`_ended_early` saying how."""
        checked = await preflight(
            self.shop,
            until=plan.preheat_at,
            timeout_s=self.task.timeout_s,
            request_id=self.request_id,
            server_now_ms=lambda: plan.clock.server_time(self.now()),
        )
        self.reporter.preflight(checked, at_server_ms=plan.clock.server_time(self.now()))
        before = checked.before
        self._steps_ready = checked.unreachable is None and (before is None or before.ok)
        return self._goes_on(checked)

    def _goes_on(self, checked: Checked) -> bool:
        """Whether the run goes on after a pre-flight; if not, :attr:`_ended_early` says how."""
        if checked.session_dead:
            self.reporter.session_dead()
            detail = checked.steps_failed or "the pre-flight login probe was refused"
            self._ended_early = RunSummary(
                Result.AUTH_FAILED, detail=detail, seen=self.reporter.seen
            )
            return False
        if checked.steps_failed:
            self._ended_early = RunSummary(
                Result.FATAL, detail=checked.steps_failed, seen=self.reporter.seen
            )
            return False
        return True

    async def _before_again(self, conn: Connection, plan: FirePlan) -> bool:
        """The ``before`` steps again at preheat (their values may have expired), on a burst
        connection, bounded so as to end before the warming; a failure keeps the pre-flight's
        values. False: the run ends, :attr:`_ended_early` says how."""
        if not self._steps_ready:
            return await self._before_late(conn, plan)

        def limit() -> float:
            return max(0.001, min(self.task.timeout_s, (plan.warm_at - self.now()) / 1000))

        try:
            async with asyncio.timeout(max(0.001, (plan.warm_at - self.now()) / 1000)):
                result = await self.shop.platform.before_opening(
                    conn,
                    request_id=self.request_id,
                    timeout_s=limit,
                    server_now_ms=lambda: plan.clock.server_time(self.now()),
                )
        except TimeoutError:
            await conn.aclose()  # a request may be on its way: the connection is opened anew
            self.reporter.steps_again(None)
            return True
        if result is None:
            return True
        if result.dead_cookie:
            self.reporter.session_dead()
            self._ended_early = RunSummary(
                Result.AUTH_FAILED, detail=result.failure, seen=self.reporter.seen
            )
            return False
        self.reporter.steps_again(result)
        return True

    async def _before_late(self, conn: Connection, plan: FirePlan) -> bool:
        """The ``before`` steps when the pre-flight gave no values (it could not run, or had no
        answer): unbounded by the warming (late beats never), reported as a pre-flight, and any
        failure ends the run, since the ``open`` steps cannot be built without them."""
        at = plan.clock.server_time(self.now())
        result = await self.shop.platform.before_opening(
            conn,
            request_id=self.request_id,
            timeout_s=lambda: self.task.timeout_s,
            server_now_ms=lambda: plan.clock.server_time(self.now()),
        )
        if result is None:
            return True
        checked = Checked(refused=result.refused, before=result)
        self.reporter.preflight(checked, at_server_ms=at)
        if result.unanswered:
            self._ended_early = RunSummary(
                Result.FATAL, detail=result.failure, seen=self.reporter.seen
            )
            return False
        return self._goes_on(checked)

    async def _fire(self, plan: FirePlan) -> RunSummary:
        """Preheat, warm, the burst and its retries, the outcome."""
        self.reporter.preheat()
        async with self.shop.opened(self.task.concurrency, self.task.timeout_s) as conns:
            if not await self._before_again(conns[0], plan):
                return self._ended_early
            plan = await self.keeper.warm(conns, plan)
            self.reporter.seen.one_way_ms = plan.clock.rtt / 2
            burst = Burst(
                self.task,
                self.shop,
                self.reporter,
                plan,
                request_id=self.request_id,
                gate=self.gate,
                bucket=self.bucket,
            )
            result = await burst.run(conns)
            self.reporter.outcome(result, plan)
        return RunSummary(
            result.result,
            result.order_id,
            result.existing,
            self.reporter.attempts,
            tuple(plan.clock.server_time(t) for t in result.sent_at),
            plan.clock,
            result.detail,
            order_ids=result.order_ids,
            seen=self.reporter.seen,
            won_at=result.won_at,
        )
