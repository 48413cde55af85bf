"""``aim: learned``: when to arrive, from what the last openings of a shop and item showed (pure).

Each of the last openings that saw the shop open gives a point, ms after the published opening:
- it answered ``not_started`` and then was open: the first arrival it was open (the real opening
  lies before it, after the last ``not_started``);
- it was open at our first arrival and we ordered: no later than we aimed that day (the aim
  held: we learn only that it had opened by then);
- it was open at our first arrival but we did not order (sold out, say): the published time,
  since we may have come too late.
The aim is the median of the points less twice their median absolute deviation (a shop whose
opening wanders is aimed at earlier), never before the published opening and never past the
retry window. A shop that stays late keeps its aim; one that has become punctual and sells out
before we arrive pulls it back to the published time.
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
    if record.result == "ordered":
        return min(record.first_open_ms, record.aim_ms)
    return 0.0


def learned(
    records: Sequence[Opening], *, shop: str, sku_id: str, window_ms: float, last: int = LEARN_FROM
) -> Aim:
    """The aim from ``records`` (oldest first) of ``shop`` and ``sku_id``."""
    seen = [r for r in records if r.shop == shop and r.sku_id == sku_id and point(r) is not None]
    recent = tuple(seen[-last:])
    points = tuple(p for p in map(point, recent) if p is not None)
    if not any(p > 0.0 for p in points):
        return Aim(0.0)  # nothing seen of a late opening: the published time
    center = statistics.median(points)
    margin = 2 * statistics.median(abs(p - center) for p in points)
    offset = min(max(0.0, center - margin), window_ms)
    return Aim(offset, recent, points, center, margin)
