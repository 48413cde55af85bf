"""Token buckets on an injected clock: one per key (a user), one global, or a bare bucket.

The store limits its users with them; the sniper paces its own retries with one.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second. Taking a
token either succeeds or says how long until one is there, which becomes ``Retry-After``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sniper.clock import Clock


@dataclass(slots=True)
class TokenBucket:
    """One bucket; ``updated`` is the monotonic time at which ``tokens`` was last counted."""

    rate: float
    burst: float
    tokens: float
    updated: float

    def take(self, now: float, n: float = 1.0) -> float:
        """Take ``n`` tokens at ``now``: 0.0 if done, else seconds until they would be there."""
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)
        if self.tokens >= n:
            self.tokens -= n
            return 0.0
        if self.rate <= 0:
            return float("inf")
        return (n - self.tokens) / self.rate

    def wait(self, now: float, n: float = 1.0) -> float:
        """Seconds until ``n`` tokens are there (0.0: now), taking none."""
        tokens = min(self.burst, self.tokens + max(0.0, now - self.updated) * self.rate)
        if tokens >= n:
            return 0.0
        return float("inf") if self.rate <= 0 else (n - tokens) / self.rate

    def is_full(self, now: float) -> bool:
        """True when the bucket would be full at ``now`` (nothing left to remember)."""
        return self.tokens + max(0.0, now - self.updated) * self.rate >= self.burst


class KeyedLimiter:
    """A bucket per key, created full on first use; idle full buckets are forgotten."""

    def __init__(self, rate: float, burst: float, clock: Clock, max_keys: int = 100_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._rate, self._burst, self._clock = rate, burst, clock
        self._max_keys = max_keys
        self._buckets: dict[str, TokenBucket] = {}

    def take(self, key: str) -> float:
        """Take one token for ``key``: 0.0 if allowed, else seconds to wait."""
        now = self._clock.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._prune(now)
            bucket = TokenBucket(self._rate, self._burst, self._burst, now)
            self._buckets[key] = bucket
        return bucket.take(now)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0.0: now), taking none."""
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.wait(self._clock.monotonic())

    def __len__(self) -> int:
        return len(self._buckets)

    def _prune(self, now: float) -> None:
        for key in [k for k, b in self._buckets.items() if b.is_full(now)]:
            del self._buckets[key]
        if len(self._buckets) >= self._max_keys:
            # Every bucket is in use: forget the oldest half rather than grow without bound.
            ordered = sorted(self._buckets, key=lambda k: self._buckets[k].updated)
            for key in ordered[: len(ordered) // 2]:
                del self._buckets[key]


class GlobalLimiter:
    """One bucket for all requests."""

    def __init__(self, rate: float, burst: float, clock: Clock) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._clock = clock
        self._bucket = TokenBucket(rate, burst, burst, clock.monotonic())

    def take(self) -> float:
        """Take one token: 0.0 if allowed, else seconds to wait."""
        return self._bucket.take(self._clock.monotonic())
