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

#: Codes of a request whose outcome is not known: no answer (it may have bought before the
#: answer was lost), a 2xx no rule recognised, our store's ``outcome_unknown``.
UNKNOWN_OUTCOMES = frozenset({"timeout", "connection_error", "rejected", "outcome_unknown"})


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
    counts the winners among; ``shard`` (``K/N``) says these are one shard's shots.

    ``undersold`` is ``None`` (unknown) when it cannot be judged: in a shard without the
    server's count (the other shards' sales are not known), or when the requests with no known
    outcome could have bought the units left. ``sold_out_after_ms`` is ``None`` unless the
    units ``sold`` (the server's count when given, else the successes) reached the stock."""
    mine = sorted((_rounded(s) for s in shots), key=_order)
    codes = Counter(s.code for s in mine)
    ok = codes.get("ok", 0)
    sold = ok if server_count is None else server_count
    unknown = sum(n for code, n in codes.items() if code in UNKNOWN_OUTCOMES)
    last_ok = max((s.done_ms for s in mine if s.code == "ok"), default=None)
    # The last success is the last unit sold only when the units sold reached the stock.
    last_unit = last_ok if sold >= stock else None
    latencies = (s.done_ms - s.sent_ms for s in mine if s.status is not None)
    return {
        "requests": len(mine),
        "ok": ok,
        "sold_out": codes.get("sold_out", 0),
        "errors": {c: n for c, n in sorted(codes.items()) if c not in ("ok", "sold_out")},
        "oversold": max(ok, sold) > stock
        or (orders is not None and orders_oversold(orders, stock, limit)),
        "undersold": undersold(
            codes.get("sold_out", 0),
            stock=stock,
            ok=ok,
            unknown=unknown,
            server_count=server_count,
            whole=shard is None,
        ),
        "duplicates": duplicates(mine),
        "sold_out_after_ms": None if last_unit is None else round(last_unit - opening_ms, DIGITS),
        "fairness": fairness(mine, stock if first_n is None else first_n),
        "latency_ms": percentiles(histogram(latencies)),
        **_timing(mine),
        "stock": stock,
        "opening_ms": opening_ms,
        "server_count": server_count,
        "orders_listed": None if orders is None else len(orders),
        "shard": shard,
        "sold": sold,
        "unknown_outcomes": unknown,
        "shots": [[s.index, s.user, s.sent_ms, s.done_ms, s.status, s.code] for s in mine],
    }


def orders_oversold(orders: Sequence[dict[str, Any]], stock: int, limit: int) -> bool:
    """More units in the order list than there were, or a buyer past the per-buyer limit."""
    per_user = Counter[str]()
    for order in orders:
        per_user[str(order["user"])] += int(order["qty"])
    return per_user.total() > stock or any(n > limit for n in per_user.values())


def undersold(
    told_sold_out: int,
    *,
    stock: int,
    ok: int,
    unknown: int,
    server_count: int | None,
    whole: bool,
) -> bool | None:
    """Stock left while buyers were told sold out: ``True``, ``False``, or ``None`` when it
    cannot be known. The server's count, when given, decides. Without it the successes stand
    for the units sold, which only the whole sale's shots can judge (``whole``: not one shard),
    and only when the ``unknown`` outcomes could not have bought what is left."""
    if told_sold_out == 0:
        return False if whole or server_count is not None else None
    if server_count is not None:
        return server_count < stock
    if not whole or (ok < stock <= ok + unknown):
        return None
    return ok < stock


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
    """``sniper bench``'s exit code: 1 when oversold, undersold (``None``, unknown, is not a
    failure) or a buyer has two orders, or when nothing succeeded and something failed; else
    0."""
    failed_outright = report["ok"] == 0 and bool(report["errors"])
    broken = report["oversold"] or report["undersold"] is True or report["duplicates"] > 0
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
