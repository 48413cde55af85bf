"""The store on PostgreSQL: several replicas on one database, no Redis needed.

Items, users, sessions and orders are tables (``sql/``, migrated forward by :mod:`.schema`);
reservations go in batches through one server-side function (:mod:`.reserve`). Every other
operation is one statement or one short transaction on a pooled connection. Each replica keeps
its own item cache and sold-out flag (with their TTL), and its own rate-limit buckets.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from typing import Any

import asyncpg

from sniper.clock import Clock, now_ms
from sniper.errors import Unavailable
from sniper.store.backends.base import Backend, ReplayOrders
from sniper.store.backends.records import ITEM_FIELDS, ITEM_VALUES, ORDER_COLUMNS, item_row
from sniper.store.ids import OrderIdGenerator
from sniper.store.models import Item, NewUser, Order, Session
from sniper.store.pgdb.client import (
    PG_ERRORS,
    Conn,
    borrow,
    check_url,
    close_pool,
    create_pool,
    start_failure,
)
from sniper.store.pgdb.reserve import ReserveBatcher
from sniper.store.pgdb.schema import STORE_PARTS, migrate
from sniper.store.rules import Reservation, ReservationResult

log = logging.getLogger(__name__)

_ITEM_COLS = ", ".join(ITEM_FIELDS)
_ORDER_COLS = ", ".join(ORDER_COLUMNS)
_ITEM_PARAMS = ", ".join(f"${n}" for n in range(1, len(ITEM_FIELDS) + 1))
_INSERT_ITEM = f"INSERT INTO items ({_ITEM_COLS}) VALUES ({_ITEM_PARAMS})"
_SESSION_COLS = "username, token_hash, expires_ms"
#: Revocations are numbered one at a time under this advisory lock: a reader that has seen
#: number n has seen every number below it (sequence values are drawn before their commit).
_REVOCATION_LOCK = 0x736E6971


class PostgresBackend(Backend):
    """Items, users, sessions and orders in one PostgreSQL database."""

    errors = PG_ERRORS

    def __init__(
        self,
        url: str,
        clock: Clock,
        ids: OrderIdGenerator | None = None,
        *,
        pool_size: int = 10,
        max_batch: int = 256,
        timeout_s: float = 5.0,
    ) -> None:
        super().__init__()
        self.url = check_url(url, "store")
        self._clock = clock
        self._pool_size, self._timeout_s = pool_size, timeout_s
        self._pool_or_none: asyncpg.Pool | None = None
        self._reserve = ReserveBatcher(
            self._pool,
            lambda: now_ms(clock),
            ids or OrderIdGenerator(),
            max_batch=max_batch,
            timeout_s=timeout_s,
        )

    def _pool(self) -> asyncpg.Pool:
        if self._pool_or_none is None:
            raise Unavailable("storage is not open")
        return self._pool_or_none

    def _conn(self) -> contextlib.AbstractAsyncContextManager[Conn]:
        return borrow(self._pool(), self._timeout_s)

    async def _query(self, method: str, sql: str, *args: Any) -> Any:
        """One statement on a borrowed connection; ``method`` is asyncpg's ``fetch``,
        ``fetchrow``, ``fetchval`` or ``execute``."""
        async with self._conn() as conn:
            return await getattr(conn, method)(sql, *args)

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, and create or migrate the schema (replicas starting together do it once)."""
        try:
            pool = await create_pool(
                self.url, "store", warm=2, max_size=self._pool_size, timeout_s=self._timeout_s
            )
        except PG_ERRORS.kinds as exc:
            # The operator's error at start-up, and why (the caller names the server).
            raise Unavailable(f"cannot connect ({start_failure(exc, self.url)})") from None
        self._pool_or_none = pool
        try:
            async with pool.acquire() as conn:
                applied = await migrate(conn, STORE_PARTS)
        except PG_ERRORS.kinds as exc:
            await self.aclose()
            raise Unavailable(
                f"cannot create the schema ({start_failure(exc, self.url)})"
            ) from None
        if applied:
            log.info("schema: applied %s", ", ".join(applied))

    async def aclose(self) -> None:
        """Answer the queued reservations, then close every connection."""
        await self._reserve.close()
        if self._pool_or_none is not None:
            pool, self._pool_or_none = self._pool_or_none, None
            await close_pool(pool, self._timeout_s)

    async def check(self) -> None:
        """One trivial query."""
        await self._query("fetchval", "SELECT 1")

    async def probe_commit(self) -> None:
        """One row rewritten and committed, as an order commits."""
        await self._query(
            "execute",
            "INSERT INTO readiness (id, probed_ms) VALUES (1, $1) "
            "ON CONFLICT (id) DO UPDATE SET probed_ms = excluded.probed_ms",
            now_ms(self._clock),
        )

    # -- the atomic step -------------------------------------------------------------------

    async def reserve(self, request: Reservation) -> ReservationResult:
        """Decided and committed with the others of this moment (:mod:`.reserve`)."""
        return await self._reserve(request)

    # -- items -----------------------------------------------------------------------------

    async def get_item(self, sku_id: str) -> Item | None:
        """The item, or None."""
        row = await self._query(
            "fetchrow", f"SELECT {_ITEM_COLS} FROM items WHERE sku_id = $1", sku_id
        )
        return None if row is None else Item(*row)

    async def put_item(self, item: Item) -> Item:
        """Create or replace; users' purchase counts and orders are kept."""
        sets = ", ".join(f"{c} = excluded.{c}" for c in ITEM_VALUES)
        await self._query(
            "execute", f"{_INSERT_ITEM} ON CONFLICT (sku_id) DO UPDATE SET {sets}", *item_row(item)
        )
        return item

    async def load_catalog(self, items: list[Item]) -> int:
        """Insert the items not there yet, in one statement; existing ones stay as they are."""
        if not items:
            return 0
        columns = list(zip(*(item_row(i) for i in items), strict=True))
        types = ("text", "text", "bigint", "bigint", "text", "bigint", "integer")
        unnest = ", ".join(f"${n}::{t}[]" for n, t in enumerate(types, 1))
        created = await self._query(
            "fetchval",
            f"WITH added AS (INSERT INTO items ({_ITEM_COLS}) SELECT * FROM unnest({unnest}) "
            "ON CONFLICT (sku_id) DO NOTHING RETURNING 1) SELECT count(*) FROM added",
            *(list(c) for c in columns),
        )
        return int(created)

    async def patch_item(self, sku_id: str, changes: Mapping[str, Any]) -> Item | None:
        """Set only the named columns; the item as it is then."""
        cols = [c for c in ITEM_VALUES if c in changes]
        if not cols:
            return await self.get_item(sku_id)
        assignments = ", ".join(f"{c} = ${n}" for n, c in enumerate(cols, 2))
        row = await self._query(
            "fetchrow",
            f"UPDATE items SET {assignments} WHERE sku_id = $1 RETURNING {_ITEM_COLS}",
            sku_id,
            *(changes[c] for c in cols),
        )
        return None if row is None else Item(*row)

    async def delete_item(self, sku_id: str) -> Item | None:
        """Delete the item's row (after any reservation batch holding it commits); its orders
        and purchase counts stay."""
        row = await self._query(
            "fetchrow", f"DELETE FROM items WHERE sku_id = $1 RETURNING {_ITEM_COLS}", sku_id
        )
        return None if row is None else Item(*row)

    async def sold_out_snapshot(
        self, sku_id: str
    ) -> tuple[Item | None, ReplayOrders, dict[str, int]]:
        """Item, replayable orders and per-user units from one snapshot."""
        async with (
            self._conn() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            row = await conn.fetchrow(f"SELECT {_ITEM_COLS} FROM items WHERE sku_id = $1", sku_id)
            orders = await conn.fetch(
                f"SELECT {_ORDER_COLS} FROM orders WHERE sku_id = $1 AND request_id IS NOT NULL",
                sku_id,
            )
            bought = await conn.fetch(
                "SELECT username, qty FROM purchases WHERE sku_id = $1", sku_id
            )
        item = None if row is None else Item(*row)
        replays: ReplayOrders = {}
        for record in orders:
            order = Order(*record)
            if order.request_id is not None:
                replays[order.user, order.request_id] = order
        return item, replays, {r["username"]: r["qty"] for r in bought}

    # -- users and sessions ----------------------------------------------------------------

    async def create_users(self, users: list[NewUser]) -> list[str]:
        """Insert users (a known name gets the new password, its sessions revoked) and their
        first sessions, in one transaction. Each user's row is written before its sessions are
        read: a login racing on another replica either commits first (and its session is
        revoked here) or waits and then finds the new password (and makes none)."""
        now = now_ms(self._clock)
        names = [u.user for u in users]
        async with (
            self._conn() as conn,
            conn.transaction(),
        ):
            await conn.execute(
                "INSERT INTO users (username, password_hash) "
                "SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1 "
                "ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash",
                names,
                [u.password_hash for u in users],
            )
            revoked = await self._revoke(conn, "username = ANY ($1::text[])", names, now)
            await conn.execute(
                "INSERT INTO sessions (token_hash, username, expires_ms) "
                "SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])",
                [u.session.token_hash for u in users],
                names,
                [u.session.expires_ms for u in users],
            )
        return revoked

    async def delete_users(self, users: list[str]) -> tuple[list[str], list[str]]:
        """Delete the users' rows, then their sessions (the live ones logged), in one
        transaction: a login racing on another replica either commits its session first (and
        it is revoked here) or waits on the user's row and then finds no user (and makes none)."""
        now = now_ms(self._clock)
        async with (
            self._conn() as conn,
            conn.transaction(),
        ):
            # Rows locked in name order, as create_users writes them: the two never deadlock.
            removed = await conn.fetch(
                "DELETE FROM users WHERE username IN (SELECT username FROM users "
                "WHERE username = ANY ($1::text[]) ORDER BY 1 FOR UPDATE) RETURNING username",
                users,
            )
            revoked = await self._revoke(conn, "username = ANY ($1::text[])", users, now)
        return [r["username"] for r in removed], revoked

    async def password_hash(self, user: str) -> str | None:
        """The stored hash, if any."""
        found: str | None = await self._query(
            "fetchval", "SELECT password_hash FROM users WHERE username = $1", user
        )
        return found

    async def replace_password_hash(self, user: str, old: str, new: str) -> bool:
        """Compare and swap."""
        status = await self._query(
            "execute",
            "UPDATE users SET password_hash = $3 WHERE username = $1 AND password_hash = $2",
            user,
            old,
            new,
        )
        return bool(status == "UPDATE 1")

    async def create_session(self, session: Session, *, password_hash: str | None = None) -> bool:
        """Store the session (if the password is still ``password_hash``: the user's row is
        locked until the commit, so that a replacement waits for it); expired ones of the same
        user are swept on the way."""
        async with (
            self._conn() as conn,
            conn.transaction(),
        ):
            if password_hash is not None:
                stored = await conn.fetchval(
                    "SELECT password_hash FROM users WHERE username = $1 FOR SHARE", session.user
                )
                if stored != password_hash:
                    return False
            await conn.execute(
                "DELETE FROM sessions WHERE username = $1 AND expires_ms < $2",
                session.user,
                now_ms(self._clock),
            )
            await conn.execute(
                "INSERT INTO sessions (token_hash, username, expires_ms) VALUES ($1, $2, $3)",
                session.token_hash,
                session.user,
                session.expires_ms,
            )
        return True

    async def get_session(self, token_hash: str) -> Session | None:
        """Look a session up by the hash of its token."""
        row = await self._query(
            "fetchrow", f"SELECT {_SESSION_COLS} FROM sessions WHERE token_hash = $1", token_hash
        )
        return None if row is None else Session(*row)

    async def revoke_session(self, token_hash: str) -> Session | None:
        """Delete the session, logged in ``revoked_sessions`` (one transaction); an expired one
        is left to the next sweep."""
        now = now_ms(self._clock)
        async with (
            self._conn() as conn,
            conn.transaction(),
        ):
            row = await conn.fetchrow(
                f"SELECT {_SESSION_COLS} FROM sessions WHERE token_hash = $1 FOR UPDATE", token_hash
            )
            if row is not None and row["expires_ms"] > now:
                await self._revoke(conn, "token_hash = $1", token_hash, now)
        return None if row is None else Session(*row)

    async def revoke_sessions(self, user: str) -> list[str]:
        """Delete the user's sessions, logged in ``revoked_sessions``."""
        now = now_ms(self._clock)
        async with (
            self._conn() as conn,
            conn.transaction(),
        ):
            return await self._revoke(conn, "username = $1", user, now)

    async def _revoke(self, conn: Conn, where: str, arg: Any, now: int) -> list[str]:
        """Delete the sessions matched by ``where`` (``$1`` is ``arg``); log the live ones,
        numbered under the revocation lock (and forget log rows of sessions expired by now);
        their token hashes."""
        live = await conn.fetch(
            f"DELETE FROM sessions WHERE {where} RETURNING token_hash, expires_ms", arg
        )
        live = [r for r in live if r["expires_ms"] > now]
        if live:
            await conn.execute("SELECT pg_advisory_xact_lock($1)", _REVOCATION_LOCK)
            await conn.execute("DELETE FROM revoked_sessions WHERE expires_ms <= $1", now)
            await conn.executemany(
                "INSERT INTO revoked_sessions (token_hash, expires_ms) VALUES ($1, $2)",
                [(r["token_hash"], r["expires_ms"]) for r in live],
            )
        return [r["token_hash"] for r in live]

    async def revocation_cursor(self) -> str:
        """The last number in ``revoked_sessions``."""
        seq = await self._query("fetchval", "SELECT coalesce(max(seq), 0) FROM revoked_sessions")
        return str(seq)

    async def revoked_since(self, cursor: str) -> tuple[str, list[str]]:
        """Rows of ``revoked_sessions`` after ``cursor``."""
        rows = await self._query(
            "fetch",
            "SELECT seq, token_hash FROM revoked_sessions WHERE seq > $1 ORDER BY seq",
            int(cursor or 0),
        )
        return (str(rows[-1]["seq"]) if rows else cursor), [r["token_hash"] for r in rows]

    # -- orders ----------------------------------------------------------------------------

    async def get_order(self, order_id: str) -> Order | None:
        """The order, or None."""
        row = await self._query(
            "fetchrow", f"SELECT {_ORDER_COLS} FROM orders WHERE order_id = $1", order_id
        )
        return None if row is None else Order(*row)

    async def list_orders(self, sku_id: str | None, *, user: str | None = None) -> list[Order]:
        """Orders sorted by id (which sorts by time)."""
        where = [(col, v) for col, v in (("sku_id", sku_id), ("username", user)) if v is not None]
        sql = f"SELECT {_ORDER_COLS} FROM orders"
        if where:
            sql += " WHERE " + " AND ".join(f"{col} = ${n}" for n, (col, _) in enumerate(where, 1))
        rows = await self._query("fetch", sql + " ORDER BY order_id", *(v for _, v in where))
        return [Order(*r) for r in rows]
