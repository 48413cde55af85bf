"""What a run tells, and to whom: people (the console), the run log (JSON lines), push messages.

The run's parts hand their events and results to one :class:`Reporter`; which line, log record
or notification each becomes is decided here alone. Everything a server supplied loses its
control characters and the cookie on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sniper.client.before import BeforeResult
from sniper.client.config import TaskConfig
from sniper.client.console import Console
from sniper.client.notify import Notifier
from sniper.client.policy import Result
from sniper.client.preflight import Checked
from sniper.client.probe import wall_offset
from sniper.client.runlog import Attempt, RunLog
from sniper.client.schedule import FirePlan
from sniper.client.scrub import Secrets, printable
from sniper.client.sighting import Sighting
from sniper.client.timesync import Estimate
from sniper.clock import Clock

if TYPE_CHECKING:
    from sniper.client.burst import BurstResult

#: After a signal the push messages get this long (a signal is honoured within a second).
_DRAIN_AFTER_SIGNAL_S = 0.5


class Reporter:
    """One task's console, run log and notifier."""

    def __init__(
        self,
        task: TaskConfig,
        console: Console,
        *,
        cookie: str,
        clock: Clock,
        request_id: str,
        more_secrets: Callable[[], Iterable[str]] | None = None,
    ) -> None:
        self.task, self.console, self.clock, self.request_id = task, console, clock, request_id
        hidden = Secrets.of_cookie(cookie, more=more_secrets)
        self.log = RunLog(task.log_file, task.name, secrets=hidden)
        console.secrets = hidden
        self._cookie = cookie
        self.notifier = Notifier(task.notify, lambda m: console.say("notify_failed", detail=m))
        self._fire_late_ms = 0.0
        #: What the answers show of the shop's opening (for a repeating task's history).
        self.seen = Sighting()

    @property
    def live(self) -> bool:
        """Whether the console redraws a live countdown (a terminal)."""
        return self.console.live

    @property
    def attempts(self) -> int:
        """Requests logged so far."""
        return self.log.attempts

    # -- before the opening ----------------------------------------------------------------------

    def no_request_id(self) -> None:
        """The burst's requests carry no request id: each may become an order."""
        self.console.say("no_request_id", n=self.task.concurrency)

    def measured(self, est: Estimate) -> None:
        """A clock measurement."""
        self.console.clock(est, wall_offset(est, self.clock))

    def unreachable(self, exc: BaseException, *, tries: int, wait_s: float) -> None:
        """The first measurement could not reach the server (said once, logged each time)."""
        if tries == 1:
            self.console.say(
                "unreachable", detail=self.console.detail(exc), wait=self.console.duration(wait_s)
            )
        self.log.event("unreachable", detail=str(exc), tries=tries)

    def reached(self, host: str) -> None:
        """The server answers again."""
        self.console.say("reached", host=host)

    def bad_task(self, detail: str) -> None:
        """A task found wrong once the server's clock is known."""
        self.console.say("bad_task", detail=detail)

    def waiting(self, wait_s: float) -> None:
        """The wait for the opening begins."""
        target = self.task.opening.isoformat()
        self.console.say("waiting", target=target, wait=self.console.duration(wait_s))

    def countdown(self, plan: FirePlan, now: float) -> None:
        """Still waiting, at local monotonic ``now``."""
        self.console.countdown(
            seconds=(plan.send_at - now) / 1000,
            offset=wall_offset(plan.clock, self.clock),
            rtt=plan.clock.rtt,
        )

    def clock_jump(self, by_ms: float) -> None:
        """This machine slept, or its clock was stepped."""
        self.log.event("clock_jump", by_ms=round(by_ms, 3))

    def remeasure_failed(self, exc: BaseException) -> None:
        """A re-measure failed; the last estimate is kept."""
        self.console.say("remeasure_failed", detail=self.console.detail(exc))

    def preflight(self, checked: Checked, at_server_ms: float) -> None:
        """What the pre-flight probes answered."""
        if checked.unreachable is not None:
            self.console.say(
                "preflight_unreachable", detail=self.console.detail(checked.unreachable)
            )
        elif checked.before is not None and checked.before.unanswered:
            self.console.say("preflight_unreachable", detail=checked.before.failure)
        bad = checked.failed
        before = checked.before
        self.log.event(
            "preflight",
            probes=checked.statuses,
            **({"steps": before.statuses, "saved": sorted(before.saved)} if before else {}),
            ok=not bad and not checked.steps_failed,
            at_server_ms=round(at_server_ms, 3),
        )
        if checked.steps_failed and not bad:
            detail = checked.steps_failed
            self.console.say("preflight_failed", detail=detail)
            if checked.session_dead:
                self.console.cookie_hint(self.task.platform, self._cookie, checked.refused)
            else:
                self.tell("pre-flight failed", detail)
        elif before is not None and before.ok and not bad:
            self.console.say(
                "preflight_steps", steps=", ".join(before.statuses), saved=", ".join(before.saved)
            )
        if bad:
            detail = ", ".join(f"{k} HTTP {v}" for k, v in bad.items())
            self.console.say("preflight_failed", detail=detail)
            if checked.session_dead:  # told (notified) once, when the task stops
                self.console.cookie_hint(self.task.platform, self._cookie, checked.refused)
            else:
                self.tell("pre-flight failed", detail)
        elif checked.statuses:
            words = (self.console.word(k) for k in checked.statuses)
            self.console.say("preflight_ok", probes=self.console.text("and").join(words))

    def session_dead(self) -> None:
        """The pre-flight found the cookie dead: the task ends before the opening."""
        self.console.say("auth")
        self.tell("pre-flight failed", "the login was refused: the cookie has expired")

    def steps_again(self, result: BeforeResult | None) -> None:
        """The ``before`` steps at preheat: a failure keeps the pre-flight's values."""
        if result is None:
            self.console.say("steps_late")
        elif not result.ok:
            self.console.say("steps_kept", detail=result.failure)
        self.log.event(
            "before_again",
            ok=result is not None and result.ok,
            detail="late" if result is None else result.failure,
        )

    def preheat(self) -> None:
        """The burst's connections are being opened."""
        self.console.say("preheat", n=self.task.concurrency)

    # -- the burst and the retries ---------------------------------------------------------------

    def fired(self, *, late_ms: float, count: int) -> None:
        """The burst left, ``late_ms`` after its planned instant."""
        self._fire_late_ms = late_ms
        for seq in range(1, count + 1):
            self.console.say("sent", seq=seq)

    def shared_request_id(self, count: int, *, one_order: bool) -> None:
        """Every request of the burst carries the run's one request id."""
        line = "burst" if one_order else "burst_shared"
        self.console.say(line, n=count, request_id=self.request_id)

    def resent(self, seq: int) -> None:
        """Connection ``seq`` tried again."""
        self.console.say("sent", seq=seq)

    def attempt(self, record: Attempt) -> None:
        """One request and what came of it (a cancelled one is logged, not shown)."""
        self.log.attempt(record)
        self.seen.add(record)
        if record.outcome != "cancelled":
            response = record.response
            self.console.say(
                "answer",
                seq=record.seq,
                step=f" {record.step}" if record.step else "",
                status=response.status if response else "---",
                outcome=self.console.word(record.outcome),
                latency=record.latency_ms or 0.0,
            )

    def outcome(self, burst: BurstResult, plan: FirePlan) -> None:
        """How the burst ended: the order (and when its answer came, on the server's clock),
        or why there is none."""
        if burst.result is Result.ORDERED:
            order_id, order_ids = burst.order_id, burst.order_ids
            self.console.say("existing" if burst.existing else "ordered", order_id=order_id)
            after = ""
            if burst.won_at is not None:
                late = plan.clock.server_time(burst.won_at) - self.task.target_ms
                after = f", answered {late:.1f} ms after the opening"
            extra = ""
            if len(order_ids) > 1:
                extra = f"; {len(order_ids)} orders in all: {', '.join(order_ids)}"
                self.console.say("extra_orders", n=len(order_ids), order_ids=", ".join(order_ids))
            self.tell("order placed", f"order {order_id}{after}{extra}")
        elif burst.result is Result.AUTH_FAILED:
            self.console.say("auth")
        elif burst.result is Result.FATAL:
            self.console.say("fatal", detail=burst.detail)
        else:
            sold = burst.sold_out
            self.console.say("sold_out" if sold else "window")
            self.tell("no order", "sold out" if sold else "the retry window is over")

    # -- the end ---------------------------------------------------------------------------------

    def stopped(self, exc: BaseException) -> None:
        """The run cannot go on (no clock, no connection)."""
        self.console.say("stopped", detail=self.console.detail(exc))

    def fatal(self, detail: str) -> None:
        """Something unexpected ended the run."""
        self.console.say("fatal", detail=detail)

    def interrupted(self) -> None:
        """A signal stopped the run."""
        self.console.say("interrupted")
        self.tell("stopped", "stopped by a signal before an order was placed")
        self.notifier.drain_s = min(self.notifier.drain_s, _DRAIN_AFTER_SIGNAL_S)

    async def close(
        self,
        *,
        result: str,
        order_id: str | None,
        order_ids: tuple[str, ...],
        existing: bool,
        detail: str,
    ) -> None:
        """The last word: push messages delivered (bounded), the log's summary line, the
        console's."""
        with contextlib.suppress(asyncio.CancelledError):
            await self.notifier.drain()
        self.log.summary(
            result=result,
            order_id=order_id,
            orders=len(order_ids),
            order_ids=list(order_ids),
            fire_late_ms=round(self._fire_late_ms, 3),
            existing_order=existing,
            detail=detail,
            request_id=self.request_id,
        )
        self.log.close()
        self.console.say("summary", attempts=self.log.attempts, result=self.console.word(result))

    def tell(self, title: str, message: str) -> None:
        """A push message on every configured channel (in the background); what a server
        supplied in it (an order id, an error) loses its control characters and the cookie."""
        if self.notifier.channels:
            safe = self.console.secrets.hide(printable(message))
            self.notifier.send(f"sniper: {title}", f"task {self.task.name}: {safe}")
