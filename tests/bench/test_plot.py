"""The bench plot: p50 and p99 marked on the latency histogram, the run in the title."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest

from sniper.bench.plot import figure, plot, title
from sniper.bench.report import Shot, summarize
from sniper.errors import ConfigError

OPENING = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC


def _report(codes: list[str]) -> dict[str, object]:
    status = {"ok": 201, "sold_out": 409, "timeout": None}
    shots = [
        Shot(f"u{i}", OPENING + i, OPENING + 5.0 + 2 * i, status[c], c, i)
        for i, c in enumerate(codes)
    ]
    return summarize(shots, stock=2, opening_ms=OPENING)


def test_the_title_names_the_run() -> None:
    report = {**_report(["ok", "ok", "sold_out"]), "target": "http://127.0.0.1:9000", "users": 3}
    first, second = title(report).split("\n")
    assert first == "http://127.0.0.1:9000, 3 users, stock 2, 2026-01-01 00:00:00 UTC"
    assert second == "3 requests: ok 2, sold out 1; checks OK"


def test_the_title_without_a_target_and_with_failed_checks() -> None:
    report = _report(["ok", "ok", "ok", "sold_out"])
    first, second = title(report).split("\n")
    assert first == "4 users, stock 2, 2026-01-01 00:00:00 UTC"  # users: the requests
    assert second == "4 requests: ok 3, sold out 1; FAILED oversold"


def test_p50_and_p99_are_marked() -> None:
    report = _report(["ok", "ok"] + ["sold_out"] * 98)
    fig = figure(report)
    try:
        hist, line = fig.axes
        marks = {m.get_label(): float(np.asarray(m.get_xdata())[0]) for m in hist.get_lines()}
        latency = report["latency_ms"]
        assert isinstance(latency, dict)
        assert marks == {
            f"p50 {latency['p50']:.3f} ms": latency["p50"],
            f"p99 {latency['p99']:.3f} ms": latency["p99"],
        }
        legend = hist.get_legend()
        assert legend is not None
        assert [t.get_text() for t in legend.get_texts()] == list(marks)
        assert fig.texts[0].get_text() == title(report)
        legend = line.get_legend()
        assert legend is not None
        assert [t.get_text() for t in legend.get_texts()] == ["ok (2)", "sold_out (98)"]
    finally:
        plt.close(fig)


def test_nothing_answered_draws_no_marks(tmp_path: Path) -> None:
    report = _report(["timeout"])
    fig = figure(report)
    try:
        assert fig.axes[0].get_lines() == []
    finally:
        plt.close(fig)
    plot(report, tmp_path / "none.png")
    assert (tmp_path / "none.png").read_bytes().startswith(b"\x89PNG")


def test_plot_writes_a_png_or_says_why_not(tmp_path: Path) -> None:
    report = _report(["ok", "sold_out"])
    plot(report, tmp_path / "bench.png")
    assert (tmp_path / "bench.png").read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ConfigError, match=r"^plot: cannot write .*x\.png: "):
        plot(report, tmp_path / "no-such-dir" / "x.png")
