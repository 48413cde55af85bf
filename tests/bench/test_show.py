"""The bench table: each check OK or one FAILED line with its figures."""

from __future__ import annotations

from typing import Any

import pytest
from rich.console import Console

from sniper.bench.report import Shot, summarize
from sniper.bench.run import arrival_spread_ms
from sniper.bench.show import show

OPENING = 1_800_000_000_000


def _table(report: dict[str, Any]) -> str:
    console = Console(record=True, width=160, color_system=None)
    show(report, console)
    return console.export_text()


def _lines(text: str, start: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip("│ ").startswith(start)]


def _shots(codes: list[str], users: list[str] | None = None) -> list[Shot]:
    names = users or [f"u{i}" for i in range(len(codes))]
    status = {"ok": 201, "sold_out": 409, "timeout": None}
    return [
        Shot(names[i], OPENING + i, OPENING + 10.0 + i, status[c], c, i)
        for i, c in enumerate(codes)
    ]


def test_a_good_opening() -> None:
    report = summarize(_shots(["ok", "ok", "sold_out", "timeout"]), stock=2, opening_ms=OPENING)
    text = _table(report)
    for check in ("oversold", "undersold", "duplicates"):
        (line,) = _lines(text, check)
        assert line.split("│")[2].strip() == "OK"
    assert "FAILED" not in text
    assert "timeout: 1" in text
    (line,) = _lines(text, "time to sold out")
    assert "11.000 ms after the opening" in line
    (line,) = _lines(text, "fairness")
    assert "+0.8165 (first come first served: +0.8165)" in line
    (line,) = _lines(text, "winners among the first 2 sent")
    assert line.split("│")[2].strip() == "2"
    (line,) = _lines(text, "latency p50 / p90 / p99 / max (ms)")
    figures = [float(x) for x in line.split("│")[2].split("/")]
    assert figures == [pytest.approx(10.0, rel=1e-3)] * 4
    (line,) = _lines(text, "send spread")
    assert "3.000" in line
    (line,) = _lines(text, "first write, from the opening")
    assert "+0.000 ms" in line
    assert not _lines(text, "orders' arrival spread")  # only where the target stamps orders


def test_the_orders_arrival_spread_beside_the_send_spread() -> None:
    """Our own store stamps its orders: their spread shows beside the send spread."""
    orders = [{"created_ms": OPENING + 2}, {"created_ms": OPENING + 9}]
    report = summarize(_shots(["ok", "ok"]), stock=2, opening_ms=OPENING)
    report["arrival_spread_ms"] = arrival_spread_ms(orders)
    (line,) = _lines(_table(report), "orders' arrival spread")
    assert "7.000" in line
    assert arrival_spread_ms([]) is None


def test_a_late_first_write_shows_how_late() -> None:
    late = [Shot("a", OPENING + 430.25, OPENING + 500.0, 201, "ok", 0)]
    (line,) = _lines(_table(summarize(late, stock=1, opening_ms=OPENING)), "first write")
    assert line.split("│")[2].strip() == "+430.250 ms"


def test_every_check_failed() -> None:
    codes = ["ok", "ok", "ok", "sold_out", "sold_out"]
    oversold = summarize(_shots(codes, ["a", "a", "b", "c", "d"]), stock=2, opening_ms=OPENING)
    text = _table(oversold)
    (line,) = _lines(text, "oversold")
    assert "FAILED: 3 units sold, the stock was 2" in line
    (line,) = _lines(text, "duplicates")
    assert "FAILED: 1 buyer with more than one order" in line
    undersold = summarize(_shots(codes), stock=10, opening_ms=OPENING, server_count=4)
    text = _table(undersold)
    (line,) = _lines(text, "undersold")
    assert "FAILED: 2 told sold out with 6 of 10 units left" in line
    (line,) = _lines(text, "units sold, by the server's count")
    assert line.split("│")[2].strip() == "4"


def test_the_store_order_list_oversold() -> None:
    orders = [{"user": "a", "qty": 2}]
    report = summarize(_shots(["ok"]), stock=5, opening_ms=OPENING, orders=orders)
    (line,) = _lines(_table(report), "oversold")
    assert "FAILED: the store's orders exceed the stock or a buyer's limit" in line


def test_nothing_answered() -> None:
    report = summarize(_shots(["timeout"]), stock=1, opening_ms=OPENING)
    text = _table(report)
    (line,) = _lines(text, "latency")
    assert "n/a / n/a / n/a / n/a" in line
    (line,) = _lines(text, "time to sold out")
    assert "not sold out (0 of 1 sold)" in line
    (line,) = _lines(text, "fairness")
    assert "n/a (no winner or no loser)" in line


def test_a_shard_without_the_server_count() -> None:
    """One shard's own sales are not the sale's: undersold and the time to sold out wait for
    the merge, and are not failures."""
    report = summarize(
        _shots(["ok", "sold_out", "sold_out"]), stock=4, opening_ms=OPENING, shard="1/2"
    )
    text = _table(report)
    for check in ("undersold", "time to sold out"):
        (line,) = _lines(text, check)
        assert "n/a: judged when the shards are merged" in line
    assert "FAILED" not in text


def test_undersold_unknown_says_how_many_outcomes_are_unknown() -> None:
    report = summarize(_shots(["ok", "timeout", "sold_out"]), stock=2, opening_ms=OPENING)
    (line,) = _lines(_table(report), "undersold")
    assert "unknown: 1 told sold out with 1 of 2 units left" in line
    assert "1 request with no known outcome" in line
    assert "FAILED" not in line


def test_not_sold_out() -> None:
    report = summarize(_shots(["ok", "ok"]), stock=50, opening_ms=OPENING)
    (line,) = _lines(_table(report), "time to sold out")
    assert "not sold out (2 of 50 sold)" in line
    counted = summarize(_shots(["ok", "ok"]), stock=50, opening_ms=OPENING, server_count=7)
    (line,) = _lines(_table(counted), "time to sold out")
    assert "not sold out (7 of 50 sold)" in line


def test_oversold_by_the_server_count() -> None:
    report = summarize(_shots(["ok"]), stock=2, opening_ms=OPENING, server_count=3)
    (line,) = _lines(_table(report), "oversold")
    assert "FAILED: 3 units sold by the server's count, the stock was 2" in line
