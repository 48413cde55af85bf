"""Token buckets on a manual clock: no sleeps."""

from __future__ import annotations

import pytest

from sniper.clock import ManualClock
from sniper.ratelimit import GlobalLimiter, KeyedLimiter, TokenBucket


class TestTokenBucket:
    """The single bucket's arithmetic."""

    @pytest.mark.parametrize(
        ("rate", "burst", "tokens", "elapsed", "n", "wait"),
        [
            (10.0, 5.0, 5.0, 0.0, 1.0, 0.0),
            (10.0, 5.0, 0.0, 0.0, 1.0, 0.1),
            (10.0, 5.0, 0.0, 0.05, 1.0, 0.05),
            (10.0, 5.0, 0.0, 0.1, 1.0, 0.0),
            (2.0, 5.0, 0.5, 0.0, 1.0, 0.25),
            (10.0, 5.0, 0.0, 100.0, 5.0, 0.0),
            (10.0, 5.0, 0.0, 100.0, 6.0, 0.1),
        ],
    )
    def test_take_answers_the_wait(
        self, rate: float, burst: float, tokens: float, elapsed: float, n: float, wait: float
    ) -> None:
        """Refill is rate * elapsed, capped at burst; a refusal says how long until enough."""
        bucket = TokenBucket(rate, burst, tokens, updated=100.0)
        assert bucket.take(100.0 + elapsed, n) == pytest.approx(wait)

    def test_refused_take_consumes_nothing(self) -> None:
        """A refusal leaves the tokens for the next caller."""
        bucket = TokenBucket(1.0, 1.0, 0.5, 0.0)
        assert bucket.take(0.0) > 0
        assert bucket.tokens == pytest.approx(0.5)

    def test_clock_going_backwards_does_not_mint_tokens(self) -> None:
        """An earlier ``now`` adds nothing."""
        bucket = TokenBucket(10.0, 5.0, 0.0, 50.0)
        assert bucket.take(40.0) == pytest.approx(0.1)


class TestKeyedLimiter:
    """One bucket per user."""

    def test_burst_then_rate(self) -> None:
        """A new user gets the burst at once, then tokens at the rate."""
        clock = ManualClock()
        limiter = KeyedLimiter(rate=2.0, burst=3, clock=clock)
        assert [limiter.take("ann") for _ in range(3)] == [0.0, 0.0, 0.0]
        assert limiter.take("ann") == pytest.approx(0.5)
        clock.advance(0.5)
        assert limiter.take("ann") == 0.0

    def test_users_do_not_share(self) -> None:
        """Another user's burst is untouched."""
        limiter = KeyedLimiter(rate=1.0, burst=1, clock=ManualClock())
        assert limiter.take("ann") == 0.0
        assert limiter.take("ann") > 0
        assert limiter.take("bob") == 0.0

    def test_memory_is_bounded(self) -> None:
        """Idle (full) buckets are forgotten once the key limit is reached."""
        clock = ManualClock()
        limiter = KeyedLimiter(rate=1.0, burst=1, clock=clock, max_keys=10)
        for i in range(10):
            limiter.take(f"u{i}")
        clock.advance(5)
        limiter.take("late")
        assert len(limiter) == 1

    def test_memory_is_bounded_when_all_are_busy(self) -> None:
        """Even with every bucket in use, the map does not grow past its limit."""
        limiter = KeyedLimiter(rate=1.0, burst=1, clock=ManualClock(), max_keys=10)
        for i in range(50):
            limiter.take(f"u{i}")
        assert len(limiter) <= 10

    @pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
    def test_rejects_nonsense(self, rate: float, burst: int) -> None:
        """A limiter that could never allow anything is a configuration error."""
        with pytest.raises(ValueError, match="rate"):
            KeyedLimiter(rate, burst, ManualClock())


def test_global_limiter() -> None:
    """All requests share one bucket."""
    clock = ManualClock()
    limiter = GlobalLimiter(rate=10.0, burst=2, clock=clock)
    assert [limiter.take() for _ in range(2)] == [0.0, 0.0]
    assert limiter.take() == pytest.approx(0.1)
    clock.advance(0.1)
    assert limiter.take() == 0.0
