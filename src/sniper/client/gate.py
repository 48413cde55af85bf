"""The moment of the burst: one spin and one run of writes for every task that fires then.

Tasks of one run that aim at the same instant must not spin one after the other (each spin holds
the event loop, so the second task would start its spin only when the first had fired). Each hands
its connections and send instant to the gate; one coroutine sleeps, spins to the earliest instant,
and writes every burst due within ``window_ms`` of it, all at real-time priority where permitted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from sniper.client.schedule import coarse_sleep_ms
from sniper.clock import Clock


class Loaded(Protocol):
    """What the gate writes: a connection holding a prepared request."""

    def fire(self) -> float:
        """Write the prepared request; when the write began (local monotonic ms)."""
        ...


@contextlib.contextmanager
def burst_priority() -> Iterator[None]:
    """Real-time priority for the few microseconds of the burst's writes, where permitted.

    On one machine (tests, a sniper beside its server) the first write wakes the server, and
    the kernel may run the server on our CPU at once, holding the rest of the burst back by the
    time the server needs to answer (~0.5 ms measured). A real-time task is not preempted by
    that wakeup. Without the privilege (the usual case) nothing changes, and across a network
    the effect does not arise.
    """
    try:
        before = os.sched_getscheduler(0), os.sched_getparam(0)
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    except (AttributeError, OSError):
        yield
        return
    try:
        yield
    finally:
        os.sched_setscheduler(0, before[0], before[1])


@dataclass
class _Burst:
    send_at: float
    conns: Sequence[Loaded]
    done: asyncio.Future[tuple[float, list[float]]]


class FireGate:
    """Shared by the tasks of one run."""

    def __init__(self, clock: Clock, window_ms: float = 1.0) -> None:
        self._clock, self._window = clock, window_ms
        self._pending: list[_Burst] = []
        self._runner: asyncio.Task[None] | None = None
        self._joined = asyncio.Event()  # wakes the runner when a burst joins

    def _now(self) -> float:
        return self._clock.monotonic() * 1000

    async def fire(self, send_at: float, conns: Sequence[Loaded]) -> tuple[float, list[float]]:
        """Write every connection's prepared request at ``send_at`` (local monotonic ms);
        returns when the writes began and each write's own start."""
        burst = _Burst(send_at, conns, asyncio.get_running_loop().create_future())
        self._pending.append(burst)
        self._joined.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run())
        return await burst.done

    async def _run(self) -> None:
        while True:
            self._pending = [b for b in self._pending if not b.done.done()]  # gave up waiting
            if not self._pending:
                return
            first = min(b.send_at for b in self._pending)
            self._joined.clear()
            with contextlib.suppress(TimeoutError):  # a burst due sooner may join meanwhile
                async with asyncio.timeout(coarse_sleep_ms(self._now(), first) / 1000):
                    await self._joined.wait()
            first = min(b.send_at for b in self._pending)
            if first - self._now() > coarse_sleep_ms(0, 0) + 5:
                continue  # woken by a join with time to spare: sleep again
            while self._now() < first:
                pass
            due = [b for b in self._pending if b.send_at <= first + self._window]
            self._pending = [b for b in self._pending if b not in due]
            try:
                with burst_priority():
                    began = self._now()
                    sent = _fire_interleaved(due)
            except Exception as exc:  # every waiter hears of it; nobody waits forever
                for burst in due:
                    if not burst.done.done():
                        burst.done.set_exception(exc)
                continue
            for burst, times in zip(due, sent, strict=True):
                if not burst.done.done():
                    burst.done.set_result((began, times))


def _fire_interleaved(due: list[_Burst]) -> list[list[float]]:
    """Every task's first request, then every task's second, and so on: each task's first
    request leaves among the first writes, whatever the number of tasks."""
    sent: list[list[float]] = [[0.0] * len(b.conns) for b in due]
    for index in range(max(len(b.conns) for b in due)):
        for burst, times in zip(due, sent, strict=True):
            if index < len(burst.conns):
                times[index] = burst.conns[index].fire()
    return sent
