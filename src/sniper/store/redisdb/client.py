"""Connecting to Redis or Redis Cluster from a store URL, the Lua scripts, what Redis's errors
mean to a caller, and how many commands may be out at once.

``redis://[:password@]HOST:PORT/DB`` is one server; ``redis+cluster://HOST:PORT`` is any node of
a cluster (the client learns the others). Scripts are files beside this module, registered once
and called by SHA (``EVALSHA``; redis-py reloads one that a restarted server has forgotten).
"""

from __future__ import annotations

import asyncio
import re
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import parse_url
from redis.commands.core import AsyncScript
from redis.exceptions import RedisClusterException, RedisError

from sniper.errors import ConfigError, OutcomeUnknown, StoreError, Unavailable
from sniper.store.backends.base import StorageErrors
from sniper.store.urls import redact_url

Client = aioredis.Redis | RedisCluster

#: Connections per server (per node on a cluster); more requests than this wait for one.
MAX_CONNECTIONS = 256
_TIMEOUTS: dict[str, Any] = {"socket_timeout": 5.0, "socket_connect_timeout": 2.0}


def connect(url: str) -> Client:
    """A client for ``url`` (no connection is made until the first command)."""
    scheme, _, rest = url.partition("://")
    shown = redact_url(url)
    try:
        parts = urlsplit(f"redis://{rest}")
        port = parts.port
    except ValueError:
        raise ConfigError(f"store: {shown!r} is not a valid Redis URL") from None
    if not parts.hostname or port is None:
        raise ConfigError(f"store: {shown!r} needs a host and a port")
    if not re.fullmatch(r"(/\d*)?", parts.path):
        raise ConfigError(f"store: {shown!r}: the database is a number, as in /0")
    if scheme == "redis+cluster" and parts.path not in ("", "/", "/0"):
        raise ConfigError(f"store: {shown!r}: a Redis Cluster has only database 0")
    try:  # redis-py reads the rest (database number, query options): its errors are ours
        parse_url(f"redis://{rest}")
        if scheme == "redis+cluster":
            return RedisCluster.from_url(
                f"redis://{rest}",
                decode_responses=True,
                max_connections=MAX_CONNECTIONS,
                **_TIMEOUTS,
            )
        pool = aioredis.BlockingConnectionPool.from_url(
            url, decode_responses=True, max_connections=MAX_CONNECTIONS, timeout=5.0, **_TIMEOUTS
        )
    except (ValueError, TypeError, RedisClusterException) as exc:
        raise ConfigError(f"store: {shown!r}: {type(exc).__name__} in the URL's options") from None
    return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


def load_script(client: Client, name: str) -> AsyncScript:
    """The script ``lua/<name>.lua``, registered with ``client`` (loaded on first call)."""
    source = resources.files(__package__).joinpath("lua", f"{name}.lua").read_text("utf-8")
    return client.register_script(source)


class RedisErrors(StorageErrors):
    """Redis's errors as the store's: only the error's class is told (a redis-py message may
    name hosts, never a client's business)."""

    kinds = (RedisError, RedisClusterException, OSError)

    def unavailable(self, exc: BaseException) -> StoreError:
        """Nothing was sent, or a call that is safe to repeat failed: try again."""
        return Unavailable(f"storage unavailable ({type(exc).__name__})", retry_after=1)

    def unknown(self, exc: BaseException) -> StoreError:
        """Sent, and then the trip failed (a timeout, a dropped connection, an error reply): the
        call may have run."""
        return OutcomeUnknown(f"storage failed after the call was sent ({type(exc).__name__})")


REDIS_ERRORS = RedisErrors()


async def check_out(pipe: Any) -> None:
    """Take a single-server pipeline's connection from the pool, connected and checked, before
    anything is written: a failure here means nothing was sent. (A cluster pipeline takes its
    nodes' connections only as it sends: every failure of one counts as after sending.)"""
    if isinstance(pipe, Pipeline) and pipe.connection is None:
        pipe.connection = await pipe.connection_pool.get_connection()  # type: ignore[no-untyped-call]


class CommandSlots(asyncio.Semaphore):
    """At most ``MAX_CONNECTIONS`` commands in flight (``async with slots:`` around each).

    redis-py's cluster client refuses a command past its connection limit instead of waiting
    for a connection, so a burst larger than the limit queues here."""

    def __init__(self, limit: int = MAX_CONNECTIONS) -> None:
        super().__init__(limit)
