"""The order persister on a real private Redis, copying into SQLite and into PostgreSQL: every
order in SQL exactly once, even when a worker dies mid-batch or PostgreSQL stops mid-copy; the
pool grows with the backlog and shrinks when idle (fake clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from redis.exceptions import ResponseError

from sniper.store.models import Item, Order
from sniper.store.pgdb.order_table import PgOrderTable
from sniper.store.process import free_port
from sniper.store.redisdb.backend import RedisBackend
from sniper.store.redisdb.client import CommandSlots, connect
from sniper.store.redisdb.keys import sku_keys
from sniper.store.redisdb.order_table import SqliteOrderTable
from sniper.store.redisdb.orders_db import OrderTable, order_table
from sniper.store.redisdb.persister import GROUP, OrderPersister
from sniper.store.redisdb.pool import PoolPolicy
from sniper.store.rules import Outcome, Reservation
from tests.conftest import T0_MS
from tests.pg_servers import pg_server


@pytest.mark.parametrize(
    ("workers", "backlog", "grow"),
    [
        (0, 0, True),
        (1, 0, False),
        (1, 49, False),
        (1, 50, True),
        (7, 500, True),
        (8, 500, False),
    ],
)
def test_the_pool_grows_at_a_backlog_of_50(workers: int, backlog: int, grow: bool) -> None:
    assert PoolPolicy(max_workers=8).grow(workers, backlog) is grow


@pytest.mark.parametrize(
    ("workers", "idle_s", "retire"),
    [
        (2, 29.9, False),
        (2, 30.0, True),
        (1, 300.0, False),
    ],
)
def test_an_idle_worker_leaves_after_30_s(workers: int, idle_s: float, retire: bool) -> None:
    assert PoolPolicy().retire(workers, idle_s) is retire


def test_a_pool_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="min_workers"):
        PoolPolicy(min_workers=0)


class FakeClock:
    """Monotonic seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class DiesAfterCommit:
    """A table whose writer 'dies' after committing its first batch, before the acknowledgement
    (the worst moment: the rows are in, the stream does not know)."""

    def __init__(self, table: OrderTable) -> None:
        self.table = table
        self.died = False

    async def open(self) -> None:
        await self.table.open()

    async def insert(self, orders: list[Order]) -> int:
        added = await self.table.insert(orders)
        if not self.died:
            self.died = True
            raise TimeoutError("killed mid-batch")
        return added

    async def all(self) -> list[Order]:
        return await self.table.all()

    async def close(self) -> None:
        await self.table.close()


async def _orders(backend: RedisBackend, n: int, sku: str = "eggs") -> list[Order]:
    await backend.put_item(Item(sku, sku, 1, n, "2023-11-14T22:13:20+00:00", T0_MS, 1))
    results = await asyncio.gather(
        *(backend.reserve(Reservation(f"u{i}", sku, 1)) for i in range(n))
    )
    assert all(r.outcome is Outcome.CREATED for r in results)
    return [r.order for r in results if r.order is not None]


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    """Poll ``check`` (state in Redis and in the pool: nothing to wait on) until it holds."""
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


class LosesTheCancel(OrderPersister):
    """A supervisor's tick that loses the cancel of ``stop()``, as Python 3.11's ``wait_for``
    (inside redis-py) does when it lands as a command completes."""

    lost = False

    async def tick(self) -> None:
        if self.lost:
            return
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.lost = True


@pytest.mark.redis
async def test_stop_ends_the_supervisor_even_when_its_cancel_is_lost(
    backend: RedisBackend, tmp_path: Path
) -> None:
    """stop() returns although the supervisor went on after its cancel (the store's shutdown
    hung for ever on Redis when it did)."""
    persister = LosesTheCancel(
        backend.client, backend._slots, SqliteOrderTable(f"sqlite:///{tmp_path / 'o.db'}"), name="p"
    )
    await persister.start()
    await asyncio.sleep(0.05)  # the supervisor is inside its tick
    stopping = asyncio.create_task(persister.stop())
    done, _ = await asyncio.wait({stopping}, timeout=10)
    assert done, "stop() still waits for the supervisor"
    assert persister.lost


@pytest.mark.redis
async def test_killed_mid_batch_then_restarted_every_order_once(
    backend: RedisBackend, orders_db: str
) -> None:
    """The first persister copies a batch and dies before acknowledging it; a new one claims the
    dead one's pending entries: every order is in SQL, each once, and the streams are empty."""
    orders = await _orders(backend, 120) + await _orders(backend, 30, sku="milk")
    url = orders_db
    dying = DiesAfterCommit(order_table(url))
    first = OrderPersister(
        backend.client, backend._slots, dying, name="first", batch=50, batch_timeout_s=0.1
    )
    await first.table.open()
    # eggs: a batch of 50 went in, then its copy 'died' before the acknowledgement (logged, left
    # pending); milk, the next stream, is copied all the same.
    assert await first.step("first-1") == 30
    assert dying.died
    await first.stop()

    second = OrderPersister(
        backend.client,
        backend._slots,
        order_table(url),
        name="second",
        batch=50,
        batch_timeout_s=0.1,
    )  # claims after 0.3 s pending
    await second.start()
    try:

        async def all_moved() -> bool:
            return await second.backlog() == 0

        await _until(all_moved)
    finally:
        await second.stop()
    table = order_table(url)
    stored = await table.all()
    await table.close()
    assert sorted(stored, key=lambda o: o.order_id) == sorted(orders, key=lambda o: o.order_id)
    assert len({o.order_id for o in stored}) == len(stored) == 150


