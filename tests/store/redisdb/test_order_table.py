"""The persister's SQL order table is the SQLite store's own ``orders`` table (one definition), and
a file made by an older release still opens and takes orders."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sniper.clock import ManualClock
from sniper.store.backends.records import ITEM_FIELDS, ORDER_COLUMNS
from sniper.store.backends.sqlite import SqliteBackend
from sniper.store.models import Order
from sniper.store.redisdb.order_table import OrderTable
from tests.conftest import T0_MS

#: What releases before the one shared definition created for ``--orders-db``.
OLD_ORDERS_DDL = """
CREATE TABLE IF NOT EXISTS orders (
    order_id   TEXT PRIMARY KEY,
    sku_id     TEXT NOT NULL,
    qty        INTEGER NOT NULL,
    username   TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    request_id TEXT
) WITHOUT ROWID;
"""


def _order(n: int, qty: int = 1) -> Order:
    return Order(f"o{n:03}", "eggs", qty, f"u{n}", T0_MS + n, f"r{n}")


def _columns(path: Path, table: str) -> tuple[str, ...]:
    with sqlite3.connect(path) as conn:
        return tuple(row[1] for row in conn.execute(f"PRAGMA table_info({table})"))


def _orders_schema(path: Path) -> tuple[str, set[str]]:
    """The ``orders`` table's definition and its index names (the store's replay rule aside)."""
    with sqlite3.connect(path) as conn:
        [(table,)] = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'orders'")
        indexes = {
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders'"
                " AND sql IS NOT NULL AND name != 'orders_by_item_request'"
            )
        }
    return table, indexes


async def test_the_copy_and_the_store_share_one_orders_table(
    tmp_path: Path, clock: ManualClock
) -> None:
    """Same columns (the models' fields), same CHECK, same lookup indexes in both files."""
    store = SqliteBackend(tmp_path / "store.db", clock)
    await store.open()
    await store.aclose()
    table = OrderTable(f"sqlite:///{tmp_path / 'copy.db'}")
    await table.open()
    table.close()
    assert _columns(tmp_path / "store.db", "items") == ITEM_FIELDS
    for name in ("store.db", "copy.db"):
        assert _columns(tmp_path / name, "orders") == ORDER_COLUMNS
    assert _orders_schema(tmp_path / "copy.db") == _orders_schema(tmp_path / "store.db")
    assert "CHECK (qty >= 1)" in _orders_schema(tmp_path / "copy.db")[0]


async def test_a_copy_made_by_an_older_release_opens_and_takes_orders(tmp_path: Path) -> None:
    """Its table stays as made (no CHECK can be added to it), gains the lookup indexes, and
    takes new orders once each (a batch delivered twice adds nothing)."""
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(OLD_ORDERS_DDL)
        conn.execute("INSERT INTO orders VALUES ('o000', 'eggs', 1, 'u0', 1, 'r0')")
    table = OrderTable(f"sqlite:///{path}")
    try:
        assert await table.insert([_order(0), _order(1), _order(2)]) == 2
        assert await table.insert([_order(1), _order(2)]) == 0
        assert [o.order_id for o in await table.all()] == ["o000", "o001", "o002"]
    finally:
        table.close()
    definition, indexes = _orders_schema(path)
    assert "WITHOUT ROWID" in definition
    assert indexes == {"orders_by_sku", "orders_by_user"}


async def test_a_copy_refuses_a_bad_order_loudly(tmp_path: Path) -> None:
    """A row the table refuses fails its batch (the persister keeps it pending and says so),
    never dropped without a word; nothing of the batch is in."""
    table = OrderTable(f"sqlite:///{tmp_path / 'copy.db'}")
    try:
        with pytest.raises(sqlite3.IntegrityError):
            await table.insert([_order(1), _order(2, qty=0)])
        assert await table.all() == []
    finally:
        table.close()
