"""Running one task: measure the clock, wait, preheat, fire, retry, report.

The timeline (see :mod:`sniper.client.schedule`): a short-lived connection measures the server's
clock (again while waiting, and just before preheat); at preheat exactly ``concurrency``
connections are opened, warmed shortly before the send (which also gives the last clock samples,
on the very connections that will fire) and loaded with the order bytes; a coarse sleep and a spin
reach the send instant; the burst leaves in one loop of writes; each connection then reads its
answer and tries again as :class:`~sniper.client.policy.RetryPolicy` says, until an order, a final
refusal, or the end of the retry window.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass

from sniper.client import schedule
from sniper.client.clockboard import ClockBoard
from sniper.client.config import TaskConfig
from sniper.client.connection import Connection, ConnectionBroken, Response, ssl_context
from sniper.client.console import Console
from sniper.client.gate import FireGate
from sniper.client.neterrors import TRANSIENT, retry_delay_s
from sniper.client.notify import Notifier
from sniper.client.outcome import Kind, Verdict, error_message, failure
from sniper.client.platforms import Platform, platform_class
from sniper.client.policy import Result, RetryPolicy
from sniper.client.probe import ClockError, measure, take_sample, wall_offset
from sniper.client.runlog import RunLog
from sniper.client.scrub import Secrets, printable
from sniper.client.timesync import Estimate, Sample, estimate
from sniper.clock import Clock, SystemClock
from sniper.ratelimit import TokenBucket

_TICK_MS = 100.0
_IDLE_TICK_MS = 1000.0
_DRAIN_AFTER_SIGNAL_S = 0.5
#: Before the server's clock is measured, stop waiting for an unreachable server this long
#: before our own clock's preheat (the server's clock may be ahead).
_UNMEASURED_MARGIN_MS = 5_000.0


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
    ) -> None:
        self.task, self.console = task, console
        self.clock = clock or SystemClock()
        self.platform: Platform = platform_class(task.platform)(task, cookie or task.cookie_value())
        self.origin = self.platform.origin
        self.tls = ssl_context(self.origin, task.ca_file)
        self.request_id = f"snp-{secrets.token_hex(8)}"
        hidden = Secrets.of_cookie(self.platform.cookie)
        self.log = RunLog(task.log_file, task.name, secrets=hidden)
        console.secrets = hidden
        self.samples: list[Sample] = []
        self.estimate: Estimate | None = None
        self.connections: list[Connection] = []
        self._session_dead = False
        self.clocks = clocks or ClockBoard(fresh_ms=0.0)
        self.gate = gate or FireGate(self.clock)
        self.bucket = bucket
        self.notifier = Notifier(task.notify, lambda m: console.say("notify_failed", detail=m))
        self._won_at: float | None = None
        self._preflighted = False
        self._stop = asyncio.Event()
        self.fire_late_ms = 0.0

    def now(self) -> float:
        """Local monotonic milliseconds."""
        return self.clock.monotonic() * 1000

    async def run(self) -> RunSummary:
        """The whole timeline. Cancelling it (a signal) still closes everything and logs."""
        summary = RunSummary(Result.FATAL, detail="interrupted")
        interrupted = False
        try:
            summary = await self._run()
            return summary
        except (ClockError, ConnectionBroken) as exc:
            summary = RunSummary(Result.FATAL, detail=str(exc))
            self.console.say("stopped", detail=self.console.detail(exc))
            return summary
        except Exception as exc:  # one task's surprise must not end the others
            summary = RunSummary(Result.FATAL, detail=type(exc).__name__)
            self.console.say("fatal", detail=summary.detail)
            return summary
        except asyncio.CancelledError:
            interrupted = True
            self.console.say("interrupted")
            self._tell("stopped", "stopped by a signal before an order was placed")
            # A signal is honoured within a second, whatever a push service does.
            self.notifier.drain_s = min(self.notifier.drain_s, _DRAIN_AFTER_SIGNAL_S)
            raise
        finally:
            await self._close_all()
            with contextlib.suppress(asyncio.CancelledError):
                await self.notifier.drain()
            result = "interrupted" if interrupted else summary.result.name.lower()
            self.log.summary(
                result=result,
                order_id=summary.order_id,
                orders=len(summary.order_ids),
                order_ids=list(summary.order_ids),
                fire_late_ms=round(self.fire_late_ms, 3),
                existing_order=summary.existing,
                detail=summary.detail,
                request_id=self.request_id,
            )
            self.log.close()
            self.console.say(
                "summary", attempts=self.log.attempts, result=self.console.word(result)
            )

    async def _run(self) -> RunSummary:
        if self.task.concurrency > 1 and not self.platform.carries_request_id():
            self.console.say("no_request_id", n=self.task.concurrency)
        await self._first_measure()
        assert self.estimate is not None
        late = schedule.past_target(
            self.task.target_time, self.estimate.server_time(self.now()), self.task.retry.window_s
        )
        if late is not None:
            self.console.say("bad_task", detail=late)
            return RunSummary(Result.BAD_TASK, detail=late)
        plan = self._plan()
        target = self.task.target_time.isoformat()
        self.console.say(
            "waiting", target=target, wait=self.console.duration((plan.send_at - self.now()) / 1000)
        )
        plan = await self._wait_for_preheat(plan)
        if self._session_dead:
            self.console.say("auth")
            self._tell("pre-flight failed", "the login was refused: the cookie has expired")
            return RunSummary(Result.AUTH_FAILED, detail="the pre-flight login probe was refused")
        self.console.say("preheat", n=self.task.concurrency)
        self.connections = await self._open_connections()
        await self._sleep_until(plan.warm_at)
        plan = await self._warm(plan.send_at)
        self.connections = [c for c in self.connections if c.is_open] or self.connections
        for conn in self.connections:
            await conn.ensure_open(self.task.timeout_s)
            conn.prepare(self.platform.order_call(self.request_id))
        fired_at, sent = await self.gate.fire(plan.send_at, self.connections)
        self.fire_late_ms = fired_at - plan.send_at
        for seq in range(1, len(sent) + 1):
            self.console.say("sent", seq=seq)
        if len(sent) > 1 and self.platform.carries_request_id():
            line = "burst" if self.platform.one_order_per_request_id else "burst_shared"
            self.console.say(line, n=len(sent), request_id=self.request_id)
        policy = RetryPolicy(
            deadline=plan.arrive_at + self.task.retry.window_s * 1000,
            rate_per_s=self.task.retry.rate_per_s,
            burst=self.task.retry.burst,
            now=self.now(),
            bucket=self.bucket,
        )
        await self._race(sent, policy)
        return await self._conclude(policy, sent)

    # -- the clock ---------------------------------------------------------------------------

    async def _measure_on_probe_connection(
        self, *, fresh: bool = False, wait_until_ms: float | None = None
    ) -> None:
        conn = Connection(self.origin, self.clock, self.tls)
        try:
            await conn.open(self.task.timeout_s)
            # Date-header samples keep their worth (seconds, not ms, of resolution): pool them.
            earlier = self.samples if self.platform.time_call() is None else None

            async def measure_here() -> tuple[Estimate, list[Sample]]:
                return await measure(
                    conn,
                    self.platform,
                    self.clock,
                    timeout_s=self.task.timeout_s,
                    earlier=earlier,
                    must_end=lambda est: (
                        schedule.plan(self.task.target_ms, est, self.task.preheat_ms).preheat_at
                    ),
                )

            self.estimate, self.samples = await self.clocks.get(
                self.origin, self.now, measure_here, force=fresh, wait_until_ms=wait_until_ms
            )
        except ConnectionBroken as exc:
            raise ClockError(str(exc)) from exc
        finally:
            await conn.aclose()
        est = self.estimate
        self.console.clock(est, wall_offset(est, self.clock))

    async def _first_measure(self) -> None:
        """The first measurement. A server that cannot be reached yet (refused, no answer, no
        network) is tried again with a growing pause until shortly before preheat (said once):
        a run started hours ahead must not end because the shop restarts now."""
        tries, told = 0, False
        while True:
            try:
                await self._measure_on_probe_connection()
            except ClockError as exc:
                cause = exc.__cause__
                if not isinstance(cause, ConnectionBroken) or cause.kind not in TRANSIENT:
                    raise
                delay = retry_delay_s(tries, (self._preheat_guess() - self.now()) / 1000)
                if delay is None:
                    raise
                if not told:
                    self.console.say(
                        "unreachable",
                        detail=self.console.detail(exc),
                        wait=self.console.duration((self._preheat_guess() - self.now()) / 1000),
                    )
                told, tries = True, tries + 1
                self.log.event("unreachable", detail=str(exc), tries=tries)
                await asyncio.sleep(delay)
                continue
            if told:
                self.console.say("reached", host=self.origin.host_header)
            return

    def _preheat_guess(self) -> float:
        """Preheat on our monotonic clock before the server's clock is known (taken as ours),
        less a margin for the difference."""
        return (
            self.task.target_ms
            - self.task.preheat_ms
            - _UNMEASURED_MARGIN_MS
            - self._wall_minus_mono()
        )

    def _plan(self) -> schedule.FirePlan:
        # The estimate maps our monotonic clock to the server's wall clock, so a local wall
        # clock step while waiting cannot move the plan.
        assert self.estimate is not None
        return schedule.plan(self.task.target_ms, self.estimate, self.task.preheat_ms)

    async def _wait_for_preheat(self, plan: schedule.FirePlan) -> schedule.FirePlan:
        """Wait for preheat: pre-flight once, re-measure the clock at the checkpoints, and keep
        the countdown line fresh. Returns the plan from the latest clock estimate."""
        baseline, measured_at = self._wall_minus_mono(), self.now()
        while self.now() < plan.preheat_at:
            now = self.now()
            if schedule.clock_jumped(baseline, self.clock.time() * 1000, now):
                # Slept, or the clock was stepped: nothing measured before counts.
                self.log.event("clock_jump", by_ms=round(self._wall_minus_mono() - baseline, 3))
                self.samples = []
                plan, baseline = await self._remeasure(plan, fresh=True), self._wall_minus_mono()
                measured_at = self.now()
                continue
            point = schedule.next_checkpoint(
                plan, now, measured_at, self.task.preflight_s * 1000, self._preflighted
            )
            if point is not None and point[0] <= now:
                if point[1] == "preflight":
                    await self._preflight(until=plan.preheat_at)
                    if self._session_dead:
                        return plan
                else:
                    plan, measured_at = await self._remeasure(plan), self.now()
                continue
            assert self.estimate is not None
            self.console.countdown(
                seconds=(plan.send_at - now) / 1000,
                offset=wall_offset(self.estimate, self.clock),
                rtt=self.estimate.rtt,
            )
            until = min(plan.preheat_at, point[0] if point else plan.preheat_at)
            # A terminal's countdown redraws ten times a second; otherwise wake once a second
            # (to notice a clock jump), so that a long wait costs next to no CPU.
            tick = _TICK_MS if self.console.live else _IDLE_TICK_MS
            await asyncio.sleep(max(0.0, min(tick, until - now)) / 1000)
        return plan

    def _wall_minus_mono(self) -> float:
        return (self.clock.time() - self.clock.monotonic()) * 1000

    async def _remeasure(
        self, plan: schedule.FirePlan, *, fresh: bool = False
    ) -> schedule.FirePlan:
        try:
            # Another task's measurement of the same server may not hold this one past preheat.
            await self._measure_on_probe_connection(fresh=fresh, wait_until_ms=plan.preheat_at)
        except ClockError as exc:  # a blip while waiting: keep the last estimate
            self.console.say("remeasure_failed", detail=self.console.detail(exc))
            return plan
        return self._plan()

    async def _preflight(self, until: float) -> None:
        """Probe the login and the item now, well before the opening; a dead cookie ends the
        task here (exit 4) instead of at the opening. Bounded so as to end before ``until``."""
        self._preflighted = True
        conn = Connection(self.origin, self.clock, self.tls)
        results: dict[str, int | None] = {}
        refused = ""  # the store's own words on a refused login

        def limit() -> float:
            return max(0.001, min(self.task.timeout_s, (until - self.now()) / 1000 - 0.05))

        try:
            await conn.open(limit())
            for probe in self.platform.probes():
                try:
                    answer = await conn.request(probe.call, limit())
                    results[probe.label] = answer.status
                    if probe.label == "login" and answer.status in (401, 403):
                        refused = error_message(answer)
                except ConnectionBroken:
                    results[probe.label] = None
        except ConnectionBroken as exc:
            self.console.say("preflight_unreachable", detail=self.console.detail(exc))
        finally:
            await conn.aclose()
        bad = {k: v for k, v in results.items() if v not in (200,)}
        self._session_dead = results.get("login") in (401, 403)
        at = self.estimate.server_time(self.now()) if self.estimate else None
        self.log.event(
            "preflight",
            probes=results,
            ok=not bad,
            at_server_ms=None if at is None else round(at, 3),
        )
        if bad:
            detail = ", ".join(f"{k} HTTP {v}" for k, v in bad.items())
            self.console.say("preflight_failed", detail=detail)
            if self._session_dead:  # told (notified) once, when the task stops
                self.console.cookie_hint(self.task.platform, self.platform.cookie, refused)
            else:
                self._tell("pre-flight failed", detail)
        elif results:
            self.console.say(
                "preflight_ok",
                probes=self.console.text("and").join(self.console.word(k) for k in results),
            )

    async def _warm(self, send_at: float) -> schedule.FirePlan:
        """One small request on every connection at once: warms them and gives fresh clock
        samples. Bounded so that it ends before the send; a connection that broke or did not
        answer in time is opened afresh (also bounded)."""
        budget_s = max(0.001, (send_at - self.now() - schedule.SPIN_MS) / 1000)

        async def warm_one(conn: Connection) -> Sample | None:
            try:
                return await take_sample(conn, self.platform, budget_s)
            except (ConnectionBroken, ClockError):
                await conn.aclose()
                with contextlib.suppress(ConnectionBroken):
                    await conn.open(max(0.001, (send_at - self.now()) / 1000))
                return None

        answers = await asyncio.gather(*(warm_one(c) for c in self.connections))
        fresh = [s for s in answers if s is not None]
        if fresh:
            # Seconds-old samples still bound the offset (clocks drift by microseconds a
            # second): pooled with the fresh ones, the intersection stays tight.
            self.samples = [*self.samples, *fresh]
            self.estimate = estimate(self.samples)
        return self._plan()

    # -- connections ---------------------------------------------------------------------------

    async def _open_connections(self) -> list[Connection]:
        """Exactly ``concurrency`` connections; if any cannot be opened, none is left open."""
        self.connections = [
            Connection(self.origin, self.clock, self.tls) for _ in range(self.task.concurrency)
        ]
        results = await asyncio.gather(
            *(c.open(self.task.timeout_s) for c in self.connections), return_exceptions=True
        )
        failed = next((r for r in results if isinstance(r, BaseException)), None)
        if failed is not None:
            await self._close_all()
            raise failed
        return self.connections

    async def _close_all(self) -> None:
        await asyncio.gather(*(c.aclose() for c in self.connections), return_exceptions=True)

    async def _sleep_until(self, at: float, interrupt: asyncio.Event | None = None) -> None:
        remaining = at - self.now()
        if remaining <= 0:
            return
        if interrupt is None:
            await asyncio.sleep(remaining / 1000)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining / 1000):
                await interrupt.wait()

    # -- the burst and the retries ---------------------------------------------------------------

    async def _race(self, sent: list[float], policy: RetryPolicy) -> None:
        workers = [
            asyncio.create_task(self._work(seq, conn, at, policy))
            for seq, (conn, at) in enumerate(zip(self.connections, sent, strict=True), 1)
        ]
        try:
            pending = set(workers)
            while pending:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                # After a success nothing new is sent, but answers already on their way are
                # read (each within timeout_s): any of them may be an order too.
                if policy.stopped in (Kind.AUTH, Kind.FATAL):
                    break
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _work(self, seq: int, conn: Connection, sent_at: float, policy: RetryPolicy) -> None:
        attempt = 1
        while True:
            try:
                verdict, response = await self._answer(conn)
            except asyncio.CancelledError:  # another request won: this one is logged, not lost
                self._record(
                    seq=seq,
                    attempt=attempt,
                    sent_at=sent_at,
                    verdict=Verdict(Kind.RETRY, detail="cancelled"),
                    response=None,
                    outcome="cancelled",
                )
                raise
            next_at = policy.after(verdict, self.now())
            if not policy.may_send:
                self._stop.set()  # wake every connection waiting to retry
            self._record(
                seq=seq, attempt=attempt, sent_at=sent_at, verdict=verdict, response=response
            )
            if next_at is None:
                return
            await self._sleep_until(next_at, interrupt=self._stop)
            if not policy.may_send or self.now() > policy.deadline:
                return
            resent = await self._resend(conn, policy)
            if resent is None:
                return
            sent_at, attempt = resent, attempt + 1
            self.console.say("sent", seq=seq)

    async def _answer(self, conn: Connection) -> tuple[Verdict, Response | None]:
        try:
            response = await conn.read_response(self.task.timeout_s)
        except ConnectionBroken as exc:
            return failure(str(exc)), None
        return self.platform.classify(response), response

    async def _resend(self, conn: Connection, policy: RetryPolicy) -> float | None:
        """Send the order again on ``conn``, reconnecting if it broke; None if out of time."""
        while not conn.is_open:
            try:
                await conn.open(
                    min(self.task.timeout_s, max(0.001, (policy.deadline - self.now()) / 1000))
                )
            except ConnectionBroken as exc:
                verdict = failure(str(exc))
                next_at = policy.after(verdict, self.now())
                if next_at is None:
                    return None
                await self._sleep_until(next_at, interrupt=self._stop)
        if not policy.may_send:  # decided while we were reconnecting
            return None
        conn.prepare(self.platform.order_call(self.request_id))
        return conn.fire()

    def _record(
        self,
        *,
        seq: int,
        attempt: int,
        sent_at: float,
        verdict: Verdict,
        response: Response | None,
        outcome: str | None = None,
    ) -> None:
        assert self.estimate is not None
        latency = None if response is None else response.received_at - sent_at
        if verdict.kind is Kind.ORDERED and response is not None and self._won_at is None:
            self._won_at = response.received_at
        outcome = outcome or verdict.kind.value
        self.log.attempt(
            seq=seq,
            attempt=attempt,
            sent_server_ms=self.estimate.server_time(sent_at),
            latency_ms=latency,
            response=response,
            outcome=outcome,
            order_id=verdict.order_id,
            detail=verdict.detail,
        )
        if outcome != "cancelled":
            self.console.say(
                "answer",
                seq=seq,
                status=response.status if response else "---",
                outcome=self.console.word(outcome),
                latency=latency or 0.0,
            )

    async def _conclude(self, policy: RetryPolicy, sent: list[float]) -> RunSummary:
        assert self.estimate is not None
        sent_server = tuple(self.estimate.server_time(t) for t in sent)
        result, order_id, existing = policy.result(), policy.order_id, False
        if result is Result.NOT_ORDERED and policy.should_look_up:
            order_id = await self._look_up()
            if order_id is not None:
                result, existing = Result.ORDERED, True
        order_ids = tuple(policy.order_ids) or ((order_id,) if order_id is not None else ())
        if result is Result.ORDERED:
            self.console.say("existing" if existing else "ordered", order_id=order_id)
            after = ""
            if self._won_at is not None:
                late = self.estimate.server_time(self._won_at) - self.task.target_ms
                after = f", answered {late:.1f} ms after the opening"
            extra = ""
            if len(order_ids) > 1:
                extra = f"; {len(order_ids)} orders in all: {', '.join(order_ids)}"
                self.console.say("extra_orders", n=len(order_ids), order_ids=", ".join(order_ids))
            self._tell("order placed", f"order {order_id}{after}{extra}")
        elif result is Result.AUTH_FAILED:
            self.console.say("auth")
        elif result is Result.FATAL:
            self.console.say("fatal", detail=policy.last_detail)
        else:
            sold = Kind.SOLD_OUT in policy.seen or Kind.LIMIT_REACHED in policy.seen
            self.console.say("sold_out" if sold else "window")
            self._tell("no order", "sold out" if sold else "the retry window is over")
        return RunSummary(
            result,
            order_id,
            existing,
            self.log.attempts,
            sent_server,
            self.estimate,
            policy.last_detail,
            order_ids=order_ids,
        )

    def _tell(self, title: str, message: str) -> None:
        """A push message on every configured channel (in the background); what a server
        supplied in it (an order id, an error) loses its control characters and the cookie."""
        if self.notifier.channels:
            safe = self.console.secrets.hide(printable(message))
            self.notifier.send(f"sniper: {title}", f"task {self.task.name}: {safe}")

    async def _look_up(self) -> str | None:
        conn = Connection(self.origin, self.clock, self.tls)
        try:
            await conn.open(self.task.timeout_s)
            return await self.platform.existing_order(conn, self.task.timeout_s)
        except ConnectionBroken:
            return None
        finally:
            await conn.aclose()
