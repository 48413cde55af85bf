"""The fire plan, from a clock estimate: a table."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sniper.client.schedule import (
    SPIN_MS,
    WARM_LEAD_MS,
    FirePlan,
    coarse_sleep_ms,
    next_checkpoint,
    past_target,
    plan,
)
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
def test_plan(
    target: float, offset: float, rtt: float, preheat: int, send: float, warm: float, pre: float
) -> None:
    """Requests leave half an RTT before the opening on the server's clock."""
    est = Estimate(offset=offset, uncertainty=0.1, rtt=rtt, method="x", samples=8)
    fire = plan(target, est, preheat)
    assert fire.send_at == pytest.approx(send)
    assert fire.warm_at == pytest.approx(warm)
    assert fire.preheat_at == pytest.approx(pre)
    assert fire.arrive_at == pytest.approx(send + rtt / 2)
    assert fire.remeasure_at < fire.preheat_at


@pytest.mark.parametrize(
    ("now", "until", "sleep"), [(0.0, 100.0, 100.0 - SPIN_MS), (0.0, 2.0, 0.0), (50.0, 40.0, 0.0)]
)
def test_coarse_sleep_leaves_the_last_ms_to_the_spin(
    now: float, until: float, sleep: float
) -> None:
    """Sleep to SPIN_MS before the instant, never negative."""
    assert coarse_sleep_ms(now, until) == pytest.approx(sleep)


YEAR_2999_MS = 32_472_144_000_000.0


def _fire(send_at: float, preheat_ms: float = 500) -> FirePlan:
    est = Estimate(offset=0.0, uncertainty=0.1, rtt=0.0, method="x", samples=8)
    return plan(send_at, est, preheat_ms)


def _walk(fire: FirePlan, now: float, preflight: float) -> list[tuple[float, str]]:
    """Every checkpoint in turn, each done the moment it is due (a measure ends at once)."""
    done: list[tuple[float, str]] = []
    measured_at, preflighted = now, False
    for _ in range(20):
        point = next_checkpoint(fire, now, measured_at, preflight, preflighted)
        if point is None:
            return done
        done.append(point)
        now = max(now, point[0])
        if point[1] == "preflight":
            preflighted = True
        else:
            measured_at = now
    raise AssertionError(f"no end to the checkpoints: {done}")


@pytest.mark.parametrize(
    ("now", "send", "preflight", "expected"),
    [
        # an opening 20 minutes away: preflight at -5 min, measures at +10 min, -60 s, -5 s
        (
            0.0,
            1_200_000.0,
            300_000.0,
            [
                (600_000.0, "measure"),
                (900_000.0, "preflight"),
                (1_140_000.0, "measure"),
                (1_195_000.0, "measure"),
            ],
        ),
        # 30 s away: preflight now, one measure at -5 s
        (0.0, 30_000.0, 300_000.0, [(0.0, "preflight"), (25_000.0, "measure")]),
        # 3 s away: preflight now only
        (0.0, 3_000.0, 300_000.0, [(0.0, "preflight")]),
        # 61 s away, pre-flight 2 s before: -60 s, -5 s, then the pre-flight
        (
            0.0,
            61_000.0,
            2_000.0,
            [(1_000.0, "measure"), (56_000.0, "measure"), (59_000.0, "preflight")],
        ),
    ],
)
def test_checkpoints(
    now: float, send: float, preflight: float, expected: list[tuple[float, str]]
) -> None:
    """Preflight once; the clock at 60 s and 5 s before, and every 10 minutes on long waits."""
    assert _walk(_fire(send), now, preflight) == expected


@pytest.mark.parametrize(
    ("measured_at", "expected"),
    [
        (0.0, (600_000.0, "measure")),  # ten minutes after the last measure
        (YEAR_2999_MS - 70_000.0, (YEAR_2999_MS - 60_000.0, "measure")),
        (YEAR_2999_MS - 59_000.0, (YEAR_2999_MS - 5_000.0, "measure")),
        (YEAR_2999_MS - 4_000.0, None),
    ],
)
def test_next_checkpoint_of_an_opening_centuries_away(
    measured_at: float, expected: tuple[float, str] | None
) -> None:
    """An opening in 2999 costs one comparison per step, not a list of every ten minutes
    until then (which took gigabytes)."""
    fire = _fire(YEAR_2999_MS)
    assert next_checkpoint(fire, measured_at, measured_at, 1.0, True) == expected


@pytest.mark.parametrize(
    ("baseline", "wall", "mono", "jumped"),
    [
        (1000.0, 5000.0, 4000.0, False),  # unchanged
        (1000.0, 5050.0, 4000.0, False),  # 50 ms of NTP slew: fine
        (1000.0, 65_000.0, 4000.0, True),  # the laptop slept a minute (monotonic stood still)
        (1000.0, 3000.0, 4000.0, True),  # the wall clock was stepped back 2 s
    ],
)
def test_clock_jump(baseline: float, wall: float, mono: float, jumped: bool) -> None:
    """A jump is a change of wall − monotonic beyond 100 ms."""
    from sniper.client.schedule import clock_jumped

    assert clock_jumped(baseline, wall, mono) is jumped


_OPENING = datetime(2030, 4, 15, 7, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize(
    ("late_ms", "window_s", "refused"),
    [
        (-60_000.0, 10.0, False),  # a minute ahead
        (0.0, 10.0, False),  # started at the opening
        (9_999.0, 10.0, False),  # inside the retry window: still a try to make
        (10_001.0, 10.0, True),  # no try could be sent any more
        (86_400_000.0, 600.0, True),  # a day late
    ],
)
def test_past_target(late_ms: float, window_s: float, refused: bool) -> None:
    """A one-off target is refused once it is more than the retry window past."""
    now_ms = _OPENING.timestamp() * 1000 + late_ms
    why = past_target(_OPENING, now_ms, window_s)
    assert (why is not None) == refused
    if why is not None:
        assert why.startswith(
            "target_time: 2030-04-15T07:00:00+08:00 is in the past "
            "(the server's clock says 2030-04-"
        )
        assert why.endswith(f"a run may start at most retry.window_s ({window_s:g} s) after it")
