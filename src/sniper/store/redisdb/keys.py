"""Key names. Every key of one SKU carries the SKU as its hash tag (``{sku}``), so that the
reservation script, which touches them all, runs on one Redis Cluster node."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, cast

if TYPE_CHECKING:
    from sniper.store.redisdb.client import Client, CommandSlots

PREFIX = "sniper"
#: Every SKU ever stored (listing orders of every item); a key of its own slot.
SKUS = f"{PREFIX}:skus"


async def known_skus(client: Client, slots: CommandSlots) -> list[str]:
    """Every SKU ever stored, sorted."""
    async with slots:
        return sorted(cast("set[str]", await client.smembers(SKUS)))


class SkuKeys(NamedTuple):
    """The keys of one SKU, in the order the scripts take them."""

    item: str
    bought: str
    replays: str
    orders: str
    stream: str
    by_user: str
    fence: str

    def reserve(self) -> list[str]:
        """The keys of ``lua/reserve_many.lua``, in its order."""
        return [self.item, self.bought, self.replays, self.orders, self.stream, self.by_user]


def sku_keys(sku_id: str) -> SkuKeys:
    """The keys of ``sku_id`` (letters, digits, ``-``, ``_``: never a brace)."""
    tag = f"{{{sku_id}}}"
    return SkuKeys(
        *(
            f"{PREFIX}:{kind}:{tag}"
            for kind in ("item", "bought", "replays", "orders", "stream", "byuser", "fence")
        )
    )


#: The revocation log (a stream) every replica reads to drop revoked sessions from its cache.
REVOKED = f"{PREFIX}:revoked"


def ready_key(sku_id: str | None = None) -> str:
    """Written by the readiness probe: one key, and one in each SKU's slot (on a cluster, the
    nodes that commit those SKUs' orders)."""
    return f"{PREFIX}:ready" if sku_id is None else f"{PREFIX}:ready:{{{sku_id}}}"


def user_key(user: str) -> str:
    """A user's password hash ("" for a session-only user); tagged with the user, like
    :func:`user_sessions_key`, so that one script sees both."""
    return f"{PREFIX}:user:{{{user}}}"


def legacy_user_key(user: str) -> str:
    """Where releases before the per-user hash tag kept a user's password hash: read when
    :func:`user_key` is missing, and moved there at start-up."""
    return f"{PREFIX}:user:{user}"


def user_sessions_key(user: str) -> str:
    """The token hashes of a user's sessions, scored by expiry (a sorted set), to revoke them
    all."""
    return f"{PREFIX}:usersessions:{{{user}}}"


#: Set once the sessions and users of releases before the per-user set have been moved.
MIGRATED = f"{PREFIX}:migrated:user-sessions"


def session_key(token_hash: str) -> str:
    """A session, by the hash of its token."""
    return f"{PREFIX}:session:{token_hash}"


def bucket_key(kind: str, name: str = "") -> str:
    """An order-rate token bucket shared by every replica: a user's (``user``, name), or the
    one for all orders (``all``)."""
    return f"{PREFIX}:bucket:{kind}:{name}"


def lock_keys(name: str) -> tuple[str, str]:
    """A lock and its fencing counter (one hash tag: one script touches both)."""
    return f"{PREFIX}:lock:{{{name}}}", f"{PREFIX}:fencing:{{{name}}}"
