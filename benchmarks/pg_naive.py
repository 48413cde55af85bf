"""The naive store step on PostgreSQL, for comparison with the store's grouped one.

One transaction per order, as most shops first write it::

    BEGIN;
    UPDATE items SET stock = stock - 1 WHERE sku_id = $1 AND stock >= 1 RETURNING stock;
    -- no row: sold out (ROLLBACK)
    INSERT INTO orders (...) VALUES (...);
    COMMIT;

:class:`NaivePostgresBackend` is the store's :class:`PostgresBackend` with only ``reserve``
replaced by that step, on the same pool and the same tables (the same indexes on ``orders``).
It checks less than the store's function (no replay, no per-user limit, no purchase count),
which favours it: the gain measured against it is a lower bound.

Run as a script, it is ``sniper`` with the naive step in the store, same arguments: the same
HTTP stack, sessions and service in front of it (``benchmarks/store_flood.py`` starts it)::

    python benchmarks/pg_naive.py serve --store postgresql://… --port 8001 …
"""

from __future__ import annotations

from sniper.clock import Clock, now_ms
from sniper.store.backends import BACKENDS
from sniper.store.backends.base import Backend
from sniper.store.ids import OrderIdGenerator
from sniper.store.models import Order
from sniper.store.pgdb.backend import PostgresBackend
from sniper.store.rules import Outcome, Reservation, ReservationResult
from sniper.store.settings import StoreSettings

_TAKE = "UPDATE items SET stock = stock - $2 WHERE sku_id = $1 AND stock >= $2 RETURNING stock"
_INSERT = (
    "INSERT INTO orders (order_id, sku_id, qty, username, created_ms, request_id) "
    "VALUES ($1, $2, $3, $4, $5, $6)"
)


class NaivePostgresBackend(PostgresBackend):
    """The PostgreSQL store with one transaction per order: the row lock is held from the
    ``UPDATE`` to the ``COMMIT`` (an insert's round trip and a WAL flush), order after order."""

    def __init__(self, url: str, clock: Clock, *, pool_size: int, timeout_s: float) -> None:
        super().__init__(url, clock, pool_size=pool_size, timeout_s=timeout_s)
        self._naive_ids = OrderIdGenerator()

    async def reserve(self, request: Reservation) -> ReservationResult:
        """Take one unit (the row count says whether there was one), insert the order, commit."""
        now = now_ms(self._clock)
        timeout = self._timeout_s
        async with self._pool().acquire(timeout=timeout) as conn, conn.transaction():
            left = await conn.fetchval(_TAKE, request.sku_id, request.qty, timeout=timeout)
            if left is None:
                # The service flags the item sold out on a stock of 0, as it does for the store.
                return ReservationResult(Outcome.SOLD_OUT, None, 0)
            order = Order(
                self._naive_ids.next_id(now),
                request.sku_id,
                request.qty,
                request.user,
                now,
                request.request_id,
            )
            await conn.execute(
                _INSERT,
                order.order_id,
                order.sku_id,
                order.qty,
                order.user,
                order.created_ms,
                order.request_id,
                timeout=timeout,
            )
        return ReservationResult(Outcome.CREATED, order, int(left))


def _naive(settings: StoreSettings, clock: Clock) -> Backend:
    return NaivePostgresBackend(
        settings.store, clock, pool_size=settings.pg_pool_size, timeout_s=settings.pg_timeout_s
    )


# Run as a script: the naive step in place of the store's. Also in uvicorn's ``--workers``
# children, which are spawned and run this module's top level again (as ``__mp_main__``) before
# they build their app. Imported (for the class), it changes nothing.
if __name__ in ("__main__", "__mp_main__"):
    BACKENDS["postgresql"] = BACKENDS["postgres"] = _naive

if __name__ == "__main__":
    from sniper.cli import main

    main()
