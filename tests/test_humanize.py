"""Durations in words and padding by terminal width: pure, tested with tables."""

from __future__ import annotations

import pytest

from sniper.humanize import duration, pad, width


@pytest.mark.parametrize(
    ("seconds", "lang", "text"),
    [
        (0.0, "en", "0.0 s"),
        (-3.0, "en", "0.0 s"),
        (4.27, "en", "4.2 s"),
        (9.99, "en", "9.9 s"),
        (10.0, "en", "10 s"),
        (42.9, "en", "42 s"),
        (60.0, "en", "1 min"),
        (65.0, "en", "1 min 5 s"),
        (3599.0, "en", "59 min 59 s"),
        (3600.0, "en", "1 h"),
        (5297.7, "en", "1 h 28 min"),
        (5285.876, "en", "1 h 28 min"),
        (86400.0 + 3 * 3600 + 59, "en", "1 d 3 h"),
        (5297.7, "zh", "1 小时 28 分"),
        (42.0, "zh", "42 秒"),
        (4.2, "zh", "4.2 秒"),
        (90000.0, "zh", "1 天 1 小时"),
        (65.0, "fr", "1 min 5 s"),  # an unknown language falls back to English
    ],
)
def test_duration(seconds: float, lang: str, text: str) -> None:
    """The two largest units, rounded down; tenths only under ten seconds."""
    assert duration(seconds, lang) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (5297.7, "1 h 28 min 17 s"),
        (3600.0, "1 h"),
        (3605.0, "1 h 5 s"),
        (42.0, "42 s"),
    ],
)
def test_duration_to_the_second(seconds: float, text: str) -> None:
    """Three units for a live countdown."""
    assert duration(seconds, "en", 3) == text


@pytest.mark.parametrize(
    ("text", "cells", "padded"),
    [
        ("sniper", 8, "sniper  "),
        ("crowd", 8, "crowd   "),
        ("抢购器", 8, "抢购器  "),
        ("普通买家", 8, "普通买家"),
        ("普通买家", 4, "普通买家"),  # never cut
        ("", 2, "  "),
    ],
)
def test_pad(text: str, cells: int, padded: str) -> None:
    """Padding counts terminal cells: a CJK character takes two."""
    assert pad(text, cells) == padded


def test_width() -> None:
    """The widest text, in cells."""
    assert width(["sniper", "普通买家"]) == 8
    assert width([]) == 0
