"""The SQL order table that the persister copies orders into (``--orders-db``, SQLite).

The table is the SQLite store's own ``orders`` table (``backends/orders.sql``), opened as the store
opens its file (:mod:`sniper.store.backends.sqlfile`). Inserts are idempotent by order id: the
stream delivers at least once, so a batch may come twice (a worker that died between commit and
acknowledgement), and the table still holds each order once. ``synchronous=FULL``: a batch is
acknowledged only after it is on disk. A file made by an older release keeps its table as it was
made (``WITHOUT ROWID``, no ``CHECK`` on ``qty``) and gains the indexes at its first opening.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from sniper.errors import ConfigError, Unavailable
from sniper.store.backends import sqlfile
from sniper.store.backends.records import ORDER_COLUMNS, order_row, placeholders
from sniper.store.models import Order
from sniper.store.urls import redact_url

_COLUMNS = ", ".join(ORDER_COLUMNS)
# Only a copy already there is skipped: any other refusal (the CHECK) fails the batch, loudly,
# where INSERT OR IGNORE would drop the order without a word.
_INSERT = (
    f"INSERT INTO orders ({_COLUMNS}) VALUES ({placeholders(ORDER_COLUMNS)}) "
    "ON CONFLICT (order_id) DO NOTHING"
)


class SqliteOrderTable:
    """One SQLite file; every call runs on a worker thread (the event loop never waits on it)."""

    def __init__(self, url: str, busy_timeout_ms: int = 10_000) -> None:
        try:
            self.path: Path = sqlfile.path_from_url(url)
        except ConfigError:
            raise ConfigError(f"orders_db: {redact_url(url)!r} is not sqlite:///PATH") from None
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            sqlfile.create(
                self.path,
                (sqlfile.ORDERS_SQL, sqlfile.COPY_SQL),
                busy_timeout_ms=self._busy_timeout_ms,
            )
            self._conn = sqlfile.connect(
                self.path, synchronous="FULL", busy_timeout_ms=self._busy_timeout_ms
            )
        return self._conn

    def _insert(self, orders: list[Order]) -> int:
        with self._lock:
            conn = self._open()
            conn.execute("BEGIN IMMEDIATE")
            before = conn.total_changes
            try:
                conn.executemany(_INSERT, [order_row(o) for o in orders])
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            added = conn.total_changes - before
            conn.execute("COMMIT")
            return added

    async def insert(self, orders: list[Order]) -> int:
        """Insert the orders not there yet, in one transaction; how many were new."""
        return await asyncio.to_thread(self._insert, orders)

    def _all(self) -> list[Order]:
        with self._lock:
            rows = (
                self._open().execute(f"SELECT {_COLUMNS} FROM orders ORDER BY order_id").fetchall()
            )
        return [Order(*r) for r in rows]

    async def all(self) -> list[Order]:
        """Every order in the table, by id."""
        return await asyncio.to_thread(self._all)

    async def open(self) -> None:
        """Create the file and table if needed; one that cannot be made or opened raises
        ``Unavailable`` naming ``orders_db`` (a start stops on it)."""
        try:
            await asyncio.to_thread(self._open)
        except (OSError, sqlite3.Error) as exc:
            raise Unavailable(
                f"orders_db {self.path}: cannot open ({type(exc).__name__})"
            ) from None

    def _close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def close(self) -> None:
        """Close the connection (once a batch on its thread is done)."""
        await asyncio.to_thread(self._close)
