"""What the run does after each answer: a table, on explicit times."""

from __future__ import annotations

import pytest

from sniper.client.outcome import Kind, Verdict
from sniper.client.policy import Result, RetryPolicy


def policy(
    now: float = 0.0, deadline: float = 10_000.0, rate: float = 5.0, burst: int = 5
) -> RetryPolicy:
    """A fresh policy with a full bucket at ``now``."""
    return RetryPolicy(deadline=deadline, rate_per_s=rate, burst=burst, now=now)


class TestRetryPolicy:
    """Each kind of answer, and the token bucket's pacing."""

    def test_ordered_stops_everything(self) -> None:
        """The first order id wins; no new request may go out."""
        p = policy()
        assert p.after(Verdict(Kind.ORDERED, order_id="A"), 1.0) is None
        assert p.after(Verdict(Kind.ORDERED, order_id="B"), 2.0) is None
        assert (p.order_id, p.may_send, p.result()) == ("A", False, Result.ORDERED)

    @pytest.mark.parametrize(
        ("kind", "result"),
        [
            (Kind.AUTH, Result.AUTH_FAILED),
            (Kind.FATAL, Result.FATAL),
            (Kind.SOLD_OUT, Result.NOT_ORDERED),
            (Kind.LIMIT_REACHED, Result.NOT_ORDERED),
        ],
    )
    def test_final_refusals_send_nothing_new(self, kind: Kind, result: Result) -> None:
        """401, fatal, sold out, limit reached: stop; later retryable answers stop too."""
        p = policy()
        assert p.after(Verdict(kind), 1.0) is None
        assert not p.may_send
        assert p.after(Verdict(Kind.RETRY), 2.0) is None
        assert p.result() is result

    def test_sibling_success_after_limit_reached_still_wins(self) -> None:
        """Two siblings say limit_reached, the third's 201 arrives later: ordered."""
        p = policy()
        p.after(Verdict(Kind.LIMIT_REACHED), 1.0)
        p.after(Verdict(Kind.LIMIT_REACHED), 1.1)
        p.after(Verdict(Kind.ORDERED, order_id="X"), 51.0)
        assert p.result() is Result.ORDERED
        assert not p.should_look_up

    def test_limit_reached_alone_asks_for_a_lookup(self) -> None:
        """limit_reached with no success: the account may already hold an order."""
        p = policy()
        p.after(Verdict(Kind.LIMIT_REACHED), 1.0)
        assert p.should_look_up

    def test_outcome_unknown_retries_and_asks_for_a_lookup(self) -> None:
        """The store may have placed the order: try again (same request id), and if nothing
        says so before the window ends, look the account's orders up."""
        p = policy()
        assert p.after(Verdict(Kind.UNKNOWN, retry_after_s=1.0), 1.0) is not None
        assert p.may_send
        assert p.should_look_up
        p.after(Verdict(Kind.ORDERED, order_id="X"), 1001.0)
        assert not p.should_look_up

    def test_auth_outranks_sold_out(self) -> None:
        """A dead cookie is what the user must hear about."""
        p = policy()
        p.after(Verdict(Kind.SOLD_OUT), 1.0)
        p.after(Verdict(Kind.AUTH), 2.0)
        assert p.result() is Result.AUTH_FAILED

    def test_not_started_retries_at_once_while_tokens_last(self) -> None:
        """425: the burst's tokens make the first retries immediate, then the rate paces."""
        p = policy(rate=5.0, burst=2)
        assert p.after(Verdict(Kind.NOT_STARTED), 10.0) == pytest.approx(10.0)
        assert p.after(Verdict(Kind.NOT_STARTED), 10.0) == pytest.approx(10.0)
        assert p.after(Verdict(Kind.NOT_STARTED), 10.0) == pytest.approx(210.0)

    def test_rate_limited_honours_retry_after_for_everyone(self) -> None:
        """429 with Retry-After 2: this connection and every other wait until then."""
        p = policy()
        assert p.after(Verdict(Kind.RATE_LIMITED, retry_after_s=2.0), 100.0) == pytest.approx(
            2100.0
        )
        assert p.after(Verdict(Kind.RETRY), 150.0) == pytest.approx(2100.0)

    def test_server_errors_are_paced_by_the_bucket(self) -> None:
        """5xx: burst first, then one per 1/rate."""
        p = policy(rate=10.0, burst=1)
        assert p.after(Verdict(Kind.RETRY), 0.0) == pytest.approx(0.0)
        assert p.after(Verdict(Kind.RETRY), 0.0) == pytest.approx(100.0)
        assert p.after(Verdict(Kind.RETRY), 0.0) == pytest.approx(200.0)

    def test_nothing_new_after_the_window(self) -> None:
        """A retry that would start after the deadline does not happen."""
        p = policy(deadline=1000.0, rate=1.0, burst=1)
        assert p.after(Verdict(Kind.RETRY), 500.0) == pytest.approx(500.0)
        assert p.after(Verdict(Kind.RETRY), 600.0) is None
        assert p.result() is Result.NOT_ORDERED


