"""The fire gate: one spin, every task's burst, interleaved."""

from __future__ import annotations

import asyncio
from typing import Any

from sniper.client.gate import FireGate
from sniper.clock import SystemClock


class FakeConnection:
    """Records the order of fire() calls."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def fire(self) -> float:
        self.log.append(self.name)
        return 0.0


async def test_bursts_due_together_leave_together_interleaved() -> None:
    """Three tasks due at one instant (one asking a bit later): one run of writes, every task's
    first request first; a task due much later waits for its own instant."""
    clock = SystemClock()
    gate = FireGate(clock, window_ms=1.0)
    log: list[str] = []
    now = clock.monotonic() * 1000

    def conns(task: str, n: int) -> list[Any]:
        return [FakeConnection(f"{task}{i}", log) for i in range(1, n + 1)]

    early = [gate.fire(now + 20, conns("a", 3)), gate.fire(now + 20.2, conns("b", 2))]
    results = await asyncio.gather(
        *early, gate.fire(now + 20, conns("c", 1)), gate.fire(now + 60, conns("d", 1))
    )
    assert log == ["a1", "b1", "c1", "a2", "b2", "a3", "d1"]
    began = [r[0] for r in results]
    assert began[0] == began[1] == began[2] < began[3]
    assert began[0] >= now + 20


async def test_a_later_burst_due_sooner_is_not_held_back() -> None:
    """A burst due in 200 ms waits in the gate; one that joins after it but is due in 20 ms
    still leaves at its own instant."""
    clock = SystemClock()
    gate = FireGate(clock)
    log: list[str] = []
    now = clock.monotonic() * 1000
    late = asyncio.ensure_future(gate.fire(now + 200, [FakeConnection("late", log)]))
    await asyncio.sleep(0.005)
    began, _ = await gate.fire(now + 20, [FakeConnection("soon", log)])
    assert now + 20 <= began < now + 25
    await late
    assert log == ["soon", "late"]


async def test_a_failing_write_fails_its_waiters_instead_of_hanging() -> None:
    """If a write raises, every burst of that moment hears of it."""

    class Broken(FakeConnection):
        def fire(self) -> float:
            raise ConnectionError("gone")

    clock = SystemClock()
    gate = FireGate(clock)
    now = clock.monotonic() * 1000
    results = await asyncio.wait_for(
        asyncio.gather(
            gate.fire(now + 10, [Broken("x", [])]),
            gate.fire(now + 10, [FakeConnection("y", [])]),
            return_exceptions=True,
        ),
        2,
    )
    assert all(isinstance(r, ConnectionError) for r in results)
