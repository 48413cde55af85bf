"""Opening many connections at once: all of them, or none left open."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from sniper.client.connection import Connection, ConnectionBroken, Origin
from sniper.client.pool import open_all, opened
from sniper.clock import SystemClock


@pytest.fixture
async def origin() -> AsyncIterator[Origin]:
    """A loopback server that accepts connections and says nothing."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield Origin("http", "127.0.0.1", port)
    server.close()
    await server.wait_closed()


class Stalled(Connection):
    """A connection whose handshake never ends."""

    async def open(self, timeout_s: float) -> None:
        await asyncio.Event().wait()


class Making:
    """Makes connections to ``origin``, the ``count``-th a ``last``; keeps what it made."""

    def __init__(self, origin: Origin, last: type[Connection], count: int) -> None:
        self.origin, self.last, self.count = origin, last, count
        self.made: list[Connection] = []

    def __call__(self) -> Connection:
        cls = self.last if len(self.made) == self.count - 1 else Connection
        self.made.append(cls(self.origin, SystemClock()))
        return self.made[-1]


async def test_all_open_then_all_closed(origin: Origin) -> None:
    """Every connection is open inside, and closed after."""
    async with opened(lambda: Connection(origin, SystemClock()), 5, 2.0) as conns:
        assert len(conns) == 5
        assert all(c.is_open for c in conns)
    assert not any(c.is_open for c in conns)


async def test_one_failure_leaves_none_open(origin: Origin) -> None:
    """One connection cannot be opened: its failure is raised, the others are closed."""
    refused = Origin("http", "127.0.0.1", 9)  # the discard port: nothing listens on loopback

    class Refused(Connection):
        def __init__(self, _origin: Origin, clock: SystemClock) -> None:
            super().__init__(refused, clock)

    new = Making(origin, Refused, 4)
    with pytest.raises(ConnectionBroken):
        await open_all(new, 4, 2.0)
    assert len(new.made) == 4
    assert not any(c.is_open for c in new.made)


async def test_a_cancellation_while_opening_leaves_none_open(origin: Origin) -> None:
    """Cancelled while one handshake hangs: the connections already open are closed."""
    new = Making(origin, Stalled, 4)
    task = asyncio.create_task(open_all(new, 4, 2.0))
    made = new.made
    for _ in range(200):  # bounded: until the three real ones are open
        if sum(c.is_open for c in made) == 3:
            break
        await asyncio.sleep(0.01)
    assert sum(c.is_open for c in made) == 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not any(c.is_open for c in made)
