"""The persister's SQL order tables: on SQLite the SQLite store's own ``orders`` table (one
definition), and a file made by an older release still opens and takes orders; on PostgreSQL the
PostgreSQL store's own. On both, a batch delivered twice adds nothing and a bad row fails its
batch loudly; ``--orders-db`` is read by its scheme."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import asyncpg
import pytest

from sniper.clock import ManualClock
from sniper.errors import ConfigError, Unavailable
from sniper.store.backends.records import ITEM_FIELDS, ORDER_COLUMNS
from sniper.store.backends.sqlite import SqliteBackend
from sniper.store.models import Order
from sniper.store.pgdb.backend import PostgresBackend
from sniper.store.pgdb.order_table import PgOrderTable, columns, server_down
from sniper.store.process import free_port
from sniper.store.redisdb.order_table import SqliteOrderTable
from sniper.store.redisdb.orders_db import order_table
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
    table = SqliteOrderTable(f"sqlite:///{tmp_path / 'copy.db'}")
    await table.open()
    await table.close()
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
    table = SqliteOrderTable(f"sqlite:///{path}")
    try:
        assert await table.insert([_order(0), _order(1), _order(2)]) == 2
        assert await table.insert([_order(1), _order(2)]) == 0
        assert [o.order_id for o in await table.all()] == ["o000", "o001", "o002"]
    finally:
        await table.close()
    definition, indexes = _orders_schema(path)
    assert "WITHOUT ROWID" in definition
    assert indexes == {"orders_by_sku", "orders_by_user"}


async def test_a_copy_refuses_a_bad_order_loudly(orders_db: str) -> None:
    """A row the table refuses fails its batch (the persister keeps it pending and says so),
    never dropped without a word; nothing of the batch is in."""
    table = order_table(orders_db)
    try:
        with pytest.raises((sqlite3.IntegrityError, asyncpg.CheckViolationError)):
            await table.insert([_order(1), _order(2, qty=0)])
        assert await table.all() == []
    finally:
        await table.close()


async def test_a_batch_delivered_twice_is_in_the_table_once(orders_db: str) -> None:
    """The stream delivers at least once: the same batch again adds nothing, a batch that
    overlaps adds only its new orders, and each order is read back as it was given."""
    table = order_table(orders_db)
    try:
        await table.open()
        batch = [_order(n) for n in range(1, 101)]
        assert await table.insert(batch) == 100
        assert await table.insert(batch) == 0
        assert await table.insert([_order(100), _order(101), _order(102, qty=3)]) == 2
        assert await table.insert([]) == 0
        stored = await table.all()
        assert stored == [*batch, _order(101), _order(102, qty=3)]
    finally:
        await table.close()


@pytest.mark.postgres
async def test_the_copy_on_postgresql_is_the_postgresql_stores_orders_table(
    pg_empty_url: str, clock: ManualClock
) -> None:
    """The copy's table is migrated as the store's part ``orders``: a PostgreSQL store opened on
    the same database afterwards adds only its own part and lists the copied orders."""
    table = PgOrderTable(pg_empty_url)
    await table.open()
    await table.insert([_order(1), _order(2)])
    await table.close()
    store = PostgresBackend(pg_empty_url, clock)
    await store.open()
    try:
        assert await store.list_orders("eggs") == [_order(1), _order(2)]
    finally:
        await store.aclose()
    conn = await asyncpg.connect(pg_empty_url)
    try:
        rows = await conn.fetch("SELECT part, version FROM schema_versions")
        versions = {r["part"]: r["version"] for r in rows}
    finally:
        await conn.close()
    assert versions == {"orders": 1, "store": 1}


@pytest.mark.postgres
async def test_a_postgresql_that_refuses_stops_the_opening_and_hides_the_password(
    pg_url: str,
) -> None:
    """Reachable but refusing (no such database): opening fails, naming orders_db, with the URL
    redacted; no wait would fix it."""
    wrong = pg_url.replace("sniper@", "sniper:s3cret-pw@").rsplit("/", 1)[0] + "/no_such_db"
    table = PgOrderTable(wrong)
    with pytest.raises(Unavailable) as refused:
        await table.open()
    assert "orders_db" in refused.value.message
    assert "InvalidCatalogNameError 3D000" in refused.value.message
    assert "s3cret-pw" not in refused.value.message
    await table.close()


async def test_a_postgresql_that_is_down_is_said_once_and_does_not_stop_the_opening(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listening: opening says so once (redacted; the backend opens the table, then the
    persister) and returns, so that the store starts; a batch meanwhile fails with the driver's
    error (the persister keeps it pending; its tests show the copy once the server is up)."""
    table = PgOrderTable(f"postgresql://u:s3cret-pw@127.0.0.1:{free_port()}/db", timeout_s=2)
    await table.open()
    await table.open()
    with pytest.raises(ConnectionRefusedError):
        await table.insert([_order(1)])
    await table.close()
    said = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(said) == 1, said
    assert "orders_db postgresql://***@127.0.0.1" in said[0]
    assert "s3cret-pw" not in caplog.text


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("sqlite:///orders.db", SqliteOrderTable),
        ("postgresql://u:pw@db.example:5432/shop", PgOrderTable),
        ("postgres://u@db.example/shop?sslmode=require", PgOrderTable),
    ],
)
def test_the_scheme_chooses_the_table(url: str, kind: type) -> None:
    assert isinstance(order_table(url), kind)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("mysql://u:s3cret@db.example/shop", "orders_db: 'mysql://***@db.example/shop' is neither"),
        ("orders.db", "orders_db: 'orders.db' is neither"),
        ("postgresql://u:s3cret@db.example:5432", "orders_db: 'postgresql://***@db.example:5432'"),
        ("postgresql://u:s3cret@db.example:port/x", "not a valid PostgreSQL URL"),
    ],
)
def test_any_other_orders_db_is_one_line_naming_it(url: str, said: str) -> None:
    with pytest.raises(ConfigError) as bad:
        order_table(url)
    assert said in str(bad.value)
    assert "s3cret" not in str(bad.value)
    assert "\n" not in str(bad.value)


@pytest.mark.parametrize(
    ("exc", "down"),
    [
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (asyncpg.CannotConnectNowError("starting up"), True),
        (asyncpg.TooManyConnectionsError("full"), True),
        (asyncpg.AdminShutdownError("stopping"), True),
        (asyncpg.InvalidPasswordError("no"), False),
        (asyncpg.InvalidCatalogNameError("no db"), False),
        (asyncpg.DuplicateTableError("a foreign orders table"), False),
        (asyncpg.ClientConfigurationError("`sslmode` parameter must be one of"), False),
        (ValueError("not ours"), False),
    ],
)
def test_down_for_now_or_refused_for_good(exc: BaseException, down: bool) -> None:
    assert server_down(exc) is down


def test_a_batch_is_one_array_per_column() -> None:
    assert columns([_order(1), _order(2, qty=3)]) == [
        ["o001", "o002"],
        ["eggs", "eggs"],
        [1, 3],
        ["u1", "u2"],
        [T0_MS + 1, T0_MS + 2],
        ["r1", "r2"],
    ]
