"""The per-user order rate limit, shared by every replica: one token bucket per user in Redis,
taken by one script (``lua/take_token.lua``) on Redis's own clock, so the limit holds however a
load balancer spreads one user's requests."""

from __future__ import annotations

from sniper.store.redisdb.batch import ScriptBatcher
from sniper.store.redisdb.client import Calls, Client, load_script
from sniper.store.redisdb.keys import bucket_key


class SharedUserLimiter:
    """``take(user)`` → 0 when a token was taken, else seconds until one is there."""

    def __init__(self, client: Client, calls: Calls, rate_per_s: float, burst: int) -> None:
        self.rate_per_s, self.burst = rate_per_s, burst
        self._take = ScriptBatcher(client, calls, load_script(client, "take_token"))

    async def take(self, user: str) -> float:
        """Take one token from ``user``'s bucket, or say how long to wait for one."""
        wait_ms = await self._take([bucket_key(user)], [self.rate_per_s, self.burst])
        return int(wait_ms) / 1000
