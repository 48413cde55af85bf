"""``sniper history``'s logic: a history file's records as a table, a summary per task, shop and
item, and the JSON document. Pure: records in, text and numbers out.

Two figures are read off each record (ms after the published opening, server clock):

- the shop's opening as we saw it: between the last arrival answered ``not_started`` and the
  first answered otherwise, so their midpoint; with no ``not_started`` before it, the first open
  answer alone, an upper bound (the shop opened at or before it); none if never seen open;
- our lateness: when our order's answer came back, else (not ordered) our first arrival.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sniper.client.console import message, word
from sniper.client.history import Opening
from sniper.client.scrub import printable
from sniper.rfc3339 import parse_rfc3339

#: A value never seen (the shop never seen open, no order).
NONE = "—"

#: The table's columns, by their message keys.
COLUMNS = (
    "history_opening",
    "history_task",
    "history_result",
    "history_aim",
    "history_opened",
    "history_sold_out",
    "history_arrival",
    "history_lateness",
    "history_order_id",
)


def observed_opening(record: Opening) -> float | None:
    """When the shop opened as we saw it, ms after the published opening (see the module)."""
    if record.first_open_ms is None:
        return None
    if record.last_not_started_ms is None:
        return record.first_open_ms
    return (record.last_not_started_ms + record.first_open_ms) / 2


def lateness(record: Opening) -> float | None:
    """How late after the published opening we were: the order's answer, else our first
    arrival."""
    return record.late_ms if record.late_ms is not None else record.first_arrival_ms


def select(records: Iterable[Opening], *, task: str | None, last: int | None) -> list[Opening]:
    """The records of ``task`` (every task's without), by published opening (those of one
    instant in the order written), the last ``last`` of them (all without)."""
    chosen = sorted(
        (r for r in records if task is None or r.task == task), key=lambda r: r.opening_ms
    )
    return chosen[-last:] if last is not None else chosen


def ms(value: float | None) -> str:
    """An instant or a length in ms, signed (``+150.2 ms``); ``—`` for none."""
    return NONE if value is None else f"{value:+.1f} ms"


def opened(record: Opening) -> str:
    """The shop's opening as we saw it: ``+150.2 ms``, ``≤ +0.8 ms`` when only the first open
    answer bounds it, ``—`` when never seen open."""
    seen = observed_opening(record)
    if seen is not None and record.last_not_started_ms is None:
        return f"≤ {ms(seen)}"
    return ms(seen)


@dataclass(frozen=True, slots=True)
class Table:
    """A table for people: its column headers and its rows of text."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def table(records: Sequence[Opening], lang: str) -> Table:
    """One row per record, in ``lang``. The opening is the published one, in the offset it was
    written with; when every row has the same offset, the header says it once."""
    times = [_local_time(r.opening) for r in records]
    offsets = {offset for _, offset in times}
    headers = [message(lang, key) for key in COLUMNS]
    if len(offsets) == 1 and None not in offsets:
        headers[0] = message(lang, "history_opening_in", offset=offsets.pop())
        shown = [text for text, _ in times]
    else:
        shown = [text if offset is None else f"{text} {offset}" for text, offset in times]
    rows = tuple(_row(r, when, lang) for r, when in zip(records, shown, strict=True))
    return Table(tuple(headers), rows)


def _row(record: Opening, when: str, lang: str) -> tuple[str, ...]:
    return (
        when,
        printable(record.task),
        word(lang, record.result),
        ms(record.aim_ms),
        opened(record),
        ms(record.sold_out_ms),
        ms(record.first_arrival_ms),
        ms(lateness(record)),
        NONE if record.order_id is None else printable(record.order_id),
    )


def _local_time(opening: str) -> tuple[str, str | None]:
    """``2026-12-01 07:00:00`` (with ``.250`` if it has milliseconds) and ``+08:00``; a text that
    is no RFC 3339 time as it is, with no offset."""
    try:
        when = parse_rfc3339(opening)
    except ValueError:
        return printable(opening), None
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond // 1000:03d}"
    return text, _offset(when)


def _offset(when: datetime) -> str:
    offset = when.utcoffset()
    assert offset is not None  # RFC 3339 times carry one
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def wall_clock(record: Opening) -> datetime:
    """The published opening as the shop's clock on the wall showed it (no zone): the time
    written, or from its epoch ms in UTC if the text is no RFC 3339 time."""
    try:
        return parse_rfc3339(record.opening).replace(tzinfo=None)
    except ValueError:
        return datetime.fromtimestamp(record.opening_ms / 1000, UTC).replace(tzinfo=None)


def summary_line(records: Sequence[Opening], skipped: int, lang: str) -> str:
    """The line under the table: openings, orders, and lines skipped if any."""
    line = message(
        lang,
        "history_summary",
        openings=len(records),
        ordered=sum(r.result == "ordered" for r in records),
    )
    if skipped:
        line += message(lang, "history_skipped", skipped=skipped)
    return line


def summaries(records: Iterable[Opening]) -> list[dict[str, Any]]:
    """Per task, shop and item (in the order first met): openings, orders, the shop's opening
    as seen (median, min, max over the openings it was seen in; None if never) and our lateness
    (median), in ms after the published opening."""
    return [_summary(key, group) for key, group in groups(records).items()]


def groups(records: Iterable[Opening]) -> dict[tuple[str, str, str], list[Opening]]:
    """The records by task, shop and item, in the order first met."""
    by_key: dict[tuple[str, str, str], list[Opening]] = {}
    for record in records:
        by_key.setdefault((record.task, record.shop, record.sku_id), []).append(record)
    return by_key


def _summary(key: tuple[str, str, str], group: list[Opening]) -> dict[str, Any]:
    seen = [s for s in map(observed_opening, group) if s is not None]
    late = [t for t in map(lateness, group) if t is not None]
    return {
        "task": key[0],
        "shop": key[1],
        "sku_id": key[2],
        "openings": len(group),
        "ordered": sum(r.result == "ordered" for r in group),
        "opened_seen": len(seen),
        "opened_median_ms": _rounded(statistics.median(seen)) if seen else None,
        "opened_min_ms": _rounded(min(seen)) if seen else None,
        "opened_max_ms": _rounded(max(seen)) if seen else None,
        "lateness_median_ms": _rounded(statistics.median(late)) if late else None,
    }


def _rounded(value: float) -> float:
    return round(value, 3)


def document(records: Sequence[Opening], skipped: int) -> dict[str, Any]:
    """``--json``: the records as read, the lines skipped, and the summaries."""
    return {
        "records": [asdict(r) for r in records],
        "skipped": skipped,
        "summary": summaries(records),
    }
