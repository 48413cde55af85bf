"""What one opening showed of the shop, from our requests' answers (pure).

A request reached the shop one network leg after its send: half the round trip the clock was
measured with (``one_way_ms``), or half its own answer's time when that is shorter; on the
server's clock. (Half the answer's time alone would count the shop's work as travel: an order
committed to a disk takes milliseconds to answer.) ``not_started`` says the shop was still
closed then; an order, sold out or the account's limit says it was open. A request with no
answer (a broken connection, cancelled) says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sniper.client.outcome import Kind
from sniper.client.runlog import Attempt

#: Answers that only an open sale gives.
OPEN_KINDS = frozenset({Kind.ORDERED.value, Kind.SOLD_OUT.value, Kind.LIMIT_REACHED.value})


@dataclass(slots=True)
class Sighting:
    """The instants (server-clock epoch ms) that our requests' answers fix."""

    first_arrival: float | None = None
    first_not_started: float | None = None
    last_not_started: float | None = None
    first_open: float | None = None
    first_accepted: float | None = None
    sold_out: float | None = None
    #: Requests sent (a cancelled one, never answered, is not counted).
    requests: int = 0
    #: Half the network round trip, once the clock is measured.
    one_way_ms: float | None = None

    def add(self, attempt: Attempt) -> None:
        """Take one request's answer into account."""
        if attempt.outcome == "cancelled":
            return
        self.requests += 1
        if attempt.response is None or attempt.latency_ms is None:
            return
        leg = attempt.latency_ms / 2
        at = attempt.sent_server_ms + (
            leg if self.one_way_ms is None else min(leg, self.one_way_ms)
        )
        self.first_arrival = _earliest(self.first_arrival, at)
        outcome = attempt.outcome
        if outcome == Kind.NOT_STARTED.value:
            self.first_not_started = _earliest(self.first_not_started, at)
            self.last_not_started = max(at, self.last_not_started or at)
        elif outcome in OPEN_KINDS:
            self.first_open = _earliest(self.first_open, at)
            if outcome == Kind.ORDERED.value:
                self.first_accepted = _earliest(self.first_accepted, at)
            elif outcome == Kind.SOLD_OUT.value:
                self.sold_out = _earliest(self.sold_out, at)


def _earliest(known: float | None, at: float) -> float:
    return at if known is None else min(known, at)
