"""The shop one task talks to: its platform, where it is, and how to reach it. Built once a run."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager

from sniper.client import pool
from sniper.client.config import TaskConfig
from sniper.client.connection import Connection, ssl_context
from sniper.client.platforms import Platform, platform_for
from sniper.clock import Clock


class Shop:
    """A task's platform (with its cookie), origin and TLS context; connections to it."""

    def __init__(self, task: TaskConfig, cookie: str | None, clock: Clock) -> None:
        self.platform: Platform = platform_for(task, cookie)
        self.origin = self.platform.origin
        self.tls = ssl_context(self.origin, task.ca_file)
        self.clock = clock

    def connection(self) -> Connection:
        """A new connection, not yet open."""
        return Connection(self.origin, self.clock, self.tls)

    @contextlib.asynccontextmanager
    async def connected(self, timeout_s: float) -> AsyncIterator[Connection]:
        """One connection, open (ConnectionBroken if it cannot be), closed on leaving."""
        conn = self.connection()
        try:
            await conn.open(timeout_s)
            yield conn
        finally:
            await conn.aclose()

    def opened(self, count: int, timeout_s: float) -> AbstractAsyncContextManager[list[Connection]]:
        """``count`` connections, all open (or none, and the failure raised), closed on leaving."""
        return pool.opened(self.connection, count, timeout_s)
