"""What a burst came to: counts, latency, throughput, spread, and the oversell check. Pure."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Shot:
    """One user's order request: when it left and came back (local ms) and the answer."""

    user: str
    sent_at: float
    done_at: float
    status: int | None
    code: str  # "ok", the store's error code, or a transport error's name


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (nearest rank); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def oversold(orders: Sequence[dict[str, Any]], stock: int, limit: int) -> bool:
    """More units ordered than there were, or a user past the per-user limit."""
    units = sum(int(o["qty"]) for o in orders)
    per_user = Counter[str]()
    for order in orders:
        per_user[str(order["user"])] += int(order["qty"])
    return units > stock or any(n > limit for n in per_user.values())


def summarize(
    shots: Sequence[Shot], orders: Sequence[dict[str, Any]], *, stock: int, limit: int
) -> dict[str, Any]:
    """The report, with the keys ``--json`` promises."""
    codes = Counter(s.code for s in shots)
    latencies = [s.done_at - s.sent_at for s in shots if s.status is not None]
    first_send = min((s.sent_at for s in shots), default=0.0)
    last_send = max((s.sent_at for s in shots), default=0.0)
    last_done = max((s.done_at for s in shots), default=0.0)
    duration_s = max(1e-9, (last_done - first_send) / 1000)
    return {
        "requests": len(shots),
        "ok": codes.get("ok", 0),
        "sold_out": codes.get("sold_out", 0),
        "errors": {code: n for code, n in sorted(codes.items()) if code not in ("ok", "sold_out")},
        "oversold": oversold(orders, stock, limit),
        "orders_listed": len(orders),
        "latency_ms": {
            name: round(percentile(latencies, q), 3)
            for name, q in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
        },
        "throughput_rps": round(len(shots) / duration_s, 1),
        "spread_ms": round(last_send - first_send, 3),
    }


def to_json(report: dict[str, Any]) -> str:
    """Exactly one JSON object."""
    return json.dumps(report, sort_keys=True)


def exit_code(report: dict[str, Any]) -> int:
    """``sniper bench``'s exit code: 1 when oversold, or when nothing succeeded and something
    failed (a run that sold nothing of what it could: undersold); else 0."""
    failed_outright = report["ok"] == 0 and bool(report["errors"])
    return 1 if report["oversold"] or failed_outright else 0
