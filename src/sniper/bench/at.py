"""``bench --at``: when the opening is. ``+2s`` / ``+1500ms`` from now, an RFC 3339 instant, or
a time of day (``HH:MM:SS``, this machine's zone unless it carries an offset), all on the
target's clock. Pure: the target's time comes in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from sniper.errors import ConfigError
from sniper.humanize import duration

#: The furthest ahead an opening may be.
MAX_AHEAD_S = 3600.0


@dataclass(frozen=True)
class At:
    """One of: ``delay_s`` from now, an ``instant``, or the next ``time_of_day``."""

    delay_s: float | None = None
    instant: datetime | None = None
    time_of_day: time | None = None


#: ``--at``'s default.
IN_TWO_SECONDS = At(delay_s=2.0)


def local_zone() -> tzinfo:
    """This machine's time zone (for a time of day without an offset): the one reading of the
    machine here, kept out of :func:`opening_ms`."""
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def parse_at(text: str) -> At:
    """``+2s``, ``2``, ``+1500ms``, ``2024-04-15T07:00:00+08:00`` or ``07:00:00[+08:00]``."""
    text = text.strip()
    relative = re.fullmatch(r"\+?(\d+(?:\.\d+)?)(ms|s)?", text)
    if relative is not None:
        value = float(relative.group(1)) / (1000 if relative.group(2) == "ms" else 1)
        if value > MAX_AHEAD_S:
            raise ConfigError(f"at: must be at most {MAX_AHEAD_S:g} seconds ahead")
        return At(delay_s=value)
    try:
        if "T" in text or " " in text:
            instant = datetime.fromisoformat(text)
            if instant.tzinfo is None:
                raise ConfigError(f"at: {text!r} needs an offset (such as +08:00 or Z)")
            return At(instant=instant)
        return At(time_of_day=time.fromisoformat(text))
    except ValueError:
        raise ConfigError(
            f"at: {text!r} is not like +2s, +1500ms, 07:00:00 or 2024-04-15T07:00:00+08:00"
        ) from None


def opening_ms(at: At, target_now_ms: int, local_zone: tzinfo) -> int:
    """The opening in epoch ms on the target's clock, which reads ``target_now_ms`` now; a time
    of day is its next occurrence. ConfigError unless 0 to :data:`MAX_AHEAD_S` ahead."""
    if at.delay_s is not None:
        return target_now_ms + round(at.delay_s * 1000)
    now = datetime.fromtimestamp(target_now_ms / 1000, tz=local_zone)
    if at.instant is not None:
        when = at.instant
    else:
        assert at.time_of_day is not None
        day = at.time_of_day
        zone = day.tzinfo or local_zone
        today = now.astimezone(zone)
        when = datetime.combine(today.date(), day.replace(tzinfo=None), tzinfo=zone)
        # Today's, unless it passed long ago: a time a moment past is a late start, not
        # tomorrow's opening.
        if when < today and (today - when).total_seconds() > MAX_AHEAD_S:
            when += timedelta(days=1)
    ahead_s = (when - now).total_seconds()
    if ahead_s < 0:
        raise ConfigError(
            f"at: {when.isoformat()} has passed on the target's clock ({duration(-ahead_s)} ago)"
        )
    if ahead_s > MAX_AHEAD_S:
        raise ConfigError(
            f"at: {when.isoformat()} is {duration(ahead_s)} ahead on the "
            "target's clock (at most 1 h)"
        )
    return round(when.timestamp() * 1000)
