"""Clock-offset estimation from samples: tables, no clock, no network."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sniper.client.timesync import (
    DATE_LAG_MS,
    Estimate,
    Sample,
    date_header_sample,
    edge_probe_times,
    epoch_ms,
    estimate,
    implausible,
    intersect,
    lowest_rtt,
    ms_tick_sample,
    next_edge_probe,
    whole_seconds,
)


class TestLowestRtt:
    """NTP-style: the lowest-RTT sample wins; offset = server − local midpoint."""

    def test_picks_the_fastest_sample(self) -> None:
        """A slow sample (RTT 40) loses to a fast one (RTT 2) even if listed first."""
        samples = [
            ms_tick_sample(1000.0, 1040.0, 2530),  # slow: says offset ≈ 1510
            ms_tick_sample(2000.0, 2002.0, 3501),  # fast: offset = 3501.5 − 2001 = 1500.5
        ]
        est = lowest_rtt(samples)
        assert est.offset == pytest.approx(1500.5)
        assert est.rtt == pytest.approx(2.0)
        assert est.uncertainty == pytest.approx(1.0 + 0.5)

    def test_negative_offset(self) -> None:
        """A server 800 ms behind."""
        est = lowest_rtt([ms_tick_sample(5000.0, 5000.2, 4200)])
        assert est.offset == pytest.approx(4200.5 - 5000.1)

    def test_no_samples(self) -> None:
        """Nothing to estimate from."""
        with pytest.raises(ValueError, match="no samples"):
            lowest_rtt([])


class TestIntersection:
    """Every sample bounds the offset; their intersection is tighter than any one."""

    def test_sub_tick_precision_from_phases(self) -> None:
        """True offset 1500.3 ms, server ticks of 1 ms, RTT 0.2: samples at several phases of
        the tick pin it to about the RTT, well under one tick."""
        true = 1500.3
        samples = []
        for k in range(10):
            t0 = 1000.0 + k * 13.37
            t1 = t0 + 0.2
            server_ms = int(t0 + 0.1 + true)  # the server reads its clock mid-flight
            samples.append(ms_tick_sample(t0, t1, server_ms))
        lo, hi = intersect(samples) or (0.0, 0.0)
        assert lo <= true <= hi
        est = estimate(samples)
        assert est.method == "intersection"
        assert abs(est.offset - true) <= est.uncertainty
        assert est.uncertainty < 0.2

    def test_date_header_edge(self) -> None:
        """Two Date samples 2 ms apart straddling the server's second edge narrow a whole
        second of uncertainty to ~2 ms."""
        true = 250.0  # server = local + 250
        # local 9749 → server 9999 (second 9000); local 9751 → server 10001 (second 10000)
        a = date_header_sample(9748.9, 9749.1, 9000)
        b = date_header_sample(9750.9, 9751.1, 10000)
        est = estimate([a, b])
        assert est.method == "intersection"
        assert abs(est.offset - true) <= est.precision <= 1.5
        assert est.uncertainty == pytest.approx(est.precision + DATE_LAG_MS)

    def test_disagreeing_samples_fall_back(self) -> None:
        """A clock step between samples: no common offset, so the lowest-RTT sample decides."""
        a = ms_tick_sample(1000.0, 1000.5, 2000)
        b = ms_tick_sample(2000.0, 2000.2, 5000)
        assert intersect([a, b]) is None
        assert estimate([a, b]).method == "lowest-rtt"


def test_estimate_maps_both_ways() -> None:
    """server_time and local_time are inverses."""
    est = Estimate(offset=123.5, uncertainty=0.1, rtt=0.2, method="x", samples=1)
    assert est.local_time(est.server_time(1000.0)) == pytest.approx(1000.0)


@pytest.mark.parametrize(
    ("now", "offset", "rtt", "expected"),
    [
        (0.0, 0.0, 0.0, 1000.0),  # next edge of the server's second
        (0.0, 250.0, 0.0, 750.0),  # server ahead by 250: its next second comes sooner
        (0.0, 250.0, 10.0, 745.0),  # leave half an RTT early
        (760.0, 250.0, 0.0, 1750.0),  # just missed one: the next
    ],
)
def test_next_edge_probe(now: float, offset: float, rtt: float, expected: float) -> None:
    """The probe arrives at the server's next predicted second edge."""
    est = Estimate(offset=offset, uncertainty=500.0, rtt=rtt, method="x", samples=1)
    assert next_edge_probe(est, now, rtt) == pytest.approx(expected)


