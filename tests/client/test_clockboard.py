"""The shared clock board: one measurement reused, and no task held past its own deadline."""

from __future__ import annotations

import asyncio

import pytest

from sniper.client.clockboard import ClockBoard, Measured
from sniper.client.connection import Origin
from sniper.client.probe import ClockError
from sniper.client.timesync import Estimate

ORIGIN = Origin("http", "127.0.0.1", 8000)
EST: Measured = (Estimate(offset=5.0, uncertainty=0.1, rtt=0.2, samples=1, method="time"), [])


def loop_ms() -> float:
    return asyncio.get_running_loop().time() * 1000


async def test_a_fresh_measurement_is_reused() -> None:
    board = ClockBoard(fresh_ms=1000)
    calls = 0

    async def measure() -> Measured:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return EST

    results = await asyncio.gather(*(board.get(ORIGIN, loop_ms, measure) for _ in range(4)))
    assert results == [EST] * 4
    assert calls == board.measurements == 1
    await board.get(ORIGIN, loop_ms, measure, force=True)
    assert calls == 2


async def test_a_task_due_sooner_is_not_held_by_a_long_measurement() -> None:
    """One task measures until released; another whose deadline is 50 ms away gives up waiting
    at its deadline (ClockError: keep the last estimate) instead of waiting the measurement out."""
    board = ClockBoard()
    release = asyncio.Event()

    async def slow() -> Measured:
        await asyncio.wait_for(release.wait(), 2)
        return EST

    holder = asyncio.create_task(board.get(ORIGIN, loop_ms, slow))
    await asyncio.sleep(0)
    started = loop_ms()
    with pytest.raises(ClockError, match="still measuring"):
        await board.get(ORIGIN, loop_ms, slow, force=True, wait_until_ms=started + 50)
    assert not holder.done()  # gave up while the other measurement still ran
    release.set()
    assert await holder == EST
    # Free again: a deadline in the past still gets the lock at once when nobody holds it.
    assert await board.get(ORIGIN, loop_ms, slow, wait_until_ms=loop_ms() - 1) == EST
