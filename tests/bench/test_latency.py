"""The HDR latency histogram: percentiles within its 3 significant digits, and the .hgrm text."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from sniper.bench.latency import answered_latencies, hgrm, histogram, percentiles, write_hgrm
from sniper.errors import ConfigError


def _nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(len(ordered) * q / 100)) - 1]


@pytest.mark.parametrize(
    "values",
    [
        [float(i) for i in range(1, 101)],  # 1..100 ms
        [0.25 * i for i in range(1, 2001)],  # 0.25..500 ms
        [3.0] * 99 + [2500.0],  # one slow answer: p99 is not it, max is
        [0.0005, 0.0015, 0.0025],  # around a microsecond
    ],
)
def test_percentiles_are_within_three_digits(values: list[float]) -> None:
    """Each is the nearest-rank value to 0.1 % (the histogram's bucket's highest value)."""
    got = percentiles(histogram(values))
    for name, q in (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("max", 100.0)):
        exact = round(_nearest_rank(values, q) * 1000) / 1000  # whole microseconds
        value = got[name]
        assert value is not None
        assert exact <= value <= exact * 1.001 + 0.001, name


def test_a_slow_answer_is_the_max_not_the_p99() -> None:
    got = percentiles(histogram([3.0] * 99 + [2500.0]))
    assert got["p99"] == pytest.approx(3.0, rel=1e-3)
    assert got["max"] == pytest.approx(2500.0, rel=1e-3)


def test_no_values_no_percentiles() -> None:
    assert percentiles(histogram([])) == {"p50": None, "p90": None, "p99": None, "max": None}


def test_below_zero_counts_as_zero_and_past_an_hour_as_an_hour() -> None:
    """An answer mapped a little before its send (half an RTT taken off) is not lost."""
    hist = histogram([-0.2, 5_000_000.0])
    assert hist.get_total_count() == 2
    got = percentiles(hist)
    assert got["p50"] == 0.0
    assert got["max"] == pytest.approx(3_600_000.0, rel=1e-3)


def test_a_huge_or_endless_latency_is_an_hour() -> None:
    """No float a report can hold makes the histogram fail."""
    hist = histogram([1e308, -1e308, math.inf, 2.0])
    assert hist.get_total_count() == 4
    got = percentiles(hist)
    assert got["max"] == pytest.approx(3_600_000.0, rel=1e-3)


def _table(text: str) -> list[list[str]]:
    """The rows a .hgrm reader (HdrHistogram's plotter) takes: lines of numbers."""
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if fields and not line.startswith("#") and fields[0] != "Value":
            rows.append(fields)
    return rows


def test_hgrm_is_the_percentile_distribution() -> None:
    values = [float(i) for i in range(1, 1001)]
    text = hgrm(histogram(values))
    lines = text.splitlines()
    assert lines[0].split() == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    assert lines[1] == ""
    rows = _table(text)
    assert all(len(r) == 4 for r in rows[:-1])
    assert len(rows[-1]) == 3  # the 100 % line has no 1/(1-p)
    levels = [float(r[1]) for r in rows]
    counts = [int(r[2]) for r in rows]
    ms = [float(r[0]) for r in rows]
    assert levels == sorted(levels)
    assert levels[-1] == 1.0
    assert counts == sorted(counts)
    assert counts[-1] == 1000
    assert ms == sorted(ms)
    assert ms[-1] == pytest.approx(1000.0, rel=1e-3)  # values in ms
    assert lines[-3].startswith("#[Mean    =")
    mean, stddev = (float(x.split("=")[1]) for x in lines[-3].strip("#[]").split(","))
    assert mean == pytest.approx(500.5, rel=1e-3)
    assert stddev == pytest.approx(288.7, rel=1e-2)  # in ms too
    assert lines[-2].split("Total count    =")[1].strip(" ]") == "1000"
    assert lines[-1].startswith("#[Buckets =")


def test_hgrm_of_nothing_is_a_header_and_the_footer() -> None:
    text = hgrm(histogram([]))
    assert _table(text) == []
    assert "Total count    =            0" in text


def test_write_hgrm_answered_shots_only(tmp_path: Path) -> None:
    report = {
        "shots": [
            [0, "a", 1000.0, 1002.0, 201, "ok"],
            [1, "b", 1000.0, 1004.0, 409, "sold_out"],
            [2, "c", 1000.0, 31000.0, None, "timeout"],
        ]
    }
    assert answered_latencies(report["shots"]) == [2.0, 4.0]
    path = tmp_path / "latency.hgrm"
    write_hgrm(report, path)
    text = path.read_text()
    assert "Total count    =            2" in text
    assert float(_table(text)[-1][0]) == pytest.approx(4.0, rel=1e-3)


def test_write_hgrm_where_it_cannot(tmp_path: Path) -> None:
    path = tmp_path / "no-such-dir" / "x.hgrm"
    with pytest.raises(ConfigError, match=r"^hdr: cannot write .*x\.hgrm: "):
        write_hgrm({"shots": []}, path)
