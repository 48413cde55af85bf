"""The embedded default: one SQLite file in WAL mode, shared by every worker process.

Writes go through :class:`GroupCommitWriter` (``BEGIN IMMEDIATE``, busy timeout, one commit per
batch); reads run on a small thread pool with their own connections, which WAL lets proceed
while a writer commits. ``synchronous=FULL`` (the default) makes every acknowledged order
survive power loss; ``NORMAL`` survives a crash of the process but not of the machine.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sniper.clock import Clock, now_ms
from sniper.errors import Unavailable
from sniper.store.backends import sqlfile
from sniper.store.backends.base import Backend, ReplayOrders
from sniper.store.backends.group_commit import GroupCommitWriter
from sniper.store.backends.records import (
    ITEM_FIELDS,
    ITEM_VALUES,
    ORDER_COLUMNS,
    item_row,
    order_row,
    placeholders,
)
from sniper.store.backends.sqlfile import SQLITE_ERRORS
from sniper.store.ids import OrderIdGenerator
from sniper.store.models import Item, NewUser, Order, Session
from sniper.store.rules import Outcome, Reservation, ReservationResult, decide

T = TypeVar("T")

_ITEM_COLS = ", ".join(ITEM_FIELDS)
_ORDER_COLS = ", ".join(ORDER_COLUMNS)
_REPLAY_SQL = (
    f"SELECT {_ORDER_COLS} FROM orders WHERE username = ? AND sku_id = ? AND request_id = ?"
)
_ITEM_AND_BOUGHT_SQL = (
    f"SELECT {_ITEM_COLS}, coalesce((SELECT qty FROM purchases WHERE username = ? AND sku_id = ?),"
    " 0) FROM items WHERE sku_id = ?"
)
_TAKE_SQL = "UPDATE items SET stock = stock - ? WHERE sku_id = ? AND stock >= ?"
_COUNT_SQL = (
    "INSERT INTO purchases (username, sku_id, qty) VALUES (?, ?, ?) "
    "ON CONFLICT (username, sku_id) DO UPDATE SET qty = qty + excluded.qty"
)
_INSERT_ORDER_SQL = f"INSERT INTO orders ({_ORDER_COLS}) VALUES ({placeholders(ORDER_COLUMNS)})"
_ITEM_VALUES_SQL = f"({_ITEM_COLS}) VALUES ({placeholders(ITEM_FIELDS)})"
#: Names bound in one statement of a bulk removal (far below SQLite's limit on parameters).
_NAMES_PER_STATEMENT = 500


class SqliteBackend(Backend):
    """Items, users, sessions and orders in one SQLite file."""

    errors = SQLITE_ERRORS

    def __init__(
        self,
        path: Path,
        clock: Clock,
        ids: OrderIdGenerator | None = None,
        *,
        synchronous: str = "FULL",
        busy_timeout_ms: int = 5000,
        max_batch: int = 256,
    ) -> None:
        super().__init__()
        self.path = path
        self._clock = clock
        self._ids = ids or OrderIdGenerator()
        self._synchronous = synchronous
        self._busy_timeout_ms = busy_timeout_ms
        self._writer = GroupCommitWriter(self._connect, clock, max_batch, busy_timeout_ms)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sqlite-reader")

    # -- lifecycle -------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        return sqlfile.connect(
            self.path, synchronous=self._synchronous, busy_timeout_ms=self._busy_timeout_ms
        )

    async def open(self) -> None:
        """Create the file, switch it to WAL and create the tables (safe from many processes)."""
        try:
            await asyncio.to_thread(
                sqlfile.create,
                self.path,
                (sqlfile.ORDERS_SQL, sqlfile.STORE_SQL),
                busy_timeout_ms=self._busy_timeout_ms,
                upgrade=_drop_old_user_index,
            )
            self._writer.start()
        except (sqlite3.Error, OSError) as exc:
            # The operator's error at start-up, so it says which file and why.
            raise Unavailable(f"cannot open {self.path}: {exc}") from exc
        await self.check()  # opens a reader now, not on the first request of an opening

    async def aclose(self) -> None:
        """Finish queued writes, stop the threads and close every connection."""
        await self._writer.stop()
        self._pool.shutdown(wait=True)
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()

    async def check(self) -> None:
        """One trivial read."""
        await self._read(lambda c: c.execute("SELECT 1").fetchone())

    async def probe_commit(self) -> None:
        """One row rewritten through the group-commit writer: a real WAL append and fsync."""
        now = now_ms(self._clock)
        await self._writer.submit(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO readiness (id, probed_ms) VALUES (1, ?)", (now,)
            )
        )

    # -- plumbing --------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    async def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            return fn(self._reader())

        return await asyncio.get_running_loop().run_in_executor(self._pool, run)

    # -- the atomic step -------------------------------------------------------------------

    async def reserve(self, request: Reservation) -> ReservationResult:
        """Decide and apply one reservation inside the writer's transaction."""
        return await self._writer.submit(lambda conn: self._reserve(conn, request))

    def _reserve(self, conn: sqlite3.Connection, req: Reservation) -> ReservationResult:
        now = now_ms(self._clock)
        if req.request_id is not None and not req.fresh_id:
            row = conn.execute(_REPLAY_SQL, (req.user, req.sku_id, req.request_id)).fetchone()
            if row is not None:
                return ReservationResult(Outcome.REPLAYED, Order(*row))
        row = conn.execute(_ITEM_AND_BOUGHT_SQL, (req.user, req.sku_id, req.sku_id)).fetchone()
        item = None if row is None else Item(*row[:-1])
        outcome = decide(item, None, row[-1] if row else 0, req.qty, now)
        if outcome is not Outcome.CREATED or item is None:
            return ReservationResult(outcome, None, None if item is None else item.stock, item)
        taken = conn.execute(_TAKE_SQL, (req.qty, req.sku_id, req.qty))
        if taken.rowcount != 1:  # cannot happen under BEGIN IMMEDIATE; never trust it blindly
            return ReservationResult(Outcome.SOLD_OUT, None, 0)
        conn.execute(_COUNT_SQL, (req.user, req.sku_id, req.qty))
        order = Order(self._ids.next_id(now), req.sku_id, req.qty, req.user, now, req.request_id)
        conn.execute(_INSERT_ORDER_SQL, order_row(order))
        return ReservationResult(Outcome.CREATED, order, item.stock - req.qty)

    # -- items -----------------------------------------------------------------------------

    async def get_item(self, sku_id: str) -> Item | None:
        """The item, or None."""
        return await self._read(lambda c: _item(c, sku_id))

    async def put_item(self, item: Item) -> Item:
        """Create or replace; users' purchase counts are kept."""

        def put(conn: sqlite3.Connection) -> Item:
            conn.execute(f"INSERT OR REPLACE INTO items {_ITEM_VALUES_SQL}", item_row(item))
            return item

        return await self._writer.submit(put)

    async def load_catalog(self, items: list[Item]) -> int:
        """Insert the items not there yet, in one transaction; existing ones stay as they are."""

        def load(conn: sqlite3.Connection) -> int:
            return sum(
                conn.execute(
                    f"INSERT OR IGNORE INTO items {_ITEM_VALUES_SQL}", item_row(i)
                ).rowcount
                for i in items
            )

        return await self._writer.submit(load)

    async def patch_item(self, sku_id: str, changes: Mapping[str, Any]) -> Item | None:
        """Set only the named columns."""
        cols = [c for c in ITEM_VALUES if c in changes]

        def patch(conn: sqlite3.Connection) -> Item | None:
            if cols:
                assignments = ", ".join(f"{c} = ?" for c in cols)
                conn.execute(
                    f"UPDATE items SET {assignments} WHERE sku_id = ?",
                    (*(changes[c] for c in cols), sku_id),
                )
            return _item(conn, sku_id)

        return await self._writer.submit(patch)

    async def delete_item(self, sku_id: str) -> Item | None:
        """Delete the item's row; its orders and purchase counts stay."""

        def delete(conn: sqlite3.Connection) -> Item | None:
            item = _item(conn, sku_id)
            conn.execute("DELETE FROM items WHERE sku_id = ?", (sku_id,))
            return item

        return await self._writer.submit(delete)

    async def sold_out_snapshot(
        self, sku_id: str
    ) -> tuple[Item | None, ReplayOrders, dict[str, int]]:
        """Item, replayable orders and per-user units from one read transaction."""

        def snap(conn: sqlite3.Connection) -> tuple[Item | None, ReplayOrders, dict[str, int]]:
            conn.execute("BEGIN")
            try:
                item = _item(conn, sku_id)
                rows = conn.execute(
                    f"SELECT {_ORDER_COLS} FROM orders WHERE sku_id = ? AND request_id IS NOT NULL",
                    (sku_id,),
                ).fetchall()
                bought = dict(
                    conn.execute(
                        "SELECT username, qty FROM purchases WHERE sku_id = ?", (sku_id,)
                    ).fetchall()
                )
            finally:
                conn.execute("COMMIT")
            orders = [Order(*r) for r in rows]
            replays = {(o.user, o.request_id): o for o in orders if o.request_id is not None}
            return item, replays, bought

        return await self._read(snap)

    # -- users and sessions ----------------------------------------------------------------

    async def create_users(self, users: list[NewUser]) -> list[str]:
        """Insert users (a known name gets the new password, its sessions revoked) and their
        first sessions."""

        def create(conn: sqlite3.Connection) -> list[str]:
            now = now_ms(self._clock)
            revoked = [h for u in users for h in _take_sessions(conn, u.user, now)]
            conn.executemany(
                "INSERT INTO users (username, password_hash) VALUES (?, ?) "
                "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
                [(u.user, u.password_hash) for u in users],
            )
            conn.executemany(
                "INSERT INTO sessions (token_hash, username, expires_ms) VALUES (?, ?, ?)",
                [(u.session.token_hash, u.user, u.session.expires_ms) for u in users],
            )
            return revoked

        return await self._writer.submit(create)

    async def delete_users(self, users: list[str]) -> tuple[list[str], list[str]]:
        """Delete the users' rows and sessions (the live ones logged in ``revoked_sessions``),
        in one transaction, a few hundred names per statement."""

        def delete(conn: sqlite3.Connection) -> tuple[list[str], list[str]]:
            now = now_ms(self._clock)
            removed: list[str] = []
            revoked: list[str] = []
            for start in range(0, len(users), _NAMES_PER_STATEMENT):
                names = tuple(users[start : start + _NAMES_PER_STATEMENT])
                matched = f"username IN ({placeholders(names)})"
                found = conn.execute(f"SELECT username FROM users WHERE {matched}", names)
                removed += [name for (name,) in found.fetchall()]
                revoked += _revoke(conn, matched, names, now)
                conn.execute(f"DELETE FROM users WHERE {matched}", names)
            return removed, revoked

        return await self._writer.submit(delete)

    async def password_hash(self, user: str) -> str | None:
        """The stored hash, if any."""
        row = await self._read(
            lambda c: c.execute(
                "SELECT password_hash FROM users WHERE username = ?", (user,)
            ).fetchone()
        )
        return None if row is None else row[0]

    async def replace_password_hash(self, user: str, old: str, new: str) -> bool:
        """Compare and swap."""
        return await self._writer.submit(
            lambda conn: (
                conn.execute(
                    "UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?",
                    (new, user, old),
                ).rowcount
                == 1
            )
        )

    async def create_session(self, session: Session, *, password_hash: str | None = None) -> bool:
        """Store the session (if the password is still ``password_hash``); expired ones of the
        same user are swept on the way."""

        def create(conn: sqlite3.Connection) -> bool:
            if password_hash is not None:
                row = conn.execute(
                    "SELECT password_hash FROM users WHERE username = ?", (session.user,)
                ).fetchone()
                if row is None or row[0] != password_hash:
                    return False
            conn.execute(
                "DELETE FROM sessions WHERE username = ? AND expires_ms < ?",
                (session.user, now_ms(self._clock)),
            )
            conn.execute(
                "INSERT INTO sessions (token_hash, username, expires_ms) VALUES (?, ?, ?)",
                (session.token_hash, session.user, session.expires_ms),
            )
            return True

        return await self._writer.submit(create)

    async def get_session(self, token_hash: str) -> Session | None:
        """Look a session up by the hash of its token."""
        row = await self._read(
            lambda c: c.execute(
                "SELECT username, token_hash, expires_ms FROM sessions WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
        )
        return None if row is None else Session(*row)

    async def revoke_session(self, token_hash: str) -> Session | None:
        """Delete the session, logged in ``revoked_sessions`` (one transaction: it is all
        done or not at all); an expired one is left to the next sweep."""

        def revoke(conn: sqlite3.Connection) -> Session | None:
            row = conn.execute(
                "SELECT username, token_hash, expires_ms FROM sessions WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
            if row is not None and row[2] > now_ms(self._clock):
                _revoke(conn, "token_hash = ?", (token_hash,), now_ms(self._clock))
            return None if row is None else Session(*row)

        return await self._writer.submit(revoke)

    async def revoke_sessions(self, user: str) -> list[str]:
        """Delete the user's sessions, logged in ``revoked_sessions``."""
        return await self._writer.submit(
            lambda conn: _take_sessions(conn, user, now_ms(self._clock))
        )

    async def revocation_cursor(self) -> str:
        """The last row of ``revoked_sessions``."""
        row = await self._read(
            lambda c: c.execute("SELECT coalesce(max(seq), 0) FROM revoked_sessions").fetchone()
        )
        return str(row[0])

    async def revoked_since(self, cursor: str) -> tuple[str, list[str]]:
        """Rows of ``revoked_sessions`` after ``cursor``."""
        rows = await self._read(
            lambda c: c.execute(
                "SELECT seq, token_hash FROM revoked_sessions WHERE seq > ? ORDER BY seq",
                (int(cursor or 0),),
            ).fetchall()
        )
        return (str(rows[-1][0]) if rows else cursor), [h for _, h in rows]

    # -- orders ----------------------------------------------------------------------------

    async def get_order(self, order_id: str) -> Order | None:
        """The order, or None."""
        row = await self._read(
            lambda c: c.execute(
                f"SELECT {_ORDER_COLS} FROM orders WHERE order_id = ?", (order_id,)
            ).fetchone()
        )
        return None if row is None else Order(*row)

    async def list_orders(self, sku_id: str | None, *, user: str | None = None) -> list[Order]:
        """Orders sorted by id (which sorts by time)."""
        where = [(col, v) for col, v in (("sku_id", sku_id), ("username", user)) if v is not None]
        sql = f"SELECT {_ORDER_COLS} FROM orders"
        if where:
            sql += " WHERE " + " AND ".join(f"{col} = ?" for col, _ in where)
        sql += " ORDER BY order_id"
        args = tuple(v for _, v in where)
        rows = await self._read(lambda c: c.execute(sql, args).fetchall())
        return [Order(*r) for r in rows]


def _drop_old_user_index(conn: sqlite3.Connection) -> None:
    """A file made before one index held a user's orders and the replay rule has a two-column
    ``orders_by_user``: dropped, for ``schema.sql`` to make the one index in its place."""
    row = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'orders_by_user'"
    ).fetchone()
    if row is not None and "request_id" not in row[0]:
        conn.execute("DROP INDEX orders_by_user")


def _take_sessions(conn: sqlite3.Connection, user: str, now: int) -> list[str]:
    return _revoke(conn, "username = ?", (user,), now)


def _revoke(conn: sqlite3.Connection, where: str, args: tuple[str, ...], now: int) -> list[str]:
    """Delete the sessions matched by ``where``; log the live ones (and forget log rows of
    sessions expired by now); their token hashes."""
    live = conn.execute(
        f"SELECT token_hash, expires_ms FROM sessions WHERE {where} AND expires_ms > ?",
        (*args, now),
    ).fetchall()
    conn.execute(f"DELETE FROM sessions WHERE {where}", args)
    if live:
        conn.execute("DELETE FROM revoked_sessions WHERE expires_ms <= ?", (now,))
        conn.executemany(
            "INSERT INTO revoked_sessions (token_hash, expires_ms) VALUES (?, ?)", live
        )
    return [token_hash for token_hash, _ in live]


def _item(conn: sqlite3.Connection, sku_id: str) -> Item | None:
    row = conn.execute(f"SELECT {_ITEM_COLS} FROM items WHERE sku_id = ?", (sku_id,)).fetchone()
    return None if row is None else Item(*row)
