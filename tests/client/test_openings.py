"""The next opening of every form of ``target_time`` (time is an input: no clock is read)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from sniper.client.openings import Schedule, schedule

CST = timezone(timedelta(hours=8))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _openings(plan: Schedule, after: str, count: int) -> list[str]:
    """The next ``count`` openings after ``after``, as UTC text."""
    found, now = [], _at(after)
    for _ in range(count):
        nxt = plan.next_opening(now)
        if nxt is None:
            break
        found.append(nxt.astimezone(UTC).isoformat())
        now = nxt
    return found


def test_an_instant_opens_once_as_ever() -> None:
    plan = schedule("2024-04-15T07:00:00+08:00")
    assert not plan.repeats
    assert plan.next_opening(_at("2024-04-14T00:00:00+00:00")) == _at("2024-04-15T07:00:00+08:00")
    assert plan.next_opening(_at("2024-04-15T07:00:00+08:00")) is None  # strictly after


def test_times_of_day_with_offsets_daily_across_a_month_end() -> None:
    """05:59 and 08:29 in +08:00, every day: in order, across 30 April to 1 May."""
    plan = schedule(["08:29:00+08:00", "05:59:00+08:00"], repeat="daily")
    assert _openings(plan, "2024-04-30T06:00:00+08:00", 4) == [
        "2024-04-30T00:29:00+00:00",
        "2024-04-30T21:59:00+00:00",  # 1 May 05:59 in +08:00
        "2024-05-01T00:29:00+00:00",
        "2024-05-01T21:59:00+00:00",
    ]


def test_a_time_just_past_is_tomorrows() -> None:
    plan = schedule("07:00:00.250+08:00", repeat="daily")
    assert plan.next_opening(_at("2024-04-15T07:00:00.250+08:00")) == _at(
        "2024-04-16T07:00:00.250+08:00"
    )
    assert plan.next_opening(_at("2024-04-15T07:00:00.249+08:00")) == _at(
        "2024-04-15T07:00:00.250+08:00"
    )


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        # The last Sunday of March 2024: 07:00 is CET (+01) on Saturday, CEST (+02) from Sunday.
        ("2024-03-30T12:00:00+00:00", ["2024-03-31T05:00:00+00:00", "2024-04-01T05:00:00+00:00"]),
        ("2024-03-29T12:00:00+00:00", ["2024-03-30T06:00:00+00:00", "2024-03-31T05:00:00+00:00"]),
        # The last Sunday of October 2024: back to CET.
        ("2024-10-26T12:00:00+00:00", ["2024-10-27T06:00:00+00:00", "2024-10-28T06:00:00+00:00"]),
    ],
)
def test_a_zone_keeps_the_wall_clock_across_daylight_saving(
    after: str, expected: list[str]
) -> None:
    plan = schedule("07:00:00", tz="Europe/Berlin", repeat="daily")
    assert _openings(plan, after, 2) == expected


def test_a_wall_clock_time_the_zone_skips_or_repeats() -> None:
    """02:30 does not exist in Berlin on 31 March 2024 (read with the old offset: 03:30 CEST)
    and happens twice on 27 October 2024 (the first one)."""
    plan = schedule("02:30:00", tz="Europe/Berlin", repeat="daily")
    assert _openings(plan, "2024-03-30T12:00:00+00:00", 1) == ["2024-03-31T01:30:00+00:00"]
    assert _openings(plan, "2024-10-26T12:00:00+00:00", 1) == ["2024-10-27T00:30:00+00:00"]


def test_weekdays_skip_the_weekend_in_the_times_own_zone() -> None:
    """Friday 12 April 2024 08:29 in +08:00, then Monday 15 April (Friday evening UTC is
    already Saturday in Shanghai: no opening then)."""
    plan = schedule("08:29:00", tz="Asia/Shanghai", repeat="weekdays")
    assert _openings(plan, "2024-04-11T23:00:00+00:00", 2) == [
        "2024-04-12T00:29:00+00:00",
        "2024-04-15T00:29:00+00:00",
    ]


def test_dates_are_the_only_days_and_then_it_ends() -> None:
    plan = schedule("20:00:00+08:00", dates=["2024-11-11", "2024-06-18"])
    assert _openings(plan, "2024-06-01T00:00:00+00:00", 5) == [
        "2024-06-18T12:00:00+00:00",
        "2024-11-11T12:00:00+00:00",
    ]


def test_repeat_until_ordered_ends_at_the_first_order() -> None:
    plan = schedule("07:00:00+08:00", repeat="daily", repeat_until="ordered")
    after = _at("2024-04-15T00:00:00+00:00")
    assert plan.next_opening(after) == _at("2024-04-16T07:00:00+08:00")
    assert plan.next_opening(after, ordered=True) is None
    assert schedule("07:00:00+08:00", repeat="daily").next_opening(after, ordered=True)


def test_a_zone_and_its_times_of_day_are_the_same_instants_as_offsets() -> None:
    """Shanghai has no daylight saving: a zone and +08:00 open at the same instants."""
    zoned = schedule("05:59:00", tz="Asia/Shanghai", repeat="daily")
    fixed = schedule("05:59:00+08:00", repeat="daily")
    after = "2024-01-01T00:00:00+00:00"
    assert _openings(zoned, after, 40) == _openings(fixed, after, 40)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"target_time": "07:00:00+08:00"}, "needs repeat: daily or weekdays"),
        ({"target_time": "07:00:00", "repeat": "daily"}, "needs an offset"),
        ({"target_time": "07:00:00+08:00", "tz": "Asia/Shanghai", "repeat": "daily"}, "one of"),
        ({"target_time": "7:00+08:00", "repeat": "daily"}, "not a time of day"),
        ({"target_time": "24:00:00+08:00", "repeat": "daily"}, "not a time of day"),
        ({"target_time": "07:00:00+25:00", "repeat": "daily"}, "no such offset"),
        ({"target_time": "07:00:00", "tz": "Mars/Olympus", "repeat": "daily"}, "IANA"),
        ({"target_time": "07:00:00+08:00", "repeat": "hourly"}, "repeat: 'hourly'"),
        ({"target_time": "07:00:00+08:00", "repeat": "daily", "dates": ["2024-01-01"]}, "one of"),
        ({"target_time": "07:00:00+08:00", "dates": ["2024-13-01"]}, "dates:"),
        ({"target_time": "07:00:00+08:00", "repeat": "daily", "repeat_until": "x"}, "'ordered'"),
        ({"target_time": "2024-04-15T07:00:00+08:00", "repeat_until": "ordered"}, "opens once"),
        ({"target_time": []}, "at least one"),
    ],
)
def test_a_wrong_schedule_is_one_line_naming_what(fields: dict[str, object], says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)) as caught:
        schedule(**fields)  # type: ignore[arg-type]
    assert "\n" not in str(caught.value)


def test_no_day_is_missed_at_any_hour() -> None:
    """From any hour of two months (a daylight-saving change in them), a daily time opens
    within a day and an hour, a weekday time within a weekend and an hour."""
    for kind in ("daily", "weekdays"):
        plan = schedule("23:59:59.999", tz="America/New_York", repeat=kind)
        start = _at("2024-03-01T00:00:00+00:00")
        for hours in range(0, 24 * 60, 7):
            after = start + timedelta(hours=hours)
            nxt = plan.next_opening(after)
            assert nxt is not None
            assert after < nxt <= after + timedelta(days=3 if kind == "weekdays" else 1, hours=1)


def test_the_night_clocks_go_forward_orders_its_openings_by_the_instant() -> None:
    """In Berlin on 2024-03-31 02:30 does not exist (read as 03:30, 01:30 UTC) and 03:00 is
    01:00 UTC: 03:00 opens first, then 02:30, each once; the next day as written."""
    plan = schedule(["02:30:00", "03:00:00"], tz="Europe/Berlin", repeat="daily")
    at = plan.next_opening(_at("2024-03-31T00:00:00+00:00"))
    seen = []
    for _ in range(4):
        assert at is not None
        seen.append(at.astimezone(UTC).isoformat())
        at = plan.next_opening(at)  # after an opening given in its own zone
    assert seen == [
        "2024-03-31T01:00:00+00:00",
        "2024-03-31T01:30:00+00:00",
        "2024-04-01T00:30:00+00:00",
        "2024-04-01T01:00:00+00:00",
    ]


@pytest.mark.parametrize("zone", ["Asia", "Europe/" + "x" * 300, "../etc/passwd"])
def test_a_zone_that_is_no_zone_file_is_one_line(zone: str) -> None:
    with pytest.raises(ValueError, match=r"tz: .* is not an IANA time zone"):
        schedule("07:00:00", tz=zone, repeat="daily")


@pytest.mark.parametrize(
    ("text", "same_as"),
    [("07:00", "07:00:00"), ("05:59+08:00", "05:59:00+08:00"), ("23:30Z", "23:30:00Z")],
)
def test_a_time_of_day_may_leave_out_its_seconds(text: str, same_as: str) -> None:
    """Shops publish 05:59; it is 05:59:00."""
    tz = None if "+" in text or "Z" in text else "Asia/Shanghai"
    after = _at("2024-04-15T00:00:00+00:00")
    short = schedule(text, tz=tz, repeat="daily").next_opening(after)
    assert short == schedule(same_as, tz=tz, repeat="daily").next_opening(after)
