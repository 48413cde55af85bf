"""The SQLite store's indexes on ``orders``: one index keyed by user holds a user's orders and the
replay rule, and a file made by an older release is brought to it at its first opening."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from sniper.clock import ManualClock
from sniper.store.backends import SqliteBackend
from sniper.store.models import Item
from sniper.store.rules import Outcome, Reservation
from tests.conftest import T0_MS

#: The per-user indexes of the releases before this one; the oldest had its rule across items.
PREVIOUS = (
    "CREATE INDEX orders_by_user ON orders (username, sku_id)",
    "CREATE UNIQUE INDEX orders_by_item_request ON orders (username, sku_id, request_id)"
    " WHERE request_id IS NOT NULL",
)
OLDEST = (
    "CREATE INDEX orders_by_user ON orders (username, sku_id)",
    "CREATE UNIQUE INDEX orders_by_request ON orders (username, request_id)"
    " WHERE request_id IS NOT NULL",
)


def _item(sku: str) -> Item:
    return Item(sku, sku, 100, 10, "2023-11-14T22:13:20+00:00", T0_MS, 5)


def _indexes(path: Path) -> dict[str, str]:
    with sqlite3.connect(path) as conn:
        return dict(
            conn.execute(
                "SELECT name, sql FROM sqlite_master"
                " WHERE type = 'index' AND tbl_name = 'orders' AND sql IS NOT NULL"
            ).fetchall()
        )


def _plan(path: Path, sql: str, args: tuple[str, ...]) -> str:
    with sqlite3.connect(path) as conn:
        return " ".join(row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))


async def _made(path: Path, clock: ManualClock, indexes: tuple[str, ...] | None) -> None:
    """A store file with two orders of ann's (one with a request id) and one of bob's; with
    ``indexes``, its per-user indexes as an older release made them."""
    backend = SqliteBackend(path, clock)
    await backend.open()
    try:
        await backend.put_item(_item("eggs"))
        await backend.put_item(_item("milk"))
        for reservation in (
            Reservation("ann", "eggs", 1, "r1"),
            Reservation("ann", "eggs", 1),
            Reservation("bob", "milk", 1, "r1"),
        ):
            assert (await backend.reserve(reservation)).outcome is Outcome.CREATED
    finally:
        await backend.aclose()
    if indexes is not None:
        with sqlite3.connect(path) as conn:
            conn.execute("DROP INDEX orders_by_user")
            for statement in indexes:
                conn.execute(statement)


async def _indexes_of_a_new_file(path: Path, clock: ManualClock) -> dict[str, str]:
    backend = SqliteBackend(path, clock)
    await backend.open()
    await backend.aclose()
    return _indexes(path)


async def test_a_new_file_has_one_index_keyed_by_user(tmp_path: Path, clock: ManualClock) -> None:
    """By item, and by user with the request id (unique): the replay check and a user's orders
    both read it."""
    path = tmp_path / "store.db"
    await _made(path, clock, None)
    indexes = _indexes(path)
    assert set(indexes) == {"orders_by_sku", "orders_by_user"}
    assert (
        "UNIQUE INDEX orders_by_user ON orders (username, sku_id, request_id)"
        in (indexes["orders_by_user"])
    )
    replay = "SELECT * FROM orders WHERE username = ? AND sku_id = ? AND request_id = ?"
    assert "USING INDEX orders_by_user" in _plan(path, replay, ("ann", "eggs", "r1"))
    mine = "SELECT * FROM orders WHERE username = ? AND sku_id = ?"
    assert "USING INDEX orders_by_user" in _plan(path, mine, ("ann", "eggs"))


@pytest.mark.parametrize("old", [PREVIOUS, OLDEST], ids=["previous", "oldest"])
async def test_an_older_file_is_brought_to_the_one_index(
    tmp_path: Path, clock: ManualClock, old: tuple[str, ...]
) -> None:
    """Its orders stay and replay by their request id; the rule holds in the new index."""
    path = tmp_path / "store.db"
    await _made(path, clock, old)
    backend = SqliteBackend(path, clock)
    await backend.open()
    try:
        assert _indexes(path) == await _indexes_of_a_new_file(tmp_path / "new.db", clock)
        replayed = await backend.reserve(Reservation("ann", "eggs", 1, "r1"))
        assert (replayed.outcome, replayed.order and replayed.order.request_id) == (
            Outcome.REPLAYED,
            "r1",
        )
        assert len(await backend.list_orders("eggs", user="ann")) == 2
        again = await backend.reserve(Reservation("ann", "milk", 1, "r1"))  # its own item
        assert again.outcome is Outcome.CREATED
    finally:
        await backend.aclose()
    with sqlite3.connect(path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO orders VALUES ('o-twice', 'eggs', 1, 'ann', ?, 'r1')", (T0_MS,))


async def test_orders_without_a_request_id_never_clash(tmp_path: Path, clock: ManualClock) -> None:
    """NULLs are distinct in the unique index, as they were in the partial one."""
    path = tmp_path / "store.db"
    await _made(path, clock, None)
    with sqlite3.connect(path) as conn:
        for n in range(2):
            conn.execute(
                "INSERT INTO orders VALUES (?, 'eggs', 1, 'cy', ?, NULL)", (f"o-{n}", T0_MS)
            )
        [(count,)] = conn.execute("SELECT count(*) FROM orders WHERE username = 'cy'")
    assert count == 2


async def test_a_start_waits_for_another_making_the_schema(
    tmp_path: Path, clock: ManualClock
) -> None:
    """A process that starts while another holds the file's write lock (building an index over
    a big file, say) waits for it past its busy timeout, and then starts."""
    path = tmp_path / "store.db"
    await _made(path, clock, PREVIOUS)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    backend = SqliteBackend(path, clock, busy_timeout_ms=50)
    opening = asyncio.create_task(backend.open())
    await asyncio.sleep(0.5)  # ten busy timeouts
    assert not opening.done()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(opening, 30)
    try:
        assert "request_id" in _indexes(path)["orders_by_user"]
    finally:
        await backend.aclose()
