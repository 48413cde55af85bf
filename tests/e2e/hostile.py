"""Hostile clients over raw sockets: bodies that never end, headers that never end, silence.

Each connection sends its first bytes and then nothing; a watcher records when the server
closed it and what it answered. Used by the e2e tests and by ``benchmarks/slow_clients.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from dataclasses import dataclass, field

#: An order whose body stops after 10 of its declared 100 bytes.
SLOW_BODY = (
    b"POST /api/orders HTTP/1.1\r\nHost: store\r\nContent-Type: application/json\r\n"
    b'Cookie: session=nobody\r\nContent-Length: 100\r\n\r\n{"sku_id":'
)
#: A request whose headers never end.
SLOW_HEAD = b"POST /api/orders HTTP/1.1\r\nHost: store\r\nX-Wait: "
#: A client that connects and says nothing.
SILENT = b""


def raise_fd_limit(needed: int) -> int:
    """Let this process hold ``needed`` files (up to the hard limit); the soft limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        soft = min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


@dataclass
class Held:
    """One hostile connection: when it opened, when the server closed it, what it answered."""

    opened: float
    closed: float | None = None
    answer: bytes = b""


@dataclass
class Crowd:
    """Hostile connections to one port, held until the server closes them or :meth:`aclose`."""

    port: int
    held: list[Held] = field(default_factory=list)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    async def hold(
        self, count: int, first: bytes, *, batch: int = 200, limit_s: float = 60.0
    ) -> list[Held]:
        """Open ``count`` connections (``batch`` at a time), each sending ``first``."""
        made: list[Held] = []
        async with asyncio.timeout(limit_s):
            for start in range(0, count, batch):
                made += await asyncio.gather(
                    *(self._open(first) for _ in range(min(batch, count - start)))
                )
        return made

    async def _open(self, first: bytes) -> Held:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        held = Held(time.monotonic())
        if first:
            writer.write(first)
        self.held.append(held)
        self._writers.append(writer)
        self._tasks.append(asyncio.create_task(self._watch(reader, held)))
        return held

    @staticmethod
    async def _watch(reader: asyncio.StreamReader, held: Held) -> None:
        with contextlib.suppress(ConnectionError):
            held.answer = await reader.read()
        held.closed = time.monotonic()

    def open_count(self) -> int:
        """Connections the server has not closed yet."""
        return sum(1 for h in self.held if h.closed is None)

    async def until_closed(self, held: list[Held], limit_s: float) -> bool:
        """Wait (bounded) until the server has closed every one of ``held``."""
        end = time.monotonic() + limit_s
        while any(h.closed is None for h in held):
            if time.monotonic() > end:
                return False
            await asyncio.sleep(0.05)
        return True

    async def aclose(self) -> None:
        """Close what is still open on our side."""
        for writer in self._writers:
            writer.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._writers.clear()


def status_of(answer: bytes) -> int | None:
    """The status code of a raw HTTP answer, None for no answer."""
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer[9:12])
