"""A Redis lock for work that exactly one replica should do: loading the catalog and moving an
older release's keys, which replicas starting together would otherwise each do at once.

``SET NX PX`` with a random owner token; release and renew only by the owner (compare-and-delete,
compare-and-extend, each one Lua script); a fencing token from ``INCR`` handed out with every
acquisition, which whatever the lock guards checks on each write (a holder paused past its TTL
then finds its token older than the new holder's and is refused). A watchdog renews the lock
while the work runs and stops with it. The lock saves duplicate work; no stock invariant depends
on it (the reservation script alone keeps those).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator

from sniper.errors import Unavailable
from sniper.store.redisdb.client import REDIS_ERRORS, Client, CommandSlots, load_script
from sniper.store.redisdb.keys import lock_keys

#: A renewal or release that failed: Redis unreachable or refusing, for now.
_FAILED = (Unavailable, *REDIS_ERRORS.kinds)


class LockNotAcquired(Unavailable):
    """Another owner held the lock for as long as we were willing to wait."""


class LockLost(Unavailable):
    """The lock stopped being ours while its work ran (expired or fenced off)."""


class RedisLock:
    """One named lock; one acquisition at a time per instance."""

    def __init__(
        self, client: Client, slots: CommandSlots, name: str, ttl_ms: int = 10_000
    ) -> None:
        self.name, self.ttl_ms = name, ttl_ms
        self._key, self._fencing = lock_keys(name)
        self._slots = slots
        self._acquire = load_script(client, "lock_acquire")
        self._release = load_script(client, "lock_release")
        self._renew = load_script(client, "lock_renew")
        self.token: str | None = None
        self.fence = 0
        #: Set when a renewal found the lock no longer ours (expired, or taken over).
        self.lost = asyncio.Event()

    async def acquire(self) -> int | None:
        """Take the lock if it is free: the fencing token, or None."""
        token = secrets.token_hex(16)
        async with self._slots:
            fence = int(
                await self._acquire(keys=[self._key, self._fencing], args=[token, self.ttl_ms])
            )
        if fence == 0:
            return None
        self.token, self.fence = token, fence
        self.lost.clear()
        return fence

    async def renew(self) -> bool:
        """Extend the TTL if we still own the lock."""
        if self.token is None:
            return False
        async with self._slots:
            return bool(await self._renew(keys=[self._key], args=[self.token, self.ttl_ms]))

    async def release(self) -> bool:
        """Delete the lock if we still own it; False if it was no longer ours."""
        if self.token is None:
            return False
        token, self.token = self.token, None
        async with self._slots:
            return bool(await self._release(keys=[self._key], args=[token]))

    async def _watchdog(self, done: asyncio.Event) -> None:
        """Renew at a third of the TTL until ``done`` or the lock is found lost: taken by
        another owner, or not renewed for a whole TTL. Each renewal may take a third of the TTL
        at most, and a failed one is tried again sooner, so one slow or failed renewal (Redis
        unreachable for a moment) does not lose a lock whose TTL still runs."""
        loop = asyncio.get_running_loop()
        ttl_s = self.ttl_ms / 1000
        period = ttl_s / 3
        renewed_at, delay = loop.time(), period
        # Ends on ``done``, not on the cancel alone: on Python 3.11 a cancel that lands as a
        # Redis command completes is lost (redis-py's wait_for), and held() would wait for ever.
        while not done.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await done.wait()
            if done.is_set():
                return
            try:
                async with asyncio.timeout(period):
                    kept = await self.renew()
            except (TimeoutError, *_FAILED):
                left = renewed_at + ttl_s - loop.time()
                if left <= 0:
                    break
                delay = left / 3
                continue
            if not kept:
                break
            renewed_at, delay = loop.time(), period
        self.lost.set()

    @contextlib.asynccontextmanager
    async def held(self, *, wait_s: float, poll_s: float = 0.05) -> AsyncIterator[int]:
        """Hold the lock (waiting up to ``wait_s`` for it), renewed by the watchdog; yields the
        fencing token and releases on exit."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_s
        fence = await self.acquire()
        while fence is None:
            if loop.time() >= deadline:
                raise LockNotAcquired(f"lock {self.name!r} still held by another owner")
            await asyncio.sleep(poll_s)
            fence = await self.acquire()
        done = asyncio.Event()
        watchdog = asyncio.create_task(self._watchdog(done))
        try:
            yield fence
        finally:
            done.set()
            watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watchdog
            # A release that fails must not hide the work's own error: the TTL ends the lock.
            with contextlib.suppress(*_FAILED):
                await self.release()
