"""Every storage operation is counted and its library errors translated, once, by the base."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sniper.clock import ManualClock
from sniper.errors import NotFound, OutcomeUnknown, Unavailable
from sniper.store.backends.sqlite import SqliteBackend
from sniper.store.models import Item
from sniper.store.rules import Reservation, ReservationResult


class Failing(SqliteBackend):
    """SQLite's own errors escaping a read, a write, the reservation; a bug; a store error."""

    async def get_item(self, sku_id: str) -> Item | None:
        raise sqlite3.OperationalError("disk I/O error")

    async def reserve(self, request: Reservation) -> ReservationResult:
        raise sqlite3.OperationalError("disk I/O error")

    async def revoke_sessions(self, user: str) -> list[str]:
        raise NotFound("no such user")

    async def password_hash(self, user: str) -> str | None:
        raise KeyError(user)


@pytest.fixture
def failing(tmp_path: Path, clock: ManualClock) -> Failing:
    return Failing(tmp_path / "never-opened.db", clock)


async def test_a_storage_error_is_unavailable_or_from_a_reservation_unknown(
    failing: Failing,
) -> None:
    """A read or any other write certainly did nothing it could be blamed for: unavailable. A
    reservation's error may have come after it ran: outcome unknown (a retry with its request id
    finds the order). The library's message stays out of what the client reads."""
    with pytest.raises(Unavailable) as caught:
        await failing.get_item("eggs")
    assert "I/O" not in str(caught.value)
    with pytest.raises(OutcomeUnknown):
        await failing.reserve(Reservation("ann", "eggs", 1))


async def test_store_errors_and_bugs_pass_as_they_are(failing: Failing) -> None:
    with pytest.raises(NotFound):
        await failing.revoke_sessions("ann")
    with pytest.raises(KeyError):
        await failing.password_hash("ann")


async def test_every_operation_is_counted_once_per_call(failing: Failing) -> None:
    for _ in range(3):
        with pytest.raises(OutcomeUnknown):
            await failing.reserve(Reservation("ann", "eggs", 1))
    with pytest.raises(Unavailable):
        await failing.get_item("eggs")
    assert dict(failing.op_counts) == {"reserve": 3, "get_item": 1}