@pytest.mark.redis
async def test_the_pool_grows_with_the_backlog_and_shrinks_when_idle(
    backend: RedisBackend, orders_db: str
) -> None:
    """600 orders waiting: the supervisor's ticks add workers (backlog >= 50); once all are
    copied and 30 s pass on the fake clock, the extra workers leave, one stays."""
    await _orders(backend, 600)
    clock = FakeClock()
    persister = OrderPersister(
        backend.client,
        backend._slots,
        order_table(orders_db),
        name="p",
        batch=20,
        clock=clock,
    )
    await persister.start(supervise=False)
    try:
        assert persister.workers == 1
        for _ in range(4):
            await persister.tick()
        assert persister.workers > 1  # 600 waiting: grew on each tick while >= 50 were left

        async def drained() -> bool:
            return await persister.backlog() == 0

        await _until(drained)
        grown = persister.workers
        assert grown > 1
        clock.now += 29.0
        await asyncio.sleep(0.2)  # every worker looks at its idle time a few times
        assert persister.workers == grown  # not yet
        clock.now += 2.0

        async def shrunk() -> bool:
            return persister.workers == 1

        await _until(shrunk)
        assert persister.persisted == 600
        assert persister.peak_workers == grown
    finally:
        await persister.stop()


@pytest.mark.redis
async def test_a_stream_that_lost_its_group_is_picked_up_again(
    backend: RedisBackend, orders_db: str
) -> None:
    """The stream (and its consumer group) deleted, as by a Redis restart without its data; new
    orders make a stream with no group: the persister makes the group again and copies them, and
    the other item's orders are not held up meanwhile."""
    persister = OrderPersister(
        backend.client, backend._slots, order_table(orders_db), name="p", poll_s=0.01
    )
    await persister.start(supervise=False)
    try:
        await _orders(backend, 5)

        async def copied(n: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return persister.persisted >= n

            return check

        await _until(await copied(5))
        await backend.client.delete(sku_keys("eggs").stream)
        await _orders(backend, 7, sku="eggs2")
        await backend.put_item(Item("eggs", "eggs", 1, 3, "2023-11-14T22:13:20+00:00", T0_MS, 9))
        later = await asyncio.gather(
            *(backend.reserve(Reservation(f"v{i}", "eggs", 1)) for i in range(3))
        )
        assert all(r.outcome is Outcome.CREATED for r in later)
        await _until(await copied(15))
    finally:
        await persister.stop()


@pytest.mark.redis
@pytest.mark.postgres
async def test_postgresql_down_at_start_or_stopped_mid_copy_keeps_the_entries_until_it_is_back(
    backend: RedisBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL down when the persister starts: it starts, the orders wait; PostgreSQL up, they
    are copied. Then PostgreSQL stopped at once (``-m immediate``): the next orders are delivered
    to a worker and stay pending in the stream (nothing acknowledged that was not committed), the
    pool lives on; started again, the same persister copies them. Every order once, no restart,
    warnings and no traceback in the log."""
    with pg_server() as server:
        await asyncio.to_thread(server.stop, "fast")
        persister = OrderPersister(
            backend.client,
            backend._slots,
            PgOrderTable(server.url, timeout_s=1.0),
            name="p",
            batch=20,
            batch_timeout_s=0.5,
            poll_s=0.01,
        )
        await persister.start()
        try:
            before = await _orders(backend, 50)

            async def drained() -> bool:
                return await persister.backlog() == 0

            await _until(_delivered_not_copied(backend, "eggs"))
            await asyncio.to_thread(server.start)
            await _until(drained, timeout_s=30.0)
            await asyncio.to_thread(server.stop, "immediate")
            during = await _orders(backend, 80, sku="milk")
            await _until(_delivered_not_copied(backend, "milk"))
            assert await backend.client.xlen(sku_keys("milk").stream) == 80
            assert persister.workers >= 1
            await asyncio.to_thread(server.start)
            await _until(drained, timeout_s=30.0)
            stored = await persister.table.all()
        finally:
            await persister.stop()
    assert sorted(stored, key=lambda o: o.order_id) == sorted(
        before + during, key=lambda o: o.order_id
    )
    assert persister.persisted == 130
    assert "Traceback" not in caplog.text


def _delivered_not_copied(backend: RedisBackend, sku: str) -> Callable[[], Awaitable[bool]]:
    """Whether some of the item's entries were delivered to a worker and not acknowledged."""

    async def check() -> bool:
        try:
            pending = await backend.client.xpending(sku_keys(sku).stream, GROUP)
        except ResponseError:  # the group is not made yet
            return False
        return int(pending["pending"]) > 0

    return check


async def test_an_outage_backs_off_and_does_not_flood_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis unreachable for a second: one warning, not dozens; and the pool lives on."""
    down = connect(f"redis://127.0.0.1:{free_port()}/0")
    persister = OrderPersister(
        down,
        CommandSlots(),
        SqliteOrderTable(f"sqlite:///{tmp_path / 'o.db'}"),
        name="p",
        poll_s=0.01,
    )
    try:
        await persister.start()
        await asyncio.sleep(1.0)
        assert persister.workers == 1
    finally:
        await persister.stop()
        await down.aclose()
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
