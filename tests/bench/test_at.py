"""``bench --at``: parsing and resolving against the target's clock. Pure tables."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from sniper.bench.at import At, opening_ms, parse_at
from sniper.errors import ConfigError

CST = timezone(timedelta(hours=8))
#: The target's clock: 2024-04-15T06:59:30+08:00.
NOW_MS = int(datetime(2024, 4, 15, 6, 59, 30, tzinfo=CST).timestamp() * 1000)


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("+2s", At(delay_s=2.0)),
        ("2", At(delay_s=2.0)),
        ("+1500ms", At(delay_s=1.5)),
        ("2024-04-15T07:00:00+08:00", At(instant=datetime(2024, 4, 15, 7, tzinfo=CST))),
        ("2024-04-14T23:00:00Z", At(instant=datetime(2024, 4, 14, 23, tzinfo=UTC))),
        ("07:00:00", At(time_of_day=time(7))),
        ("07:00:00.250+08:00", At(time_of_day=time(7, 0, 0, 250000, tzinfo=CST))),
    ],
)
def test_parse(text: str, at: At) -> None:
    """From now, an instant, or a time of day."""
    assert parse_at(text) == at


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("soon", "is not like +2s, +1500ms, 07:00:00 or 2024-04-15T07:00:00+08:00"),
        ("2024-04-15T07:00:00", "needs an offset"),
        ("+7200s", "at most 3600 seconds ahead"),
        ("25:00:00", "is not like"),
    ],
)
def test_parse_refuses(text: str, says: str) -> None:
    """One line naming the option."""
    with pytest.raises(ConfigError, match=r"^at: ") as refused:
        parse_at(text)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("text", "zone", "ms"),
    [
        ("+2s", UTC, NOW_MS + 2000),
        ("2024-04-15T07:00:00+08:00", UTC, NOW_MS + 30_000),
        ("2024-04-14T23:00:00Z", CST, NOW_MS + 30_000),
        ("07:00:00", CST, NOW_MS + 30_000),  # this machine's zone
        ("23:00:00", UTC, NOW_MS + 30_000),  # the same instant, read in UTC
        ("07:00:00+08:00", UTC, NOW_MS + 30_000),  # its own offset wins
        ("07:59:30", CST, NOW_MS + 3_600_000),  # exactly an hour
    ],
)
def test_opening(text: str, zone: timezone, ms: int) -> None:
    """Epoch ms on the target's clock."""
    assert opening_ms(parse_at(text), NOW_MS, zone) == ms


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2024-04-15T06:59:00+08:00", "has passed on the target's clock (30 s ago)"),
        ("2024-04-15T09:00:00+08:00", "is 2 h ahead on the target's clock (at most 1 h)"),
        # A time of day a moment past is a late start (a shard started after the others),
        # not tomorrow's opening; one past long ago is tomorrow's, too far ahead.
        ("06:59:00", "has passed on the target's clock (30 s ago)"),
        ("05:00:00", "is 22 h ahead"),
    ],
)
def test_opening_refuses(text: str, says: str) -> None:
    """Past, or more than an hour ahead: one line, before anything is created."""
    with pytest.raises(ConfigError, match=r"^at: ") as refused:
        opening_ms(parse_at(text), NOW_MS, CST)
    assert says in str(refused.value)
