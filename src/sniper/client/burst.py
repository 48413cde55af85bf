"""The burst at the opening and its retries, on the run's warmed connections.

Every connection is loaded with the first request of its own checkout (the platform's
:class:`~sniper.client.checkout.Checkout`), and the gate writes them all at the send instant.
Then each connection runs its own course (:meth:`Burst._course`): it reads its answer; a
multi-step checkout's next request is sent at once on the same connection; a verdict goes to
:class:`~sniper.client.policy.RetryPolicy` (token bucket, ``Retry-After``, the retry window),
which says when to send again, until an order, a final refusal, or the window's end. A connection
goes on the moment its own answer arrives, never waiting for its siblings.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

from sniper.client.checkout import Checkout, StepFailed
from sniper.client.config import TaskConfig
from sniper.client.connection import Connection, ConnectionBroken, HttpCall, Response
from sniper.client.gate import FireGate
from sniper.client.outcome import Kind, Verdict, failure
from sniper.client.policy import Result, RetryPolicy
from sniper.client.report import Reporter
from sniper.client.runlog import Attempt
from sniper.client.schedule import FirePlan
from sniper.client.shop import Shop
from sniper.ratelimit import TokenBucket


@dataclass(frozen=True)
class BurstResult:
    """What came of the burst and its retries."""

    result: Result
    order_id: str | None = None
    #: Every order answered, the first one first (more than one: the shop made several of the
    #: burst's requests orders of their own).
    order_ids: tuple[str, ...] = ()
    #: The order was found among the account's orders after the burst, not answered to it.
    existing: bool = False
    #: A final refusal was seen: sold out, or the account's limit reached.
    sold_out: bool = False
    detail: str = ""
    #: Local monotonic ms each request of the burst left.
    sent_at: tuple[float, ...] = ()
    #: Local monotonic ms the first order's answer arrived.
    won_at: float | None = None


class Burst:
    """One opening's burst and retries; used once."""

    def __init__(
        self,
        task: TaskConfig,
        shop: Shop,
        reporter: Reporter,
        plan: FirePlan,
        *,
        request_id: str,
        gate: FireGate,
        bucket: TokenBucket | None,
    ) -> None:
        self._task, self._shop, self._reporter, self._plan = task, shop, reporter, plan
        self._request_id, self._gate, self._bucket = request_id, gate, bucket
        self._clock = shop.clock
        self._stop = asyncio.Event()  # wakes every connection waiting to retry
        self._won_at: float | None = None
        self._untold: list[Attempt] = []

    def _now(self) -> float:
        return self._clock.monotonic() * 1000

    def _server_now(self) -> float:
        return self._plan.clock.server_time(self._now())

    async def run(self, conns: Sequence[Connection]) -> BurstResult:
        """Fire at the plan's send instant on the connections that are open (all of them if
        none is), retry as the policy says, and say what came of it. StepFailed: the first
        request cannot be built."""
        plan = self._plan
        conns = [c for c in conns if c.is_open] or list(conns)
        platform = self._shop.platform
        checkouts = [platform.checkout(self._request_id, self._server_now) for _ in conns]
        arrive_server_ms = plan.clock.server_time(plan.arrive_at)
        for conn, checkout in zip(conns, checkouts, strict=True):
            await conn.ensure_open(self._task.timeout_s)
            conn.prepare(checkout.first(arrive_server_ms))
        fired_at, sent = await self._gate.fire(plan.send_at, conns)
        self._reporter.fired(late_ms=fired_at - plan.send_at, count=len(sent))
        if len(sent) > 1 and platform.carries_request_id():
            self._reporter.shared_request_id(len(sent), one_order=platform.one_order_per_request_id)
        policy = RetryPolicy(
            deadline=plan.arrive_at + self._task.retry.window_s * 1000,
            rate_per_s=self._task.retry.rate_per_s,
            burst=self._task.retry.burst,
            now=self._now(),
            bucket=self._bucket,
        )
        try:
            await self._race(conns, checkouts, sent, policy)
        finally:
            self._tell()  # every attempt told before the outcome (or the interruption)
        return await self._finish(policy, sent)

    async def _race(
        self,
        conns: Sequence[Connection],
        checkouts: Sequence[Checkout],
        sent: list[float],
        policy: RetryPolicy,
    ) -> None:
        courses = [
            asyncio.create_task(self._course(seq, conn, checkout, at, policy))
            for seq, (conn, checkout, at) in enumerate(zip(conns, checkouts, sent, strict=True), 1)
        ]
        try:
            pending = set(courses)
            while pending:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                # After a success nothing new is sent, but answers already on their way are
                # read (each within timeout_s): any of them may be an order too.
                if policy.halted:
                    break
        finally:
            for course in courses:
                course.cancel()
            await asyncio.gather(*courses, return_exceptions=True)

    async def _course(
        self, seq: int, conn: Connection, checkout: Checkout, sent_at: float, policy: RetryPolicy
    ) -> None:
        """One connection's course after the burst (see :meth:`_go`); a surprise ends this
        connection's course, said and logged, never unseen."""
        try:
            await self._go(seq, conn, checkout, sent_at, policy)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the other connections go on
            detail = f"connection {seq} stopped: {type(exc).__name__}"
            policy.after(failure(detail), self._now())
            self._record(
                seq,
                0,
                checkout.step,
                self._now(),
                verdict=failure(detail),
                response=None,
                outcome="error",
            )

    async def _go(
        self, seq: int, conn: Connection, checkout: Checkout, sent_at: float, policy: RetryPolicy
    ) -> None:
        """Its answer, the checkout's next step at once, or another try when the policy allows.
        All of it on this connection, as its own answers arrive."""
        attempt = 1
        while True:
            step = checkout.step
            try:
                answer, response = await self._answer(conn, checkout)
            except asyncio.CancelledError:  # another request won: this one is logged, not lost
                cancelled = Verdict(Kind.RETRY, detail="cancelled")
                self._record(
                    seq,
                    attempt,
                    step,
                    sent_at,
                    verdict=cancelled,
                    response=None,
                    outcome="cancelled",
                )
                raise
            pending: HttpCall | None = None
            if isinstance(answer, HttpCall):
                went = self._next_step(conn, answer, policy)
                self._record(
                    seq,
                    attempt,
                    step,
                    sent_at,
                    verdict=Verdict(Kind.RETRY),
                    response=response,
                    outcome="next",
                )
                if isinstance(went, float):
                    sent_at = went
                    continue
                if went is None:
                    return
                verdict, pending = went, answer
            else:
                verdict = answer
                self._record(seq, attempt, step, sent_at, verdict=verdict, response=response)
            next_at = policy.after(verdict, self._now())
            if not policy.may_send:
                self._stop.set()
            if next_at is None:
                return
            await self._sleep_until(next_at)
            if not policy.may_retry(self._now()):
                return
            resent = await self._resend(conn, checkout, verdict, policy, pending)
            if resent is None:
                return
            sent_at, attempt = resent, attempt + 1
            self._reporter.resent(seq)

    async def _answer(
        self, conn: Connection, checkout: Checkout
    ) -> tuple[Verdict | HttpCall, Response | None]:
        try:
            response = await conn.read_response(self._task.timeout_s)
        except ConnectionBroken as exc:
            return failure(str(exc)), None
        return checkout.next(response), response

    def _next_step(
        self, conn: Connection, call: HttpCall, policy: RetryPolicy
    ) -> float | Verdict | None:
        """A checkout's next step, sent at once on ``conn``: when it left; None if nothing may
        be sent any more; a verdict when it must go as a retry (the shop closed the connection,
        or the write failed)."""
        if not policy.may_send:
            return None
        if not conn.is_open:
            return failure("the connection closed before the next step")
        return self._send(conn, call)

    def _send(self, conn: Connection, call: HttpCall) -> float | Verdict:
        """Write ``call`` on ``conn`` now: when it left, or why it could not (a request that
        cannot be built is fatal: it would be the same on every try)."""
        try:
            conn.prepare(call)
        except ConnectionBroken as exc:
            return Verdict(Kind.FATAL, detail=str(exc))
        try:
            return conn.fire()
        except ConnectionBroken as exc:
            return failure(str(exc))

    async def _resend(
        self,
        conn: Connection,
        checkout: Checkout,
        verdict: Verdict,
        policy: RetryPolicy,
        pending: HttpCall | None = None,
    ) -> float | None:
        """Send ``pending`` (a next step the connection could not take), or what the checkout
        retries after ``verdict``, on ``conn``, reconnecting if it broke; None if out of time,
        or if that request cannot be built or sent."""
        while not conn.is_open:
            try:
                await conn.open(
                    min(self._task.timeout_s, max(0.001, policy.time_left_s(self._now())))
                )
            except ConnectionBroken as exc:
                next_at = policy.after(failure(str(exc)), self._now())
                if next_at is None:
                    return None
                await self._sleep_until(next_at)
        if not policy.may_send:  # decided while we were reconnecting
            return None
        try:
            call = pending or checkout.again(verdict)
        except StepFailed as exc:
            self._halt(policy, str(exc))
            return None
        sent = self._send(conn, call)
        if isinstance(sent, Verdict):
            if sent.kind is Kind.FATAL:
                self._halt(policy, sent.detail)
            else:
                policy.after(sent, self._now())
            return None
        return sent

    def _halt(self, policy: RetryPolicy, detail: str) -> None:
        """Nothing more can be sent: said once, and every connection stops."""
        policy.after(Verdict(Kind.FATAL, detail=detail), self._now())
        self._stop.set()
        self._reporter.fatal(detail)

    async def _sleep_until(self, at: float) -> None:
        """Until ``at`` (local monotonic ms), or until the run stops sending."""
        remaining = at - self._now()
        if remaining <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(remaining / 1000):
                await self._stop.wait()

    def _record(
        self,
        seq: int,
        attempt: int,
        step: str,
        sent_at: float,
        *,
        verdict: Verdict,
        response: Response | None,
        outcome: str | None = None,
    ) -> None:
        if verdict.kind is Kind.ORDERED and response is not None and self._won_at is None:
            self._won_at = response.received_at
        # Told after the answers already in (a sibling's token, say) have had their next step
        # sent: a console line or a log write costs a fraction of a millisecond.
        if not self._untold:
            asyncio.get_running_loop().call_soon(self._tell)
        self._untold.append(
            Attempt(
                seq=seq,
                attempt=attempt,
                step=step,
                sent_server_ms=self._plan.clock.server_time(sent_at),
                latency_ms=None if response is None else response.received_at - sent_at,
                response=response,
                outcome=outcome or verdict.kind.value,
                order_id=verdict.order_id,
                detail=verdict.detail,
            )
        )

    def _tell(self) -> None:
        """Report the attempts recorded since the last time, in order."""
        untold, self._untold = self._untold, []
        for attempt in untold:
            self._reporter.attempt(attempt)

    async def _finish(self, policy: RetryPolicy, sent: list[float]) -> BurstResult:
        """The policy's standing; without an order but with a hint of one (limit reached, an
        unknown outcome), the account's orders are looked up."""
        standing = policy.standing()
        result, order_id, existing = standing.result, standing.order_id, False
        if result is Result.NOT_ORDERED and standing.look_up:
            order_id = await self._look_up()
            if order_id is not None:
                result, existing = Result.ORDERED, True
        return BurstResult(
            result,
            order_id,
            standing.order_ids or ((order_id,) if order_id is not None else ()),
            existing,
            standing.sold_out,
            standing.detail,
            tuple(sent),
            self._won_at,
        )

    async def _look_up(self) -> str | None:
        try:
            async with self._shop.connected(self._task.timeout_s) as conn:
                return await self._shop.platform.existing_order(conn, self._task.timeout_s)
        except ConnectionBroken:
            return None
