"""Order rate limits shared by every replica: token buckets in Redis, taken by one script
(``lua/take_token.lua``) on Redis's own clock, so that a limit holds however a load balancer
spreads the requests. One bucket per user, and one for all orders."""

from __future__ import annotations

from sniper.store.redisdb.batch import ScriptBatcher
from sniper.store.redisdb.client import Client, CommandSlots, load_script
from sniper.store.redisdb.keys import bucket_key


class SharedBucket:
    """``take(name)`` → 0 when a token was taken from ``name``'s bucket, else seconds until
    one is there. ``kind`` names the family of buckets (``user``, ``all``)."""

    def __init__(
        self, client: Client, slots: CommandSlots, kind: str, rate_per_s: float, burst: int
    ) -> None:
        self.kind, self.rate_per_s, self.burst = kind, rate_per_s, burst
        self._take = ScriptBatcher(client, slots, load_script(client, "take_token"))

    async def take(self, name: str = "") -> float:
        """Take one token, or say how long to wait for one."""
        wait_ms = await self._take([bucket_key(self.kind, name)], [self.rate_per_s, self.burst])
        return int(wait_ms) / 1000

    async def wait(self, name: str = "") -> float:
        """How long until ``name``'s bucket has a token (0: now); takes none."""
        wait_ms = await self._take(
            [bucket_key(self.kind, name)], [self.rate_per_s, self.burst, "peek"]
        )
        return int(wait_ms) / 1000
