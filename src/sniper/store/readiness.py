"""Readiness: whether the backend can commit an order now, for load balancers (``/readyz``).

The answer comes from a real small commit through the same path as orders (a disk that is full
or a Redis that refuses writes fails it, where a read would pass), at most one per ``ttl_s``
whatever the number of pollers, and bounded by ``timeout_s`` (a stalled storage is not ready).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from sniper.clock import Clock
from sniper.errors import StoreError, Unavailable

log = logging.getLogger(__name__)


class Readiness:
    """The last probe's verdict, renewed when older than ``ttl_s``; one probe at a time."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[None]],
        clock: Clock,
        *,
        ttl_s: float = 1.0,
        timeout_s: float = 2.0,
    ) -> None:
        self._probe, self._clock = probe, clock
        self._ttl_s, self._timeout_s = ttl_s, timeout_s
        self._checked_at = -math.inf
        self._trouble: str | None = None
        self._running: asyncio.Task[None] | None = None

    async def check(self) -> None:
        """Return if the storage committed at the last probe, else raise ``Unavailable``."""
        if self._clock.monotonic() - self._checked_at >= self._ttl_s:
            if self._running is None:
                self._running = asyncio.get_running_loop().create_task(self._run())
            await asyncio.shield(self._running)  # a poller hanging up must not cancel the probe
        if self._trouble is not None:
            raise Unavailable(f"not ready: {self._trouble}")

    async def _run(self) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._probe()
            self._trouble = None
        except TimeoutError:
            self._trouble = f"the storage did not commit within {self._timeout_s:g} s"
        except StoreError as exc:
            self._trouble = exc.message
        except Exception as exc:  # a readiness probe never answers 500
            log.exception("readiness probe failed")
            self._trouble = f"the readiness probe failed ({type(exc).__name__})"
        finally:
            self._checked_at = self._clock.monotonic()
            self._running = None
