"""RFC 3339 times with an explicit offset: what the sniper and the store both accept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sniper.rfc3339 import parse_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2024-04-15T07:00:00+08:00",
            datetime(2024, 4, 15, 7, tzinfo=timezone(timedelta(hours=8))),
        ),
        ("2024-04-14T23:00:00Z", datetime(2024, 4, 14, 23, tzinfo=UTC)),
        ("2024-04-14t23:00:00z", datetime(2024, 4, 14, 23, tzinfo=UTC)),
        ("2024-04-14T23:00:00.5Z", datetime(2024, 4, 14, 23, 0, 0, 500_000, tzinfo=UTC)),
        (
            "2024-04-14T23:00:00.123456789-01:30",
            datetime(2024, 4, 14, 23, 0, 0, 123_456, tzinfo=timezone(-timedelta(hours=1.5))),
        ),
    ],
)
def test_rfc3339_accepts(text: str, expected: datetime) -> None:
    """Offsets, Z, fractions (nanoseconds cut to micro)."""
    assert parse_rfc3339(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2024-04-15T07:00:00",
        "2024-04-15",
        "tomorrow",
        "2024-13-15T07:00:00Z",
        "20240415T070000+0800",
        "2024-04-15T07:00:00+8",
    ],
)
def test_rfc3339_refuses(text: str) -> None:
    """No offset, no time, or not RFC 3339: ValueError."""
    with pytest.raises(ValueError, match=r"\S"):
        parse_rfc3339(text)