def test_edge_probe_times_spread_across_the_uncertainty() -> None:
    """k probes, evenly inside ±uncertainty around the next predicted edge, in time order."""
    est = Estimate(offset=250.0, uncertainty=100.0, rtt=0.0, method="x", samples=1)
    times = edge_probe_times(est, now=0.0, probes=3)
    assert times == pytest.approx([700.0, 750.0, 800.0])


def test_edge_probing_converges_on_a_simulated_date_server() -> None:
    """Against a simulated server 1234.567 ms ahead with 1 s Date resolution and 0.2 ms RTT,
    a few rounds of edge probes pin the offset to under a millisecond."""
    true, rtt = 1234.567, 0.2

    def probe(t0: float) -> Sample:
        server = t0 + rtt / 2 + true
        return date_header_sample(t0, t0 + rtt, int(server // 1000) * 1000)

    final = _probe_edges(probe)
    assert final.precision < 1.0
    assert abs(final.offset - true) <= final.precision


def _probe_edges(probe: Callable[[float], Sample]) -> Estimate:
    """Four plain samples, then up to six rounds of edge probes, as ``probe.measure`` does."""
    samples = [probe(10_000.0 + 37 * k) for k in range(4)]
    now = 11_000.0
    for _ in range(6):
        current = estimate(samples)
        if current.precision < 1.0:
            break
        times = edge_probe_times(current, now, probes=8)
        samples += [probe(t) for t in times]
        now = max(times) + 1.0
    return estimate(samples)


@pytest.mark.parametrize(
    ("phase", "period"),
    [
        (0.0, 1000.0),
        (2.5, 1000.0),
        (6.5, 1000.0),
        (400.0, 1000.0),
        (999.0, 1000.0),
        (300.0, 1004.0),  # uvicorn: ten sleeps of 0.1 s, each a little late
    ],
)
def test_the_bound_holds_against_a_server_that_caches_its_date(phase: float, period: float) -> None:
    """A server whose Date is a copy refreshed by a timer (uvicorn: once a second, at the
    phase the server started) trails its clock by up to a second: the edges find when the
    header changes, and the stated uncertainty still holds the true offset."""
    true, rtt = 1234.567, 0.2

    def probe(t0: float) -> Sample:
        server = t0 + rtt / 2 + true
        refreshed = phase + ((server - phase) // period) * period  # the cached copy's time
        return date_header_sample(t0, t0 + rtt, int(refreshed // 1000) * 1000)

    final = _probe_edges(probe)
    assert abs(final.offset - true) <= final.uncertainty


NOW_MS = 1_764_633_600_000  # 2025-12-02


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOW_MS, NOW_MS),
        (float(NOW_MS) + 0.7, NOW_MS),
        (True, None),  # a JSON boolean is no time
        (False, None),
        (str(NOW_MS), None),  # nor is a string
        (None, None),
        ({"ms": NOW_MS}, None),
        (-99_999_999_999_999, None),  # before 1970
        (1, None),  # 1 ms after 1970
        (631_152_000_000, None),  # 1990
        (10**400, None),  # past any float
        (float("inf"), None),
        (float("nan"), None),
        (32_472_144_000_000, None),  # 2999
    ],
)
def test_epoch_ms(value: object, expected: int | None) -> None:
    """Only a JSON number between 2001 and 2200 is a server's time."""
    assert epoch_ms(value) == expected


@pytest.mark.parametrize(
    ("server_ms", "problem"),
    [
        (NOW_MS + 3_600_000, None),  # an hour apart: a skewed clock, fine
        (NOW_MS - 86_000_000, None),
        (NOW_MS + 2 * 86_400_000, "its clock is 2.0 days ahead of this machine's"),
        (NOW_MS - 400 * 86_400_000, "its clock is 400.0 days behind this machine's"),
    ],
)
def test_implausible_offsets(server_ms: int, problem: str | None) -> None:
    """A server more than a day from this machine's wall clock is no clock to plan by."""
    wall_minus_mono = NOW_MS - 5_000.0  # monotonic 5000 ms is wall NOW_MS
    sample = ms_tick_sample(4_999.0, 5_000.0, server_ms)
    assert implausible(sample, wall_minus_mono) == problem


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        ([], False),
        ([ms_tick_sample(0.0, 1.0, 5000)], False),
        ([Sample(0.0, 1.0, 5000.0, 5100.0)], False),  # a tenth of a second: no edges probed
        ([Sample(0.0, 1.0, 5000.0, 6000.0)], True),  # an endpoint in whole seconds
        ([ms_tick_sample(0.0, 1.0, 5000), date_header_sample(0.0, 1.0, 5000)], True),
    ],
)
def test_whole_seconds(samples: list[Sample], expected: bool) -> None:
    """A clock read in whole seconds (its edges are worth probing)."""
    assert whole_seconds(samples) is expected
