"""Who got the units: Kendall tau-b between the send order and winning, in O(n log n). Pure."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence


def kendall_tau(sent_ms: Sequence[float], won: Sequence[bool]) -> float | None:
    """Kendall tau-b between the send order and winning, signed so that +1-ish means the
    earlier senders won and -1-ish that the later ones did; ``None`` when it is undefined (no
    winner, no loser, or every request sent at one same instant).

    Sends at the same instant are ties. Winning is binary, so most pairs (two winners, two
    losers) are ties too, and tau-b stays below 1 even for a perfectly first-come-first-served
    outcome: compare with :func:`kendall_tau_max`. Only pairs of a winner and a loser sent at
    different instants are concordant (the winner was sent first) or discordant, so the sum
    is counted by binary search over the losers' sorted send times."""
    if len(sent_ms) != len(won):
        raise ValueError("sent_ms and won differ in length")
    losers = sorted(t for t, w in zip(sent_ms, won, strict=True) if not w)
    winners = [t for t, w in zip(sent_ms, won, strict=True) if w]
    if not winners or not losers:
        return None
    n = len(sent_ms)
    pairs = n * (n - 1) // 2
    tied_sends = sum(k * (k - 1) // 2 for k in Counter(sent_ms).values())
    if pairs == tied_sends:
        return None
    balance = 0  # concordant minus discordant pairs
    for t in winners:
        balance += len(losers) - bisect_right(losers, t)  # losers sent after this winner
        balance -= bisect_left(losers, t)  # losers sent before it
    # The pairs not tied in winning are exactly the winner-loser pairs.
    return balance / math.sqrt((pairs - tied_sends) * len(winners) * len(losers))


def kendall_tau_max(sent_ms: Sequence[float], winners: int) -> float | None:
    """The tau-b of a perfectly first-come-first-served outcome with these send times: the
    ``winners`` earliest sent win (which ones of a tie at the boundary changes nothing). With
    ``n`` distinct send times it is ``sqrt(W * L / (n * (n - 1) / 2))``, below 1: the ceiling
    that :func:`kendall_tau` is read against."""
    order = sorted(sent_ms)
    return kendall_tau(order, [i < winners for i in range(len(order))])


def winners_in_first(sent: Sequence[tuple[float, int, bool]], n: int) -> int:
    """How many of the first ``n`` sent won; ``sent`` holds ``(sent_ms, index, won)``, and a
    tie in time is broken by the users file's order (``index``)."""
    return sum(won for _, _, won in sorted(sent)[: max(0, n)])
