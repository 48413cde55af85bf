"""The order table the persister copies into, chosen by the scheme of ``--orders-db``:
``sqlite:///PATH`` (a file on this machine) or ``postgresql://…`` / ``postgres://…`` (one table
for replicas on several machines)."""

from __future__ import annotations

from typing import Protocol

from sniper.errors import ConfigError
from sniper.store.models import Order
from sniper.store.pgdb.client import SCHEMES as PG_SCHEMES
from sniper.store.pgdb.order_table import PgOrderTable
from sniper.store.redisdb.order_table import SqliteOrderTable
from sniper.store.urls import redact_url


class OrderTable(Protocol):
    """What the persister needs of a table: inserts idempotent by order id, committed (durable)
    before ``insert`` returns."""

    async def open(self) -> None:
        """Create the table if needed (before the first batch)."""

    async def insert(self, orders: list[Order]) -> int:
        """Insert the orders not there yet, in one transaction; how many were new."""

    async def all(self) -> list[Order]:
        """Every order in the table, by id."""

    async def close(self) -> None:
        """Release the connections."""


def order_table(url: str, *, pg_timeout_s: float = 5.0) -> OrderTable:
    """The table named by ``url`` (not opened yet); a one-line ``ConfigError`` naming
    ``orders_db`` for any other scheme, with the URL redacted."""
    scheme = url.partition("://")[0]
    if scheme == "sqlite":
        return SqliteOrderTable(url)
    if scheme in PG_SCHEMES:
        return PgOrderTable(url, timeout_s=pg_timeout_s)
    raise ConfigError(
        f"orders_db: {redact_url(url)!r} is neither sqlite:///PATH nor postgresql://…/DATABASE"
    )
