"""What an opening came to: counts, the checks (oversold, undersold, duplicates), fairness,
latency, spread. Pure: every time is given, on the target's clock."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sniper.bench.fairness import kendall_tau, kendall_tau_max, winners_in_first
from sniper.bench.latency import histogram, percentiles

#: Times in a report are kept to a microsecond: a merged report recomputes from these.
DIGITS = 3


@dataclass(frozen=True, slots=True)
class Shot:
    """One user's order request, times on the target's clock (epoch ms).

    ``done_ms`` is when the answer was in, mapped to the target's clock (half the round trip
    taken off: about when the target answered); ``status`` is ``None`` when no answer came;
    ``code`` is ``"ok"``, ``"sold_out"`` or an error kind; ``index`` is the user's row in the
    whole (unsharded) users file, 0-based."""

    user: str
    sent_ms: float
    done_ms: float
    status: int | None
    code: str
    index: int


def summarize(
    shots: Iterable[Shot],
    *,
    stock: int,
    opening_ms: float,
    server_count: int | None = None,
    orders: Sequence[dict[str, Any]] | None = None,
    limit: int = 1,
    first_n: int | None = None,
    shard: str | None = None,
) -> dict[str, Any]:
    """The report, with the keys ``--json`` promises and the ``shots`` a merge recomputes it
    from. ``server_count`` is the target's own count of units sold after the run, ``orders``
    our store's order list (dicts with ``qty`` and ``user``, checked against ``limit`` per
    buyer); ``first_n`` (default: ``stock``) is how many of the first sent the fairness
    counts the winners among."""
    mine = sorted((_rounded(s) for s in shots), key=_order)
    codes = Counter(s.code for s in mine)
    ok = codes.get("ok", 0)
    sold = ok if server_count is None else server_count
    last_ok = max((s.done_ms for s in mine if s.code == "ok"), default=None)
    latencies = (s.done_ms - s.sent_ms for s in mine if s.status is not None)
    return {
        "requests": len(mine),
        "ok": ok,
        "sold_out": codes.get("sold_out", 0),
        "errors": {c: n for c, n in sorted(codes.items()) if c not in ("ok", "sold_out")},
        "oversold": max(ok, sold) > stock
        or (orders is not None and orders_oversold(orders, stock, limit)),
        "undersold": codes.get("sold_out", 0) > 0 and sold < stock,
        "duplicates": duplicates(mine),
        "sold_out_after_ms": None if last_ok is None else round(last_ok - opening_ms, DIGITS),
        "fairness": fairness(mine, stock if first_n is None else first_n),
        "latency_ms": percentiles(histogram(latencies)),
        **_timing(mine),
        "stock": stock,
        "opening_ms": opening_ms,
        "server_count": server_count,
        "orders_listed": None if orders is None else len(orders),
        "shard": shard,
        "shots": [[s.index, s.user, s.sent_ms, s.done_ms, s.status, s.code] for s in mine],
    }


def orders_oversold(orders: Sequence[dict[str, Any]], stock: int, limit: int) -> bool:
    """More units in the order list than there were, or a buyer past the per-buyer limit."""
    per_user = Counter[str]()
    for order in orders:
        per_user[str(order["user"])] += int(order["qty"])
    return per_user.total() > stock or any(n > limit for n in per_user.values())


def duplicates(shots: Iterable[Shot]) -> int:
    """How many buyers got more than one success (two rows of one buyer in a users file are
    two sessions of one buyer)."""
    wins = Counter(s.user for s in shots if s.code == "ok")
    return sum(1 for n in wins.values() if n > 1)


def fairness(shots: Sequence[Shot], first_n: int) -> dict[str, Any]:
    """Kendall tau-b between the send order and winning (every request: one that got no
    answer did not win), the value a first-come-first-served outcome would give, and how many
    of the first ``first_n`` sent won."""
    sent = [s.sent_ms for s in shots]
    won = [s.code == "ok" for s in shots]
    tau, best = kendall_tau(sent, won), kendall_tau_max(sent, sum(won))
    return {
        "kendall_tau": None if tau is None else round(tau, 4),
        "kendall_tau_max": None if best is None else round(best, 4),
        "winners_in_first_n": winners_in_first(
            [(s.sent_ms, s.index, w) for s, w in zip(shots, won, strict=True)], first_n
        ),
        "first_n": first_n,
    }


def exit_code(report: dict[str, Any]) -> int:
    """``sniper bench``'s exit code: 1 when oversold, undersold or a buyer has two orders, or
    when nothing succeeded and something failed; else 0."""
    failed_outright = report["ok"] == 0 and bool(report["errors"])
    broken = report["oversold"] or report["undersold"] or report["duplicates"] > 0
    return 1 if broken or failed_outright else 0


def to_json(report: dict[str, Any]) -> str:
    """Exactly one JSON object."""
    return json.dumps(report, sort_keys=True)


def _rounded(shot: Shot) -> Shot:
    return Shot(
        shot.user,
        round(shot.sent_ms, DIGITS),
        round(shot.done_ms, DIGITS),
        shot.status,
        shot.code,
        shot.index,
    )


def _order(shot: Shot) -> tuple[int, float, float, str, str, int]:
    # The users file's order; the rest only makes the order total, so that a report is the
    # same however its shots came in (a merge of shards).
    status = -1 if shot.status is None else shot.status
    return (shot.index, shot.sent_ms, shot.done_ms, shot.user, shot.code, status)


def _timing(shots: Sequence[Shot]) -> dict[str, Any]:
    if not shots:
        return {"spread_ms": 0.0, "first_send_server_ms": None, "throughput_rps": 0.0}
    first = min(s.sent_ms for s in shots)
    last = max(s.sent_ms for s in shots)
    duration_s = max(1e-9, (max(s.done_ms for s in shots) - first) / 1000)
    return {
        "spread_ms": round(last - first, DIGITS),
        "first_send_server_ms": first,
        "throughput_rps": round(len(shots) / duration_s, 1),
    }