def test_a_shared_bucket_paces_several_policies() -> None:
    """Three tasks on one host share a bucket (5/s, burst 1): together, one retry per 200 ms."""
    from sniper.ratelimit import TokenBucket

    bucket = TokenBucket(5.0, 1, 1, 0.0)
    policies = [
        RetryPolicy(deadline=2100.0, rate_per_s=5.0, burst=1, now=0.0, bucket=bucket)
        for _ in range(3)
    ]
    ready = [0.0, 0.0, 0.0]
    sent: list[float] = []
    for _ in range(60):
        i = min(range(3), key=lambda k: ready[k])
        at = policies[i].after(Verdict(Kind.RETRY), ready[i])
        if at is None:
            ready[i] = float("inf")
            continue
        sent.append(at)
        ready[i] = at + 0.5  # the answer comes half a millisecond later
    assert len(sent) == 1 + 10  # the burst, then 5/s for 2 s (the window ends at 2.1 s)
    gaps = [b - a for a, b in zip(sorted(sent), sorted(sent)[1:], strict=False)]
    assert min(gaps) >= 199.9


class TestAsking:
    """What the run asks the policy: whether to stop reading, whether a try may start, and
    where the run stands at the end."""

    @pytest.mark.parametrize(
        ("kind", "halted"),
        [
            (Kind.AUTH, True),
            (Kind.FATAL, True),
            (Kind.SOLD_OUT, False),
            (Kind.LIMIT_REACHED, False),
            (Kind.RETRY, False),
            (Kind.ORDERED, False),
        ],
    )
    def test_only_a_dead_cookie_or_a_fatal_answer_halts(self, kind: Kind, halted: bool) -> None:
        """Answers on their way are still read after an order or a sold-out answer."""
        p = policy()
        p.after(Verdict(kind, order_id="A" if kind is Kind.ORDERED else None), 1.0)
        assert p.halted is halted

    def test_a_try_may_start_only_inside_the_window_while_sending(self) -> None:
        """The deadline itself is inside; nothing after an order."""
        p = policy(deadline=1000.0)
        assert (p.may_retry(1000.0), p.may_retry(1000.1)) == (True, False)
        assert p.time_left_s(250.0) == pytest.approx(0.75)
        p.after(Verdict(Kind.ORDERED, order_id="A"), 10.0)
        assert not p.may_retry(20.0)

    def test_standing_after_orders(self) -> None:
        """Every distinct order, the first one first; no lookup."""
        p = policy()
        for order_id in ("A", "B", "A"):
            p.after(Verdict(Kind.ORDERED, order_id=order_id), 1.0)
        s = p.standing()
        assert (s.result, s.order_id, s.order_ids, s.look_up) == (
            Result.ORDERED,
            "A",
            ("A", "B"),
            False,
        )

    @pytest.mark.parametrize(
        ("kinds", "sold_out", "look_up"),
        [
            ([Kind.SOLD_OUT], True, False),
            ([Kind.LIMIT_REACHED], True, True),
            ([Kind.UNKNOWN], False, True),
            ([Kind.RETRY], False, False),
        ],
    )
    def test_standing_without_an_order(
        self, kinds: list[Kind], sold_out: bool, look_up: bool
    ) -> None:
        """Sold out or limit reached is a final refusal; an unknown outcome or the limit asks
        for a lookup; the last detail is kept."""
        p = policy()
        for kind in kinds:
            p.after(Verdict(kind, detail=f"said {kind.value}"), 1.0)
        s = p.standing()
        assert (s.result, s.order_ids, s.sold_out, s.look_up) == (
            Result.NOT_ORDERED,
            (),
            sold_out,
            look_up,
        )
        assert s.detail == f"said {kinds[-1].value}"
