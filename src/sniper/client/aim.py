"""``aim: learned``: when to arrive, from what the last openings of a shop and item showed (pure).

An opening whose answers saw the shop still closed after its published time (``not_started``
past +0) is evidence that the shop opens late; each opening that saw it open gives a point,
the first arrival it was open (when it was open at our first arrival, no later than we aimed
that day: we learn only that it had opened by then). The aim is the median of those points
less twice their median absolute deviation (a shop whose opening wanders is aimed at earlier),
never before the published opening and never past the retry window.

Without such evidence in the last openings the aim is the published time again: a shop that
has become punctual is then found out, since arriving late says nothing of when it opened.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from sniper.client.history import Opening

#: How many of the latest openings of a shop and item the aim is learned from.
LEARN_FROM = 7


@dataclass(frozen=True, slots=True)
class Aim:
    """How long after the published opening to arrive, and the openings that said so."""

    offset_ms: float
    #: The openings it was learned from (none: the published time, nothing learned).
    openings: tuple[Opening, ...] = ()
    #: Their points (ms after the published opening), the median and the margin taken off it.
    points: tuple[float, ...] = ()
    center_ms: float = 0.0
    margin_ms: float = 0.0


def point(record: Opening) -> float | None:
    """Where one opening puts the shop's real opening (ms after the published one), or None
    when it never saw the shop open."""
    if record.first_open_ms is None:
        return None
    if record.last_not_started_ms is not None and record.last_not_started_ms < record.first_open_ms:
        return record.first_open_ms
    return min(record.first_open_ms, record.aim_ms)


def learned(
    records: Sequence[Opening], *, shop: str, sku_id: str, window_ms: float, last: int = LEARN_FROM
) -> Aim:
    """The aim from ``records`` (oldest first) of ``shop`` and ``sku_id``."""
    seen = [r for r in records if r.shop == shop and r.sku_id == sku_id and point(r) is not None]
    recent = tuple(seen[-last:])
    if not any((r.last_not_started_ms or 0.0) > 0.0 for r in recent):
        return Aim(0.0)
    points = tuple(p for p in map(point, recent) if p is not None)
    center = statistics.median(points)
    margin = 2 * statistics.median(abs(p - center) for p in points)
    offset = min(max(0.0, center - margin), window_ms)
    return Aim(offset, recent, points, center, margin)
