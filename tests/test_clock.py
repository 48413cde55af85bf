"""The clocks handed to the product's logic."""

from __future__ import annotations

import time

from sniper.clock import SkewedClock, SystemClock, skewed


def test_the_system_clock_is_the_machines() -> None:
    clock = SystemClock()
    before, wall, after = time.time(), clock.time(), time.time()
    assert before <= wall <= after
    before, mono, after = time.monotonic(), clock.monotonic(), time.monotonic()
    assert before <= mono <= after


def test_skewed_shifts_the_wall_clock_only() -> None:
    assert isinstance(skewed(0), SystemClock)
    ahead = skewed(1500)
    assert isinstance(ahead, SkewedClock)
    before, wall, after = time.time(), ahead.time(), time.time()
    assert before + 1.5 <= wall <= after + 1.5
    before, mono, after = time.monotonic(), ahead.monotonic(), time.monotonic()
    assert before <= mono <= after
