"""The reservation rules, as one pure decision.

A backend reads the facts inside its atomic step, asks :func:`decide`, and applies the
answer in the same step. Keeping the rules here means every backend enforces the same
order of checks, and the table of cases is tested without any database.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sniper.store.models import Item, Order


class Outcome(enum.Enum):
    """What one order request comes to."""

    CREATED = "created"
    REPLAYED = "replayed"
    NOT_FOUND = "not_found"
    NOT_STARTED = "not_started"
    LIMIT_REACHED = "limit_reached"
    SOLD_OUT = "sold_out"


@dataclass(frozen=True, slots=True)
class Reservation:
    """One order request: who, what, how many, and its idempotency key if any; ``fresh_id``
    when the store made that key for this request just now, so that no earlier order can hold
    it and a backend may skip looking for one."""

    user: str
    sku_id: str
    qty: int
    request_id: str | None = None
    fresh_id: bool = False


def decide(item: Item | None, replay: Order | None, bought: int, qty: int, now_ms: int) -> Outcome:
    """Decide a reservation from the facts read in the atomic step.

    Checks run in the documented order: a replay of a ``request_id`` this user already sent
    for this item wins over everything (a request id is scoped to one item: on Redis Cluster the
    check runs inside that item's script, on that item's node); then the item must exist, the
    sale must have opened, the user must stay within ``limit_per_user`` (counted in units
    bought), and the stock must cover ``qty``.
    """
    if replay is not None:
        return Outcome.REPLAYED
    if item is None:
        return Outcome.NOT_FOUND
    if now_ms < item.sale_start_ms:
        return Outcome.NOT_STARTED
    if bought + qty > item.limit_per_user:
        return Outcome.LIMIT_REACHED
    if item.stock < qty:
        return Outcome.SOLD_OUT
    return Outcome.CREATED


@dataclass(frozen=True, slots=True)
class ReservationResult:
    """The outcome, the order (created or replayed), the stock left when known, and the item
    as read for a refusal (so that the caller can cache it)."""

    outcome: Outcome
    order: Order | None = None
    stock_left: int | None = None
    item: Item | None = None
