"""The batcher core under SQLite's group commit and Redis's script pipelines (pure logic: the
storage is a fake ``_send``)."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest

from sniper.errors import NotFound, OutcomeUnknown, StoreError, Unavailable
from sniper.store.backends.batcher import Batcher, Call
from sniper.store.backends.sqlfile import SQLITE_ERRORS


class Echo(Batcher[int]):
    """Answers each call with its payload doubled; a negative payload fails alone. ``gate``,
    while clear, holds every batch; ``raises`` makes the next batch's ``_send`` raise it."""

    def __init__(self, *, max_batch: int = 100, max_in_flight: int | None = None) -> None:
        super().__init__(SQLITE_ERRORS, max_batch=max_batch, max_in_flight=max_in_flight)
        self.sent: list[list[int]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.raises: BaseException | None = None

    def __call__(self, n: int) -> asyncio.Future[Any]:
        return self._submit(n)

    async def _send(self, batch: list[Call[int]]) -> None:
        self.sent.append([n for n, _ in batch])
        await self.gate.wait()
        if self.raises is not None:
            exc, self.raises = self.raises, None
            raise exc
        for n, future in batch:
            if n < 0:
                self._settle(future, error=NotFound(f"no {n}"))
            else:
                self._settle(future, result=2 * n)


async def test_calls_of_one_turn_go_together_and_each_gets_its_own_answer() -> None:
    echo = Echo(max_batch=3)
    answers = await asyncio.gather(*(echo(n) for n in (1, 2, -3, 4)), return_exceptions=True)
    assert echo.sent == [[1, 2, -3], [4]]  # one turn, split at max_batch
    assert [answers[0], answers[1], answers[3]] == [2, 4, 8]
    assert isinstance(answers[2], NotFound)  # a failure fails only its own caller
    assert (echo.batches, echo.carried) == (2, 4)


async def test_one_batch_at_a_time_takes_every_call_that_waited_as_the_next() -> None:
    """SQLite's one transaction at a time: calls made while a batch is out, in several turns and
    in the last turn before it ends, go together as the next batch; none is left waiting."""
    echo = Echo(max_in_flight=1)
    echo.gate.clear()
    first = echo(1)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert echo.sent == [[1]]
    later = [echo(2)]
    await asyncio.sleep(0)
    later.append(echo(3))
    echo.gate.set()
    later.append(echo(4))  # the same turn as the batch's end: a flush is due
    async with asyncio.timeout(5):
        assert await first == 2
        assert await asyncio.gather(*later) == [4, 6, 8]
    assert echo.sent == [[1], [2, 3, 4]]


@pytest.mark.parametrize(
    ("raised", "heard"),
    [
        (NotFound("gone"), NotFound),  # a store error as it is
        (sqlite3.OperationalError("disk I/O error"), Unavailable),  # before anything was sent
        (RuntimeError("a bug mid-send"), OutcomeUnknown),  # it may have run
    ],
)
async def test_a_send_that_raises_answers_every_caller(
    raised: BaseException, heard: type[StoreError]
) -> None:
    echo = Echo()
    echo.raises = raised
    answers = await asyncio.gather(echo(1), echo(2), return_exceptions=True)
    assert [type(a) for a in answers] == [heard, heard]
    assert await echo(3) == 6  # the next batch goes on


async def test_a_batch_cancelled_midway_answers_outcome_unknown() -> None:
    echo = Echo()
    echo.gate.clear()
    calls = [echo(1), echo(2)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    for task in list(echo._tasks):
        task.cancel()
    answers = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 5)
    assert [type(a) for a in answers] == [OutcomeUnknown, OutcomeUnknown]


async def test_a_caller_gone_costs_the_others_nothing() -> None:
    echo = Echo()
    echo.gate.clear()
    calls = [echo(1), echo(2)]
    await asyncio.sleep(0)
    calls[0].cancel()  # a client that hung up
    echo.gate.set()
    assert await asyncio.wait_for(calls[1], 5) == 4


async def test_close_answers_what_was_queued_then_refuses() -> None:
    echo = Echo(max_in_flight=1)
    echo.gate.clear()
    calls = [echo(1)]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    calls.append(echo(2))  # queued behind the batch that is out
    closing = asyncio.ensure_future(echo.close())
    await asyncio.sleep(0)
    assert not closing.done()
    echo.gate.set()
    await asyncio.wait_for(closing, 5)
    assert [c.result() for c in calls] == [2, 4]
    with pytest.raises(Unavailable, match="shutting down"):
        echo(3)
