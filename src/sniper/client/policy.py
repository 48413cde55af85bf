"""What to do after each answer: try again when, or stop. Pure: time comes in as arguments.

* ordered: the run is won; nothing more is sent (answers already on their way are still read:
  each may be an order too).
* 401/403: the cookie is dead; nothing more is sent (exit 4).
* sold out / limit reached: nothing *new* is sent, but the run waits for the burst's other answers
  (a sibling's 201 may still be on its way).
* 425 not started, 5xx, timeouts, broken connections: try again, paced by the token bucket.
* outcome unknown (the store may have placed the order): try again the same way (every try of a
  run carries the same request id, so a placed order comes back as a replay); if the window ends
  first, the account's orders are looked up.
* 429: as above, and no request at all before its ``Retry-After`` has passed.
* no new try starts after the retry window.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from sniper.client.outcome import Kind, Verdict
from sniper.ratelimit import TokenBucket

_STOP_ALL = (Kind.AUTH, Kind.FATAL)
_STOP_NEW = (Kind.SOLD_OUT, Kind.LIMIT_REACHED)


class Result(enum.Enum):
    """How a run ended, with its exit code."""

    ORDERED = 0
    FATAL = 1
    BAD_TASK = 2  # found only once the server's clock is known: a target_time long past
    NOT_ORDERED = 3
    AUTH_FAILED = 4


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a run stands once nothing is in flight (before any existing-order lookup)."""

    result: Result
    order_id: str | None
    #: Every order answered, the first one first.
    order_ids: tuple[str, ...]
    #: A final refusal was seen: sold out, or the account's limit reached.
    sold_out: bool
    #: The account may already hold an order (see :attr:`RetryPolicy.should_look_up`).
    look_up: bool
    #: The last answer's detail that said anything.
    detail: str


@dataclass
class RetryPolicy:
    """Shared by every connection of one run; times are local monotonic milliseconds."""

    deadline: float
    rate_per_s: float
    burst: int
    now: float
    #: Shared by every task aimed at one host, so that together they keep to its rate.
    bucket: TokenBucket | None = None
    order_id: str | None = None
    #: Every distinct order id answered, the first one first: without an idempotency key each
    #: request of a burst may become an order of its own, and the user must hear of them all.
    order_ids: list[str] = field(default_factory=list)
    stopped: Kind | None = None
    seen: set[Kind] = field(default_factory=set)
    not_before: float = 0.0
    last_detail: str = ""

    def __post_init__(self) -> None:
        if self.bucket is None:
            self.bucket = TokenBucket(self.rate_per_s, self.burst, self.burst, self.now / 1000)

    @property
    def may_send(self) -> bool:
        """Whether any new request may go out."""
        return self.order_id is None and self.stopped is None

    @property
    def halted(self) -> bool:
        """A dead cookie or a fatal answer: even answers already on their way are not awaited."""
        return self.stopped in _STOP_ALL

    def may_retry(self, now: float) -> bool:
        """Whether a try may start at ``now``: new requests may go out, inside the window."""
        return self.may_send and now <= self.deadline

    def time_left_s(self, now: float) -> float:
        """Seconds from ``now`` to the end of the retry window (negative once it has ended)."""
        return (self.deadline - now) / 1000

    def after(self, verdict: Verdict, now: float) -> float | None:
        """Take an answer in; when this connection may try again, or None to stop."""
        self.seen.add(verdict.kind)
        self.last_detail = verdict.detail or self.last_detail
        if verdict.kind is Kind.ORDERED:
            self.order_id = self.order_id or verdict.order_id
            if verdict.order_id is not None and verdict.order_id not in self.order_ids:
                self.order_ids.append(verdict.order_id)
            return None
        if verdict.kind in _STOP_ALL or verdict.kind in _STOP_NEW:
            if self.stopped not in _STOP_ALL:  # a dead cookie outranks a sold-out answer
                self.stopped = verdict.kind
            return None
        if not self.may_send:
            return None
        at = max(now, self.not_before)
        if verdict.retry_after_s is not None:
            at = max(at, now + verdict.retry_after_s * 1000)
            if verdict.kind is Kind.RATE_LIMITED:  # the whole run honours a 429
                self.not_before = max(self.not_before, at)
        # Tokens already promised to later tries are not there before then.
        bucket = self.bucket
        assert bucket is not None
        at = max(at, bucket.updated * 1000)
        for _ in range(4):  # the token is there after the wait (a nudge covers rounding)
            wait_s = bucket.take(at / 1000)
            if wait_s <= 0:
                break
            at += wait_s * 1000 + 1e-6
        return at if at <= self.deadline else None

    def result(self) -> Result:
        """The run's result once nothing is in flight (before any existing-order lookup)."""
        if self.order_id is not None:
            return Result.ORDERED
        if Kind.AUTH in self.seen:
            return Result.AUTH_FAILED
        if self.stopped is Kind.FATAL:
            return Result.FATAL
        return Result.NOT_ORDERED

    def standing(self) -> Standing:
        """The run's result, orders and last detail, once nothing is in flight."""
        return Standing(
            result=self.result(),
            order_id=self.order_id,
            order_ids=tuple(self.order_ids),
            sold_out=not self.seen.isdisjoint(_STOP_NEW),
            look_up=self.should_look_up,
            detail=self.last_detail,
        )

    @property
    def should_look_up(self) -> bool:
        """``limit_reached`` or ``outcome_unknown`` without a success seen: the account may
        already hold an order."""
        return (
            self.order_id is None
            and Kind.AUTH not in self.seen
            and not self.seen.isdisjoint((Kind.LIMIT_REACHED, Kind.UNKNOWN))
        )
