"""The SQL order table that the persister copies orders into (``--orders-db``, SQLite).

Inserts are idempotent by order id (``INSERT OR IGNORE``): the stream delivers at least once, so
a batch may come twice (a worker that died between commit and acknowledgement), and the table
still holds each order once. ``synchronous=FULL``: a batch is acknowledged only after it is on disk.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

from sniper.errors import ConfigError
from sniper.files import create_private
from sniper.store.backends.sqlite import path_from_url
from sniper.store.models import Order
from sniper.store.redisdb.client import redact_url

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_id   TEXT PRIMARY KEY,
    sku_id     TEXT NOT NULL,
    qty        INTEGER NOT NULL,
    username   TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    request_id TEXT
) WITHOUT ROWID;
"""


class OrderTable:
    """One SQLite file; every call runs on a worker thread (the event loop never waits on it)."""

    def __init__(self, url: str, busy_timeout_ms: int = 10_000) -> None:
        try:
            self.path: Path = path_from_url(url)
        except ConfigError:
            raise ConfigError(f"orders_db: {redact_url(url)!r} is not sqlite:///PATH") from None
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            create_private(self.path)
            conn = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                timeout=self._busy_timeout_ms / 1000,
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def _insert(self, orders: list[Order]) -> int:
        with self._lock:
            conn = self._open()
            conn.execute("BEGIN IMMEDIATE")
            before = conn.total_changes
            try:
                conn.executemany(
                    "INSERT OR IGNORE INTO orders VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (o.order_id, o.sku_id, o.qty, o.user, o.created_ms, o.request_id)
                        for o in orders
                    ],
                )
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
                self._open()
                .execute(
                    "SELECT order_id, sku_id, qty, username, created_ms, request_id FROM orders "
                    "ORDER BY order_id"
                )
                .fetchall()
            )
        return [Order(*r) for r in rows]

    async def all(self) -> list[Order]:
        """Every order in the table, by id."""
        return await asyncio.to_thread(self._all)

    async def open(self) -> None:
        """Create the file and table if needed."""
        await asyncio.to_thread(self._open)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
