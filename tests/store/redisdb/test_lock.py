"""The Redis lock on a real private Redis: owner-only release and renew, expiry, the fencing
token, and the watchdog."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sniper.errors import Unavailable
from sniper.store.redisdb.client import Client, CommandSlots, connect
from sniper.store.redisdb.lock import LockNotAcquired, RedisLock

pytestmark = pytest.mark.redis


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[Client]:
    made = connect(redis_url)
    try:
        yield made
    finally:
        await made.aclose()


def _lock(client: Client, ttl_ms: int = 10_000) -> RedisLock:
    return RedisLock(client, CommandSlots(), "job", ttl_ms=ttl_ms)


async def test_only_the_owner_releases_and_renews(client: Client) -> None:
    a, b = _lock(client), _lock(client)
    fence = await a.acquire()
    assert fence == 1
    assert await b.acquire() is None  # held
    b.token = "not-the-owner"  # a stranger's token
    assert not await b.renew()
    assert not await b.release()
    assert await client.get("sniper:lock:{job}") == a.token  # untouched by the stranger
    assert await a.renew()
    assert await a.release()
    assert not await a.release()  # once
    assert await b.acquire() == 2  # free again, and the fencing token went up


async def test_an_expired_lock_passes_on_and_the_old_owner_cannot_touch_it(client: Client) -> None:
    a, b = _lock(client, ttl_ms=100), _lock(client, ttl_ms=10_000)
    first = await a.acquire()
    assert first is not None
    await asyncio.sleep(0.25)  # past the TTL, no watchdog
    second = await b.acquire()
    assert second is not None
    assert second > first  # what the guarded work checks: the newer holder wins
    assert not await a.renew()
    assert not await a.release()
    assert await client.get("sniper:lock:{job}") == b.token


async def test_the_watchdog_keeps_the_lock_while_the_work_runs(client: Client) -> None:
    """TTL 150 ms, work of 600 ms: nobody else gets the lock meanwhile; released after."""
    a, b = _lock(client, ttl_ms=150), _lock(client)
    async with a.held(wait_s=1) as fence:
        assert fence == 1
        for _ in range(6):
            await asyncio.sleep(0.1)
            assert await b.acquire() is None
        assert not a.lost.is_set()
    assert await client.get("sniper:lock:{job}") is None  # released at exit
    assert await b.acquire() == 2


async def test_the_watchdog_notices_a_lost_lock(client: Client) -> None:
    a = _lock(client, ttl_ms=150)
    async with a.held(wait_s=1):
        await client.delete("sniper:lock:{job}")  # an operator, or an expiry during a pause
        await asyncio.wait_for(a.lost.wait(), 2)


async def test_waiting_for_a_held_lock_is_bounded(client: Client) -> None:
    a, b = _lock(client), _lock(client)
    await a.acquire()
    with pytest.raises(LockNotAcquired, match="still held"):
        async with b.held(wait_s=0.2, poll_s=0.02):
            pytest.fail("must not get here")


async def test_one_failed_renewal_is_not_a_lost_lock(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis unreachable for one renewal (TTL 300 ms, renewals every 100 ms): the lock is still
    ours, and the watchdog goes on renewing it."""
    a = _lock(client, ttl_ms=300)
    real = a.renew
    failures: list[int] = []

    async def renew() -> bool:
        if not failures:
            failures.append(1)
            raise Unavailable("a blip")
        return await real()

    monkeypatch.setattr(a, "renew", renew)
    async with a.held(wait_s=1):
        await asyncio.sleep(0.5)
        assert failures == [1]
        assert not a.lost.is_set()
        assert await client.get("sniper:lock:{job}") == a.token


async def test_a_renewal_that_hangs_is_cut_short_and_tried_again(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first renewal hangs (a network stall longer than the TTL): it is given up after a
    third of the TTL and tried again in time, so the lock stays ours."""
    a = _lock(client, ttl_ms=300)
    real = a.renew
    hung: list[int] = []

    async def renew() -> bool:
        if not hung:
            hung.append(1)
            await asyncio.sleep(10)
        return await real()

    monkeypatch.setattr(a, "renew", renew)
    async with a.held(wait_s=1):
        await asyncio.sleep(0.6)
        assert hung == [1]
        assert not a.lost.is_set()
        assert await client.get("sniper:lock:{job}") == a.token


async def test_leaving_ends_the_watchdog_even_when_its_cancel_is_lost(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renewal that swallows the watchdog's cancel (as Python 3.11's ``wait_for`` inside
    redis-py does when the cancel lands as a command completes) does not keep ``held`` from
    returning: the work that held the lock would otherwise never finish."""
    a = _lock(client, ttl_ms=150)  # renewals every 50 ms
    real = a.renew
    renewing = asyncio.Event()
    lost: list[bool] = []

    async def renew() -> bool:
        renewing.set()
        try:
            await asyncio.sleep(0.2)
        except asyncio.CancelledError:
            lost.append(True)
        return await real()

    monkeypatch.setattr(a, "renew", renew)

    async def hold() -> None:
        async with a.held(wait_s=1):
            await renewing.wait()

    done, _ = await asyncio.wait({asyncio.create_task(hold())}, timeout=5)
    assert done, "held() still waits for its watchdog"
    assert lost == [True]
