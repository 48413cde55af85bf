"""What only the Redis backend has: fenced catalog writes, Redis errors as 503, scripts by SHA."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sniper.clock import ManualClock
from sniper.errors import Unavailable
from sniper.store.models import Item
from sniper.store.process import free_port
from sniper.store.redisdb.backend import RedisBackend
from sniper.store.redisdb.lock import LockLost
from sniper.store.rules import Reservation
from tests.conftest import T0_MS

pytestmark = pytest.mark.redis


def _item(sku: str, stock: int = 3) -> Item:
    return Item(sku, sku, 100, stock, "2023-11-14T22:13:20+00:00", T0_MS, 1)


@pytest.fixture
async def backend(redis_url: str, clock: ManualClock) -> AsyncIterator[RedisBackend]:
    made = RedisBackend(redis_url, clock)
    await made.open()
    try:
        yield made
    finally:
        await made.aclose()


async def test_a_stale_fencing_token_is_refused(backend: RedisBackend) -> None:
    assert await backend.create_item(_item("eggs"), fencing_token=5) == 1
    assert await backend.create_item(_item("eggs"), fencing_token=5) == 0  # there already
    assert await backend.create_item(_item("eggs", stock=99), fencing_token=4) == -1
    item = await backend.get_item("eggs")
    assert item is not None
    assert item.stock == 3


async def test_a_catalog_load_fenced_off_stops(backend: RedisBackend) -> None:
    """A newer holder has written 'milk' (fence 99): this load's token (1) is refused."""
    await backend.client.set("sniper:fence:{milk}", 99)
    with pytest.raises(LockLost, match="newer holder"):
        await backend.load_catalog([_item("eggs"), _item("milk")])
    assert await backend.get_item("milk") is None
    assert await backend.client.get("sniper:lock:{catalog}") is None  # released all the same


async def test_the_reservation_runs_by_sha(backend: RedisBackend, redis_url: str) -> None:
    await backend.put_item(_item("eggs"))
    await backend.reserve(Reservation("ann", "eggs", 1))
    await backend.reserve(Reservation("bob", "eggs", 1))
    info = await backend.client.info("commandstats")
    assert int(info["cmdstat_evalsha"]["calls"]) >= 2
    assert "cmdstat_eval" not in info  # never the whole script text per call
    await backend.client.script_flush()  # a restarted Redis forgets scripts: reloaded
    assert (await backend.reserve(Reservation("cyd", "eggs", 1))).order is not None


async def test_redis_down_is_unavailable_not_a_traceback(clock: ManualClock) -> None:
    down = RedisBackend(f"redis://:hunter2@127.0.0.1:{free_port()}/0", clock)
    try:
        with pytest.raises(Unavailable, match="storage unavailable") as caught:
            await down.reserve(Reservation("ann", "eggs", 1))
        assert "hunter2" not in str(caught.value)
        with pytest.raises(Unavailable):
            await down.check()
    finally:
        await down.aclose()


async def test_reservations_arriving_together_share_pipelines(backend: RedisBackend) -> None:
    """200 at once: every one decided by its own script call, carried by far fewer pipelines."""
    await backend.put_item(_item("eggs", stock=150))
    results = await asyncio.gather(*(backend.reserve(Reservation(f"u{i}", "eggs", 1))
                                     for i in range(200)))
    assert sum(r.order is not None for r in results) == 150
    assert backend._reserve.carried == 200
    assert backend._reserve.batches <= 20
