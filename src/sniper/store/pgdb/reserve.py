"""Reservations that arrive together go to PostgreSQL as one call of ``sniper_reserve``.

A flash sale is thousands of reservations of one row at once. One transaction per order would
queue them on that row's lock, one commit (one WAL flush) each; here the reservations of a turn
of the event loop (up to ``max_batch``) are one call of the server-side function (``sql/store_1
.sql``): one round trip, one transaction, one flush, each reservation still decided on its own,
in arrival order. Every caller hears its answer only after the commit. The queue and the answers
are :class:`~sniper.store.backends.batcher.Batcher`'s, with one batch out at a time per process:
a second would only wait on the hot row's lock, holding a connection, and split the queue into
smaller batches, one commit each (measured: 62 orders per transaction and 5.9k orders/s with
one, 40 and 5.1k with two; benchmarks/README.md).

A batch the server refuses for a value it cannot take (a data or integrity error) rolled back: its
reservations are sent again one by one, so that only the bad one fails; any other refusal fails
the batch ``unavailable``. A failure once the call was sent that may have committed (a dropped
connection, a timeout) is ``outcome unknown`` for every caller of the batch: only a retry with
the request id can tell. A batch has one deadline, the PostgreSQL timeout, for all of it: a
request waits at most for the batch ahead of it and for its own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import asyncpg

from sniper.store.backends.batcher import Batcher, Call
from sniper.store.ids import OrderIdGenerator
from sniper.store.models import Item, Order
from sniper.store.pgdb.client import PG_ERRORS, Conn, borrow
from sniper.store.rules import Outcome, Reservation, ReservationResult

_RESERVE_SQL = "SELECT * FROM sniper_reserve($1, $2, $3, $4, $5, $6)"
#: SQLSTATE classes of a refusal that one reservation's values can cause: data (22) and
#: integrity (23). Any other refusal (a lock timeout, a deadlock, no resources) is the batch's.
_ONE_AT_FAULT = frozenset({"22", "23"})


def _one_may_be_at_fault(exc: BaseException) -> bool:
    """Whether a refused batch may owe it to one of its reservations (worth sending each alone)."""
    return isinstance(exc, asyncpg.PostgresError) and str(exc.sqlstate)[:2] in _ONE_AT_FAULT


class ReserveBatcher(Batcher[Reservation]):
    """``await batcher(reservation)``: decided with the others of this moment, committed."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        now_ms: Callable[[], int],
        ids: OrderIdGenerator,
        *,
        max_batch: int,
        timeout_s: float,
    ) -> None:
        super().__init__(PG_ERRORS, max_batch=max_batch, max_in_flight=1)
        self._pool, self._now_ms, self._ids, self._timeout_s = pool, now_ms, ids, timeout_s

    def __call__(self, reservation: Reservation) -> asyncio.Future[ReservationResult]:
        """Queue one reservation; the batch leaves once this turn's calls have joined."""
        return self._submit(reservation)

    async def _send(self, batch: list[Call[Reservation]]) -> None:
        # Each item's reservations together (stable: arrival order kept within an item), so
        # that the function writes a hot item's row once.
        batch = sorted(batch, key=lambda call: call[0].sku_id)
        waiting, out = batch, []  # not sent yet; sent and not answered
        try:
            # One deadline for the whole batch, one by one included: a request waits at most
            # for the batch ahead of it and its own.
            async with asyncio.timeout(self._timeout_s):
                async with borrow(self._pool(), self._timeout_s) as conn:
                    waiting, out = [], batch
                    try:
                        results = await self._call(conn, [r for r, _ in batch])
                    except PG_ERRORS.kinds as exc:
                        if len(batch) == 1 or not _one_may_be_at_fault(exc):
                            raise PG_ERRORS.unknown(exc) from None
                        results = None
                    if results is None:  # one value refused, nothing done: each alone
                        waiting, out = list(batch), []
                        while waiting:
                            out = [waiting.pop(0)]
                            await self._alone(conn, out[0])
                        return
                    # Answered before the connection goes back: nothing that happens to it
                    # then (the server ending the session) may turn a committed batch into
                    # an error.
                    for (_, future), result in zip(batch, results, strict=True):
                        self._settle(future, result=result)
        except TimeoutError as exc:
            for _, future in out:
                self._settle(future, error=PG_ERRORS.unknown(exc))
            for _, future in waiting:
                self._settle(future, error=PG_ERRORS.unavailable(exc))

    async def _alone(self, conn: Conn, call: Call[Reservation]) -> None:
        reservation, future = call
        try:
            [result] = await self._call(conn, [reservation])
        except PG_ERRORS.kinds as exc:
            self._settle(future, error=PG_ERRORS.unknown(exc))
        else:
            self._settle(future, result=result)

    async def _call(self, conn: Conn, reservations: list[Reservation]) -> list[ReservationResult]:
        now = self._now_ms()
        ids = [self._ids.next_id(now) for _ in reservations]
        rows = await conn.fetch(
            _RESERVE_SQL,
            [r.sku_id for r in reservations],
            [r.user for r in reservations],
            [r.qty for r in reservations],
            [r.request_id for r in reservations],
            ids,
            now,
        )
        return [_result(r, row) for r, row in zip(reservations, rows, strict=True)]


def _result(req: Reservation, row: Any) -> ReservationResult:
    """One row of ``sniper_reserve`` as the result the service reads."""
    outcome = Outcome(row["r_outcome"])
    if outcome in (Outcome.CREATED, Outcome.REPLAYED):
        order = Order(
            row["r_order_id"],
            req.sku_id,
            row["r_qty"],
            req.user,
            row["r_created_ms"],
            req.request_id,
        )
        return ReservationResult(outcome, order, row["r_stock"])
    if outcome is Outcome.NOT_FOUND:
        return ReservationResult(outcome)
    item = Item(
        req.sku_id,
        row["r_name"],
        row["r_price_cents"],
        row["r_stock"],
        row["r_sale_start"],
        row["r_sale_start_ms"],
        row["r_limit_per_user"],
    )
    return ReservationResult(outcome, None, item.stock, item)


__all__ = ["ReserveBatcher"]
