"""Time as an input.

Logic never reads the system clock itself: it is handed a :class:`Clock`. Production code
passes :class:`SystemClock` (or :class:`SkewedClock` to play a platform whose clock differs);
tests pass :class:`ManualClock` and move time by hand, so no test ever sleeps to make time pass.
"""

from __future__ import annotations

from time import monotonic as _monotonic
from time import time as _wall_time
from typing import Protocol


class Clock(Protocol):
    """A wall clock (epoch seconds) and a monotonic clock (seconds, arbitrary origin)."""

    def time(self) -> float:
        """Wall-clock seconds since the Unix epoch."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards."""
        ...


class SystemClock:
    """The machine's clocks: the standard library's own functions, with no Python call between
    (the store reads a clock several times a request)."""

    time = staticmethod(_wall_time)
    monotonic = staticmethod(_monotonic)


def skewed(skew_ms: float) -> Clock:
    """The machine's clocks, the wall one shifted by ``skew_ms`` (the machine's own when 0)."""
    return SkewedClock(SystemClock(), skew_ms) if skew_ms else SystemClock()


class SkewedClock:
    """Another clock shifted by a fixed number of milliseconds on the wall side only."""

    def __init__(self, base: Clock, skew_ms: float) -> None:
        self._base = base
        self._skew_s = skew_ms / 1000.0

    def time(self) -> float:
        """The base clock's wall time plus the skew."""
        return self._base.time() + self._skew_s

    def monotonic(self) -> float:
        """The base clock's monotonic time, unshifted."""
        return self._base.monotonic()


class ManualClock:
    """A clock that moves only when told to; for tests."""

    def __init__(self, wall: float = 1_700_000_000.0, mono: float = 1000.0) -> None:
        self._wall = wall
        self._mono = mono

    def time(self) -> float:
        """The current wall time."""
        return self._wall

    def monotonic(self) -> float:
        """The current monotonic time."""
        return self._mono

    def advance(self, seconds: float) -> None:
        """Move both clocks forward."""
        self._wall += seconds
        self._mono += seconds


def now_ms(clock: Clock) -> int:
    """The clock's wall time in whole epoch milliseconds."""
    return int(clock.time() * 1000)
