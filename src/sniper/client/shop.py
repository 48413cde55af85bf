"""The shop one task talks to: its platform, where it is, and how to reach it. Built once a run."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterator, Hashable
from contextlib import AbstractAsyncContextManager

from sniper.client import pool
from sniper.client.config import TaskConfig
from sniper.client.connection import Connection, Origin, ssl_context
from sniper.client.platforms import Platform, platform_for
from sniper.client.probe import TimeSource
from sniper.clock import Clock


class Shop:
    """A task's platform (with its cookie), origin and TLS context; connections to it; and
    where its clock is read (a time endpoint, on this origin or another, or the ``Date``
    header of this origin's answers)."""

    def __init__(self, task: TaskConfig, cookie: str | None, clock: Clock) -> None:
        self.platform: Platform = platform_for(task, cookie)
        self.origin = self.platform.origin
        self.tls = ssl_context(self.origin, task.ca_file)
        self.clock = clock
        endpoint = self.platform.time_endpoint()
        self.time = TimeSource(endpoint, self.platform.warm_call())
        self.clock_origin = endpoint.origin if endpoint is not None else self.origin
        self._clock_tls = (
            self.tls if not self.clock_apart else ssl_context(self.clock_origin, task.ca_file)
        )

    @property
    def clock_apart(self) -> bool:
        """The clock is read on another origin than the orders go to: the answers on the
        burst's connections are another server's, no samples of that clock."""
        return self.clock_origin != self.origin

    @property
    def clock_key(self) -> Hashable:
        """What identifies this clock among a run's tasks (they share its measurements)."""
        return self.time.endpoint or self.origin

    @property
    def clock_source(self) -> str:
        """Where the clock is read, as shown."""
        if self.time.endpoint is None:
            return f"Date header of {self.origin.host_header}"
        return self.time.endpoint.name

    def connection(self) -> Connection:
        """A new connection, not yet open."""
        return Connection(self.origin, self.clock, self.tls)

    def connected(self, timeout_s: float) -> AbstractAsyncContextManager[Connection]:
        """One connection, open (ConnectionBroken if it cannot be), closed on leaving."""
        return self._connected(self.origin, self.tls, timeout_s)

    def clock_connected(self, timeout_s: float) -> AbstractAsyncContextManager[Connection]:
        """One connection to where the clock is read, as :meth:`connected`."""
        return self._connected(self.clock_origin, self._clock_tls, timeout_s)

    @contextlib.asynccontextmanager
    async def _connected(
        self, origin: Origin, tls: ssl.SSLContext | None, timeout_s: float
    ) -> AsyncIterator[Connection]:
        conn = Connection(origin, self.clock, tls)
        try:
            await conn.open(timeout_s)
            yield conn
        finally:
            await conn.aclose()

    def opened(self, count: int, timeout_s: float) -> AbstractAsyncContextManager[list[Connection]]:
        """``count`` connections, all open (or none, and the failure raised), closed on leaving."""
        return pool.opened(self.connection, count, timeout_s)
