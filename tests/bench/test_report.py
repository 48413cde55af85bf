"""The bench report's exit code."""

from __future__ import annotations

from typing import Any

import pytest

from sniper.bench.report import exit_code


def _report(ok: int, errors: dict[str, int], oversold: bool = False) -> dict[str, Any]:
    return {"ok": ok, "errors": errors, "oversold": oversold}


@pytest.mark.parametrize(
    ("report", "code"),
    [
        (_report(0, {"connection_error": 10}), 1),  # nothing succeeded, everything failed
        (_report(0, {}), 0),  # stock 0: every answer sold_out, as it should be
        (_report(3, {"timeout": 2}), 0),  # some succeeded: the figures tell the rest
        (_report(30, {}, oversold=True), 1),
        (_report(30, {}), 0),
    ],
)
def test_exit_code(report: dict[str, Any], code: int) -> None:
    assert exit_code(report) == code
