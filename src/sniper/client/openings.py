"""When a task's openings are: one instant, or times of day that repeat (pure; time is an input).

A ``target_time`` is an RFC 3339 instant (one opening, as ever), or one or more times of day:
each with its offset (``"07:00:00+08:00"``) or, with ``tz``, in an IANA zone (``"07:00:00"`` and
``tz: Europe/Berlin``: the same wall-clock time across daylight-saving changes). Times of day
repeat ``daily``, on ``weekdays`` (Monday to Friday, in the time's own zone), or on the listed
``dates``. A wall-clock time that a zone skips (02:30 on the night clocks go forward) is read
with the offset from before the change, as PEP 495 does: one hour later by the new clocks; one
that happens twice (clocks going back) is its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sniper.rfc3339 import parse_rfc3339

Repeat = Literal["daily", "weekdays"]
REPEATS: tuple[Repeat, ...] = ("daily", "weekdays")

_TIME_OF_DAY = re.compile(
    r"(?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,6}))?)?"
    r"(?P<off>[Zz]|(?P<sign>[+-])(?P<oh>\d{2}):(?P<om>\d{2}))?"
)
#: Bounds on a schedule's lists (each opening is a full run: far more is a mistake).
MAX_TIMES, MAX_DATES = 100, 1000
#: Days looked at for the next opening of a repeating time: a week holds a weekday whatever
#: the date, and a zone's changes move a day by an hour at most.
_HORIZON_DAYS = 8


@dataclass(frozen=True, slots=True)
class DailyTime:
    """A time of day in a zone: a fixed offset, or an IANA zone."""

    at: time
    zone: tzinfo

    def on(self, day: date) -> datetime:
        """This time on ``day`` (the zone's calendar), as an aware instant."""
        return datetime.combine(day, self.at, tzinfo=self.zone)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A task's openings. ``once`` alone: one instant. Else ``times`` on the days of ``repeat``
    or of ``dates``; ``until_ordered`` ends the schedule at the first order."""

    once: datetime | None = None
    times: tuple[DailyTime, ...] = ()
    repeat: Repeat | None = None
    dates: tuple[date, ...] = ()
    until_ordered: bool = False

    @property
    def repeats(self) -> bool:
        """Whether there may be more than one opening."""
        return self.once is None

    def next_opening(self, after: datetime, *, ordered: bool = False) -> datetime | None:
        """The first opening strictly after ``after`` (aware), or None when there is none left
        (the one instant has passed, the dates are over, or ``until_ordered`` and ``ordered``)."""
        if ordered and self.until_ordered:
            return None
        # Compared in UTC: two instants of one zone compare by their wall-clock times, which
        # the night clocks go forward orders wrongly (02:30 skipped is 03:30, after 03:00).
        after = after.astimezone(UTC)
        if self.once is not None:
            return self.once if self.once > after else None
        found = [t for t in (self._next_of(daily, after) for daily in self.times) if t]
        return min(found, key=lambda t: t.astimezone(UTC), default=None)

    def opens_at(self, instant: datetime) -> bool:
        """Whether ``instant`` (aware) is one of the schedule's openings."""
        found = self.next_opening(instant - timedelta(microseconds=1))
        return found is not None and found == instant

    def _next_of(self, daily: DailyTime, after: datetime) -> datetime | None:
        start = after.astimezone(daily.zone).date() - timedelta(days=1)
        if self.dates:
            days: Sequence[date] = [d for d in sorted(self.dates) if d >= start]
        else:
            days = [start + timedelta(days=n) for n in range(_HORIZON_DAYS + 1)]
            if self.repeat == "weekdays":
                days = [d for d in days if d.weekday() < 5]
        for day in days:
            when = daily.on(day)
            if when > after:
                return when
        return None


def parse_time_of_day(text: str, zone: tzinfo | None) -> DailyTime:
    """``HH:MM[:SS[.ffffff]]`` with an offset (``+08:00``, ``Z``), or without one in ``zone``;
    :class:`ValueError` saying which form is expected otherwise."""
    found = _TIME_OF_DAY.fullmatch(text)
    if found is None:
        raise ValueError(f"{text!r} is not a time of day such as 07:00:00+08:00")
    hour, minute, second = int(found["h"]), int(found["m"]), int(found["s"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{text!r} is not a time of day such as 07:00:00+08:00")
    micro = int((found["f"] or "0").ljust(6, "0"))
    at = time(hour, minute, second, micro)
    if found["off"] is None:
        if zone is None:
            raise ValueError(f"{text!r} needs an offset (07:00:00+08:00) or a tz: for the task")
        return DailyTime(at, zone)
    if zone is not None:
        raise ValueError(f"{text!r} has an offset and the task a tz: give one of the two")
    if found["sign"] is None:
        return DailyTime(at, UTC)
    if int(found["oh"]) > 23 or int(found["om"]) > 59:
        raise ValueError(f"{text!r} has no such offset")
    offset = timedelta(hours=int(found["oh"]), minutes=int(found["om"]))
    return DailyTime(at, timezone(-offset if found["sign"] == "-" else offset))


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``Asia/Shanghai``); :class:`ValueError` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder, a long name
        raise ValueError(f"{name!r} is not an IANA time zone such as Asia/Shanghai") from None


def schedule(
    target_time: str | Sequence[str],
    *,
    tz: str | None = None,
    repeat: str | None = None,
    dates: Sequence[str] = (),
    repeat_until: str | None = None,
) -> Schedule:
    """A task's schedule from its fields as written; :class:`ValueError`, one line, naming
    what is wrong otherwise. An RFC 3339 instant with none of the repeating fields is one
    opening, as a task has always had."""
    texts = [target_time] if isinstance(target_time, str) else list(target_time)
    kind = _check_fields(texts, repeat, dates, repeat_until)
    repeating = kind is not None or bool(dates)
    if len(texts) == 1 and not repeating and tz is None:
        try:
            instant = parse_rfc3339(texts[0])
        except ValueError:
            pass
        else:
            if repeat_until is not None:
                raise ValueError("repeat_until: a single instant opens once; give repeat:")
            return Schedule(once=instant)
    if not repeating:
        if all(_is_instant(text) for text in texts):
            raise ValueError(
                "target_time: an instant opens once, alone and without tz; openings that repeat "
                "are times of day with repeat: or dates:"
            )
        raise ValueError(
            "target_time: a time of day needs repeat: daily or weekdays, or dates: [YYYY-MM-DD]"
        )
    try:
        zone = zone_named(tz) if tz is not None else None
    except ValueError as exc:
        raise ValueError(f"tz: {exc}") from None
    times = _times_of_day(texts, zone)
    try:
        days = tuple(sorted({date.fromisoformat(d) for d in dates}))
    except ValueError:
        raise ValueError("dates: each is a day such as 2024-04-15") from None
    return Schedule(times=times, repeat=kind, dates=days, until_ordered=repeat_until == "ordered")


def _times_of_day(texts: list[str], zone: tzinfo | None) -> tuple[DailyTime, ...]:
    """The times of a schedule that repeats; ValueError naming ``target_time`` otherwise."""
    for text in texts:
        if _is_instant(text):
            raise ValueError(
                f"target_time: {text!r} is one instant: openings that repeat are times of day "
                "such as 07:00:00+08:00"
            )
    try:
        return tuple(parse_time_of_day(text, zone) for text in texts)
    except ValueError as exc:
        raise ValueError(f"target_time: {exc}") from None


def _is_instant(text: str) -> bool:
    try:
        parse_rfc3339(text)
    except ValueError:
        return False
    return True


def _check_fields(
    texts: list[str], repeat: str | None, dates: Sequence[str], repeat_until: str | None
) -> Repeat | None:
    """The fields that need no parsing, checked; the kind of repeat (None: none given)."""
    if not texts:
        raise ValueError("target_time: give at least one time")
    if len(texts) > MAX_TIMES:
        raise ValueError(f"target_time: at most {MAX_TIMES} times of day")
    if len(dates) > MAX_DATES:
        raise ValueError(f"dates: at most {MAX_DATES} days")
    kind = next((r for r in REPEATS if r == repeat), None)
    if repeat is not None and kind is None:
        raise ValueError(f"repeat: {repeat!r} is not one of {', '.join(REPEATS)}")
    if repeat_until not in (None, "ordered"):
        raise ValueError(f"repeat_until: {repeat_until!r} is not 'ordered'")
    if kind is not None and dates:
        raise ValueError("repeat and dates: give one of the two (dates are the days it repeats)")
    return kind
