"""The SQL order table on PostgreSQL that the persister copies orders into (``--orders-db
postgresql://…``): one table of record for Redis replicas on several machines.

The table is the PostgreSQL store's own ``orders`` (``sql/orders_1.sql``, migrated by
:mod:`.schema` as part ``orders``). A batch is one ``INSERT … SELECT FROM unnest(…)`` statement,
its own transaction, committed before :meth:`PgOrderTable.insert` returns (and so before the
persister acknowledges the stream entries). Inserts are idempotent by order id: only a copy
already there is skipped (``ON CONFLICT (order_id) DO NOTHING``); any other refusal (the
``CHECK`` on ``qty``) fails the whole batch.

A server that is down when the store starts does not stop it: the orders wait in Redis (the
record the API lists) and the first batch after the server answers opens the table. A server
that answers and refuses (a wrong password, no such database, a foreign ``orders`` table) is a
mistake no wait will fix: opening fails, with the URL redacted.
"""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from sniper.errors import Unavailable
from sniper.store.backends.records import ORDER_COLUMNS, order_row
from sniper.store.models import Order
from sniper.store.pgdb.client import (
    PG_ERRORS,
    borrow,
    check_url,
    close_pool,
    create_pool,
    describe,
)
from sniper.store.pgdb.schema import migrate
from sniper.store.urls import redact_url

log = logging.getLogger(__name__)

_COLUMNS = ", ".join(ORDER_COLUMNS)
#: Each column's array type, in :data:`ORDER_COLUMNS` order (``sql/orders_1.sql``).
_TYPES = ("text", "text", "integer", "text", "bigint", "text")
_UNNEST = ", ".join(f"${n}::{t}[]" for n, t in enumerate(_TYPES, 1))
_INSERT = (
    f"WITH added AS (INSERT INTO orders ({_COLUMNS}) SELECT * FROM unnest({_UNNEST}) "
    "ON CONFLICT (order_id) DO NOTHING RETURNING 1) SELECT count(*) FROM added"
)
#: SQLSTATE classes of a server that is not there for now: the connection (08), too many
#: connections or no resources (53), shut down or starting up (57), a system failure (58).
_DOWN_CLASSES = frozenset({"08", "53", "57", "58"})


def server_down(exc: BaseException) -> bool:
    """Whether a failure to open means the server is away for now (refused connection,
    timeout, shutting down or starting up), not that it refused us for good."""
    if isinstance(exc, asyncpg.PostgresError):
        return str(exc.sqlstate or "")[:2] in _DOWN_CLASSES
    if isinstance(exc, asyncpg.ClientConfigurationError):  # the URL's options: no wait fixes it
        return False
    return isinstance(exc, PG_ERRORS.kinds)


def columns(orders: list[Order]) -> list[list[object]]:
    """The orders as one list per column (the ``unnest`` arrays of one statement)."""
    rows = [order_row(o) for o in orders]
    return [[row[i] for row in rows] for i in range(len(ORDER_COLUMNS))]


class PgOrderTable:
    """A small pool of connections to one database, made at :meth:`open` or at the first batch
    after the server comes back."""

    def __init__(self, url: str, *, pool_size: int = 4, timeout_s: float = 5.0) -> None:
        self.url = check_url(url, "orders_db")
        self._pool_size, self._timeout_s = pool_size, timeout_s
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()
        self._said_down = False

    async def _connect(self) -> asyncpg.Pool:
        """The pool, made (and the table migrated) if there is none yet; raises the driver's
        error when the server does not answer."""
        async with self._opening:
            if self._pool is None:
                # Opened cold: the server may be down while the store starts.
                pool = await create_pool(
                    self.url,
                    "orders_db",
                    warm=0,
                    max_size=self._pool_size,
                    timeout_s=self._timeout_s,
                )
                try:
                    async with borrow(pool, self._timeout_s) as conn:
                        applied = await migrate(conn, ("orders",))
                except BaseException:
                    await pool.close()
                    raise
                if applied:
                    log.info("orders_db: applied %s", ", ".join(applied))
                self._pool = pool
            return self._pool

    async def open(self) -> None:
        """Connect and create or migrate the table. A server that is down is said (once) and
        left for the first batch; one that refuses raises ``Unavailable`` naming ``orders_db``."""
        try:
            await self._connect()
        except PG_ERRORS.kinds as exc:
            shown = f"orders_db {redact_url(self.url)}"
            if not server_down(exc):
                raise Unavailable(f"{shown}: refused ({describe(exc)})") from None
            if self._said_down:  # the backend opens it, then the persister as it starts
                return
            self._said_down = True
            log.warning(
                "%s: not reachable (%s); orders wait in Redis and are copied once it answers",
                shown,
                describe(exc),
            )

    async def insert(self, orders: list[Order]) -> int:
        """Insert the orders not there yet, in one statement and transaction, committed when
        this returns; how many were new. The driver's errors pass through (the persister keeps
        the batch pending and tries again)."""
        if not orders:
            return 0
        async with borrow(await self._connect(), self._timeout_s) as conn:
            added = await conn.fetchval(_INSERT, *columns(orders))
        return int(added)

    async def all(self) -> list[Order]:
        """Every order in the table, by id."""
        async with borrow(await self._connect(), self._timeout_s) as conn:
            rows = await conn.fetch(f"SELECT {_COLUMNS} FROM orders ORDER BY order_id")
        return [Order(*r) for r in rows]

    async def close(self) -> None:
        """Close every connection (a later batch would open them again)."""
        async with self._opening:
            pool, self._pool = self._pool, None
        if pool is not None:
            await close_pool(pool, self._timeout_s)
