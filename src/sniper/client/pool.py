"""Many connections at once: opened together (a bounded number at a time), closed together.

Shared by a run's burst (:mod:`sniper.client.engine`) and ``sniper bench``'s users.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

from sniper.client.connection import Connection

#: Connections are opened this many at a time (a listen backlog is finite).
OPEN_AT_ONCE = 256


async def open_all(new: Callable[[], Connection], count: int, timeout_s: float) -> list[Connection]:
    """``count`` connections made by ``new``, open. If any fails (or the caller is cancelled
    meanwhile), none is left open and the failure is raised."""
    conns = [new() for _ in range(count)]
    gate = asyncio.Semaphore(OPEN_AT_ONCE)

    async def open_one(conn: Connection) -> None:
        async with gate:
            await conn.open(timeout_s)

    try:
        results = await asyncio.gather(*(open_one(c) for c in conns), return_exceptions=True)
    except BaseException:
        await close_all(conns)
        raise
    failed = next((r for r in results if isinstance(r, BaseException)), None)
    if failed is not None:
        await close_all(conns)
        raise failed
    return conns


async def close_all(conns: Sequence[Connection]) -> None:
    """Close every connection."""
    await asyncio.gather(*(c.aclose() for c in conns), return_exceptions=True)


@contextlib.asynccontextmanager
async def opened(
    new: Callable[[], Connection], count: int, timeout_s: float
) -> AsyncIterator[list[Connection]]:
    """:func:`open_all`, and :func:`close_all` on leaving, however it is left."""
    conns = await open_all(new, count, timeout_s)
    try:
        yield conns
    finally:
        await close_all(conns)
