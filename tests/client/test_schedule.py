"""The fire plan, from a clock estimate: a table."""

from __future__ import annotations

import pytest

from sniper.client.schedule import SPIN_MS, WARM_LEAD_MS, coarse_sleep_ms, plan
from sniper.client.timesync import Estimate


@pytest.mark.parametrize(
    ("target", "offset", "rtt", "preheat", "send", "warm", "pre"),
    [
        # server = local + 1500; arrive at target → local 8500; leave 0.1 ms earlier
        (10_000.0, 1500.0, 0.2, 500, 8499.9, 8499.9 - WARM_LEAD_MS, 7999.9),
        # server behind by 800
        (10_000.0, -800.0, 2.0, 500, 10_799.0, 10_799.0 - WARM_LEAD_MS, 10_299.0),
        # preheat shorter than the warm lead: warm right at preheat
        (10_000.0, 0.0, 0.0, 20, 10_000.0, 9_980.0, 9_980.0),
    ],
)
def test_plan(target: float, offset: float, rtt: float, preheat: int, send: float, warm: float,
              pre: float) -> None:
    """Requests leave half an RTT before the opening on the server's clock."""
    est = Estimate(offset=offset, uncertainty=0.1, rtt=rtt, method="x", samples=8)
    fire = plan(target, est, preheat)
    assert fire.send_at == pytest.approx(send)
    assert fire.warm_at == pytest.approx(warm)
    assert fire.preheat_at == pytest.approx(pre)
    assert fire.arrive_at == pytest.approx(send + rtt / 2)
    assert fire.remeasure_at < fire.preheat_at


@pytest.mark.parametrize(("now", "until", "sleep"), [
    (0.0, 100.0, 100.0 - SPIN_MS), (0.0, 2.0, 0.0), (50.0, 40.0, 0.0)])
def test_coarse_sleep_leaves_the_last_ms_to_the_spin(now: float, until: float,
                                                     sleep: float) -> None:
    """Sleep to SPIN_MS before the instant, never negative."""
    assert coarse_sleep_ms(now, until) == pytest.approx(sleep)
