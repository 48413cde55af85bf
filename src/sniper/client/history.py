"""A repeating task's history file: one JSON line per opening, appended and flushed.

Each line says what one opening showed, every instant in milliseconds after the *published*
opening on the server's clock (negative: before it): when the shop still answered
``not_started``, when it first answered anything else (it was open), when it first accepted an
order and when it sold out, as our requests arrived; and how we did. A request's arrival is the
midpoint of its send and its answer on the server's clock.

A line is written with one ``write`` on a file opened for appending (0600), so a process killed
mid-way leaves at most one torn last line, which :func:`read` skips; a restarted task appends
after it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from sniper.files import open_private

#: The record format's version, written on every line.
VERSION = 1


@dataclass(frozen=True, slots=True)
class Opening:
    """What one opening of one task showed. Instants are ms after ``opening`` (server clock)."""

    task: str
    #: Where its orders went (``host:port``) and what: the learned aim is per shop and item.
    shop: str
    sku_id: str
    #: The published opening (RFC 3339) and its epoch ms.
    opening: str
    opening_ms: int
    #: How far after the opening we aimed to arrive (0 with ``aim: published``).
    aim_ms: float
    #: ``ordered``, ``not_ordered``, ``auth_failed``, ``bad_task``, ``fatal``, ``interrupted``.
    result: str
    order_id: str | None = None
    #: Our first request's arrival.
    first_arrival_ms: float | None = None
    #: The first and the last arrival answered ``not_started`` (the shop still closed).
    first_not_started_ms: float | None = None
    last_not_started_ms: float | None = None
    #: The first arrival answered otherwise (an order, sold out, the limit): the shop open.
    first_open_ms: float | None = None
    first_accepted_ms: float | None = None
    #: The first arrival answered sold out.
    sold_out_ms: float | None = None
    #: When our order's answer came back.
    late_ms: float | None = None
    requests: int = 0
    detail: str = ""
    #: When the line was written (RFC 3339, local clock).
    written: str = ""

    def to_json(self) -> str:
        """The record as one JSON line (without the newline)."""
        record: dict[str, Any] = {"v": VERSION}
        for name, value in asdict(self).items():
            record[name] = round(value, 3) if isinstance(value, float) else value
        return json.dumps(record, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> Opening | None:
        """A record from one line, or None if the line is not one (torn, foreign, a later
        format's required field missing)."""
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):  # deep nesting raises the latter
            return None
        if not isinstance(data, dict) or data.get("v") != VERSION:
            return None
        known = {f.name for f in fields(cls)}
        try:
            record = cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return None
        return record if _well_typed(record) else None


def _well_typed(record: Opening) -> bool:
    """Whether a record read back has the types it was written with (a hand-edited line may
    not)."""
    texts = (
        record.task,
        record.shop,
        record.sku_id,
        record.opening,
        record.result,
        record.detail,
        record.written,
    )
    if not all(isinstance(t, str) for t in texts):
        return False
    if record.order_id is not None and not isinstance(record.order_id, str):
        return False
    if not _integer(record.opening_ms) or not _integer(record.requests):
        return False
    if not _number(record.aim_ms):
        return False
    instants = (
        record.first_arrival_ms,
        record.first_not_started_ms,
        record.last_not_started_ms,
        record.first_open_ms,
        record.first_accepted_ms,
        record.sold_out_ms,
        record.late_ms,
    )
    return all(t is None or _number(t) for t in instants)


def _integer(value: object) -> bool:
    return isinstance(value, int) and _number(value)


#: Past this a number is no instant in ms (about 285,000 years).
_LARGEST = 2.0**53


def _number(value: object) -> bool:
    """A number an instant can be: ``NaN``, ``Infinity`` (which Python's JSON reads) and
    integers too large for a float are not."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    return abs(value) < _LARGEST  # False for NaN; compared exactly for a huge integer


def append(path: Path, record: Opening) -> None:
    """Add ``record`` to the file at ``path`` (created 0600): one write, flushed to the disk.
    OSError if it cannot be written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = open_private(path, os.O_WRONLY | os.O_APPEND)
    try:
        data = (record.to_json() + "\n").encode()
        if os.fstat(fd).st_size and not _ends_with_newline(path):
            data = b"\n" + data  # after a torn line: ours starts a line of its own
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


@dataclass(frozen=True, slots=True)
class History:
    """A history file as read: its records in the order written, and how many lines were not
    records (a torn last line, a foreign or hand-broken one; blank lines are not counted)."""

    records: tuple[Opening, ...]
    skipped: int


def read(path: Path, *, last_bytes: int | None = None) -> list[Opening]:
    """Every record in the file (in its last ``last_bytes``, if given), oldest first; lines
    that are not records are skipped. OSError if the file cannot be read."""
    return list(read_history(path, last_bytes=last_bytes).records)


def read_history(path: Path, *, last_bytes: int | None = None) -> History:
    """The file's records (in its last ``last_bytes``, if given) and the count of lines
    skipped. OSError if it cannot be read."""
    records: list[Opening] = []
    skipped = 0
    for line in _lines(path, last_bytes):
        record = Opening.from_json(line)
        if record is not None:
            records.append(record)
        elif line.strip():
            skipped += 1
    return History(tuple(records), skipped)


def _lines(path: Path, last_bytes: int | None) -> Iterator[str]:
    with path.open("rb") as handle:
        size = handle.seek(0, os.SEEK_END)
        start = 0 if last_bytes is None else max(0, size - last_bytes)
        handle.seek(start)
        if start:
            handle.readline()  # the rest of a line cut at the start: not a line
        for raw in handle:
            yield raw.decode("utf-8", errors="replace")
