"""The order persister: a pool of workers copying orders from Redis into the SQL order table.

Each SKU's orders are appended to its stream by the reservation script. Workers read the streams
through one consumer group (``persisters``): a batch is inserted (idempotent by order id) under a
timeout, then acknowledged and deleted from the stream, so delivery is at least once and the table
holds each order once. Entries a consumer left pending longer than ``claim_idle_s`` (it died, or
its batch timed out) are claimed by another worker. A supervisor watches the backlog (entries
still in the streams) and grows the pool; idle workers leave (:class:`PoolPolicy`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from redis.exceptions import ResponseError

from sniper.logs import ThrottledLog
from sniper.store.models import Order
from sniper.store.pgdb.client import PG_ERRORS
from sniper.store.redisdb.client import REDIS_ERRORS, Client, CommandSlots
from sniper.store.redisdb.codec import order_from_json
from sniper.store.redisdb.keys import known_skus, sku_keys
from sniper.store.redisdb.orders_db import OrderTable
from sniper.store.redisdb.pool import PoolPolicy

log = logging.getLogger(__name__)

GROUP = "persisters"
_MAX_BACKOFF_S = 5.0
_WARN_EVERY_S = 10.0
Entries = list[tuple[str, dict[str, str]]]
#: One item's copy failing: Redis or the table (SQLite, PostgreSQL) unreachable or refusing,
#: or the batch timed out.
_TROUBLE: tuple[type[BaseException], ...] = (*REDIS_ERRORS.kinds, sqlite3.Error, *PG_ERRORS.kinds)


class OrderPersister:
    """The pool; ``start()`` it, ``stop()`` it. ``name`` must be unique per process."""

    def __init__(
        self,
        client: Client,
        slots: CommandSlots,
        table: OrderTable,
        *,
        name: str,
        policy: PoolPolicy | None = None,
        batch: int = 100,
        batch_timeout_s: float = 5.0,
        poll_s: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.table, self.name = client, table, name
        self.policy = policy or PoolPolicy()
        self.batch, self.batch_timeout_s, self.poll_s = batch, batch_timeout_s, poll_s
        #: A batch pending this long is taken as abandoned (three batch timeouts).
        self.claim_idle_ms = int(3 * batch_timeout_s * 1000)
        self.clock = clock
        self._slots = slots
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._next_id = 0
        self._grouped: set[str] = set()
        self._supervisor: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        #: Orders copied into the table (new rows) and the most workers seen at once.
        self.persisted = 0
        self.peak_workers = 0
        #: Warnings, at most one per ``_WARN_EVERY_S``.
        self._warn = ThrottledLog(log, logging.WARNING, _WARN_EVERY_S, clock)

    @property
    def workers(self) -> int:
        """Workers running now."""
        return len(self._workers)

    async def start(self, *, supervise: bool = True) -> None:
        """Open the table and start ``min_workers`` workers (and the supervisor)."""
        await self.table.open()
        while self.policy.grow(self.workers, 0):
            self._spawn()
        if supervise:
            self._supervisor = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        """Let each worker finish its batch, then end them all."""
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        await self.table.close()

    # -- the pool --------------------------------------------------------------------------

    def _spawn(self) -> None:
        self._next_id += 1
        n = self._next_id
        task = asyncio.create_task(self._work(n))
        self._workers[n] = task
        task.add_done_callback(lambda _: self._workers.pop(n, None))
        self.peak_workers = max(self.peak_workers, self.workers)

    async def backlog(self) -> int:
        """Orders in the streams not yet copied and acknowledged."""
        keys = [sku_keys(sku).stream for sku in await known_skus(self.client, self._slots)]
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.xlen(key)
            return sum(int(n) for n in await pipe.execute())

    async def tick(self) -> None:
        """One look at the backlog: start a worker if the policy says so."""
        backlog = await self.backlog()
        if self.policy.grow(self.workers, backlog):
            self._spawn()
            log.info("persister: backlog %d, %d workers", backlog, self.workers)

    async def _supervise(self) -> None:
        # Ends on ``_stopping``, not on the cancel alone: on Python 3.11 a cancel that lands as a
        # Redis command completes is lost (redis-py's wait_for), and stop() would wait for ever.
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception as exc:
                self._warn("persister: backlog not read (%s)", type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(self.poll_s, 0.2)):
                    await self._stopping.wait()

    # -- one worker ------------------------------------------------------------------------

    async def _work(self, n: int) -> None:
        consumer = f"{self.name}-{n}"
        idle_since = self.clock()
        failures = 0
        while not self._stopping.is_set():
            try:
                moved = await self.step(consumer)
                failures = 0
            except Exception as exc:
                # Nothing was acknowledged: the entries stay pending and are claimed again.
                self._warn("persister %s: nothing copied (%s)", consumer, type(exc).__name__)
                moved, failures = 0, failures + 1
            if moved:
                idle_since = self.clock()
                continue
            if failures:  # an outage: back off (up to 5 s) instead of hammering Redis
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(_MAX_BACKOFF_S, self.poll_s * 2**failures)):
                        await self._stopping.wait()
                continue
            if self.policy.retire(self.workers, self.clock() - idle_since):
                # Leave the count at once: workers deciding together must not all go.
                self._workers.pop(n, None)
                log.info("persister: %s idle, leaving (%d left)", consumer, self.workers)
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_s):
                    await self._stopping.wait()

    async def step(self, consumer: str) -> int:
        """One pass over every SKU's stream as ``consumer``: claim abandoned entries, read new
        ones, copy, acknowledge. How many entries it moved; raises when every item failed."""
        moved, trouble = 0, None
        for sku in await known_skus(self.client, self._slots):
            stream = sku_keys(sku).stream
            try:
                await self._ensure_group(stream)
                entries = await self._claim(stream, consumer) or await self._read(stream, consumer)
                if entries:
                    await self._copy(stream, entries)
                    moved += len(entries)
            except _TROUBLE as exc:
                # One item's trouble must not starve the others; its entries stay pending.
                self._warn("persister %s: %s not copied (%s)", consumer, sku, type(exc).__name__)
                trouble = trouble or exc
        if trouble is not None and not moved:
            raise trouble
        return moved

    async def _ensure_group(self, stream: str) -> None:
        if stream in self._grouped:
            return
        async with self._slots:
            try:
                await self.client.xgroup_create(stream, GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._grouped.add(stream)

    async def _claim(self, stream: str, consumer: str) -> Entries:
        async with self._slots, self._regroup_on_nogroup(stream):
            reply: Any = await self.client.xautoclaim(
                stream,
                GROUP,
                consumer,
                min_idle_time=self.claim_idle_ms,
                start_id="0-0",
                count=self.batch,
            )
            return [(eid, fields) for eid, fields in reply[1] if fields]
        return []

    async def _read(self, stream: str, consumer: str) -> Entries:
        async with self._slots, self._regroup_on_nogroup(stream):
            reply: Any = await self.client.xreadgroup(
                GROUP, consumer, {stream: ">"}, count=self.batch
            )
            return list(reply[0][1]) if reply else []
        return []

    @contextlib.asynccontextmanager
    async def _regroup_on_nogroup(self, stream: str) -> AsyncIterator[None]:
        """A stream without our group (Redis restarted without its data, the stream was deleted
        and made again by a new order): forget it, so that the next pass creates the group."""
        try:
            yield
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._grouped.discard(stream)

    async def _copy(self, stream: str, entries: Entries) -> None:
        orders: list[Order] = [order_from_json(fields["order"]) for _, fields in entries]
        async with asyncio.timeout(self.batch_timeout_s):
            added = await self.table.insert(orders)
        self.persisted += added  # not `+= await`: that reads the count before the wait
        ids = [eid for eid, _ in entries]
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            pipe.xack(stream, GROUP, *ids)
            pipe.xdel(stream, *ids)
            await pipe.execute()
