"""The demo's winners' table, as a terminal shows it."""

from __future__ import annotations

from typing import Any

import pytest
from rich.cells import cell_len

from sniper.demo import TEXT, _show

ORDERS: list[dict[str, Any]] = [
    {"order_id": "A", "user": "u-00001", "created_ms": 1000},
    {"order_id": "B", "user": "u-00002", "created_ms": 1865},
    {"order_id": "C", "user": "u-00003", "created_ms": 1870},
]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_winners_line_up(lang: str) -> None:
    """The user column starts at the same terminal column on every row, also when the names
    are double-width Chinese."""
    lines: list[str] = []
    _show(ORDERS, "u-00001", 1000, order_id="A", text=TEXT[lang], say=lines.append)
    rows = [ln for ln in lines if " u-0000" in ln]
    assert len(rows) == 3
    assert len({cell_len(row[: row.index(" u-0000")]) for row in rows}) == 1
