"""Every store backend the backend-parametrized suites run on, in one table.

Each entry is a backend's name (also its pytest mark), how a test gets a private, empty store of
it, and how to read everything it holds (the proof that a refused request changed nothing). The
``settings`` fixture (tests/conftest.py) reads the table; a suite runs on every backend with
``pytestmark = every_backend``, and a new backend is proven everywhere by one entry here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, cast
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis
from redis.cluster import RedisCluster

from sniper.store.redisdb.keys import bucket_key
from tests.pg_servers import run_sync

#: Everything a store holds, by table (SQLite) or by key (Redis), in a comparable form.
Snapshot = dict[str, Any]


def sqlite_snapshot(url: str) -> Snapshot:
    """Every row of every table of the SQLite file."""
    with sqlite3.connect(Path(url.removeprefix("sqlite:///"))) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}


def redis_snapshot(url: str) -> Snapshot:
    """Every key of every primary (one server, or each node of a cluster): its type, its whole
    value and whether it expires. Not the order rate limits' buckets: a refused request takes its
    token on every backend (on SQLite from the process's memory, which no snapshot sees). Not an
    empty stream either (no entry, none pending): the order persister makes one for each new item
    on its first look (``XGROUP CREATE … MKSTREAM``), in the background, whenever it gets to it."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    if parts.scheme == "redis+cluster":
        with RedisCluster(host=host, port=port, decode_responses=True) as cluster:
            return _read_all([cluster.get_redis_connection(n) for n in cluster.get_primaries()])
    with redis.Redis(host=host, port=port, decode_responses=True) as server:
        return _read_all([server])


#: Where the rate limiters keep their buckets (:func:`bucket_key`'s common prefix).
_BUCKETS = bucket_key("", "").removesuffix(":")


def _read_all(servers: list[redis.Redis]) -> Snapshot:
    found = {
        key: _read_key(server, key)
        for server in servers
        for key in server.scan_iter(count=1000)
        if not key.startswith(_BUCKETS)
    }
    return {key: value for key, value in found.items() if not _empty_stream(value)}


def _empty_stream(value: tuple[str, Any, bool]) -> bool:
    kind, content, _ = value
    if kind != "stream":
        return False
    entries, groups = content
    return not entries and not any(pending for *_, pending in groups)


def _read_key(server: redis.Redis, key: str) -> tuple[str, Any, bool]:
    kind = cast("str", server.type(key))
    value: Any
    if kind == "string":
        value = server.get(key)
    elif kind == "hash":
        value = sorted(server.hgetall(key).items())
    elif kind == "set":
        value = sorted(server.smembers(key))
    elif kind == "zset":
        value = server.zrange(key, 0, -1, withscores=True)
    elif kind == "list":
        value = server.lrange(key, 0, -1)
    elif kind == "stream":
        value = (server.xrange(key), _stream_groups(server, key))
    else:
        raise AssertionError(f"the snapshot cannot read {key!r}, a {kind}")
    return kind, value, server.pttl(key) >= 0


def _stream_groups(server: redis.Redis, key: str) -> list[tuple[Any, ...]]:
    """Each consumer group's position and pending entries (with their consumer and deliveries);
    not the times a consumer last looked, which the order persister's idle polls move."""
    groups = []
    for group in server.xinfo_groups(key):
        pending = (
            server.xpending_range(key, group["name"], "-", "+", group["pending"])
            if group["pending"]
            else []
        )
        groups.append(
            (
                group["name"],
                group["last-delivered-id"],
                group.get("entries-read"),
                [(p["message_id"], p["consumer"], p["times_delivered"]) for p in pending],
            )
        )
    return groups


def pg_snapshot(url: str) -> Snapshot:
    """Every row of every table of the database's ``public`` schema."""
    return run_sync(_pg_rows(url))


async def _pg_rows(url: str) -> Snapshot:
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
        )
        return {
            t: sorted(tuple(r.values()) for r in await conn.fetch(f"SELECT * FROM {t}"))
            for (t,) in tables
        }
    finally:
        await conn.close()


class StoreBackend(NamedTuple):
    """How the tests meet one backend."""

    #: The ``--store`` URL of a private store, emptied for this test.
    url: Callable[[pytest.FixtureRequest, Path], str]
    #: Everything the store at that URL holds.
    snapshot: Callable[[str], Snapshot]


BACKENDS: dict[str, StoreBackend] = {
    "sqlite": StoreBackend(lambda _, tmp: f"sqlite:///{tmp / 'store.db'}", sqlite_snapshot),
    "redis": StoreBackend(lambda request, _: request.getfixturevalue("redis_url"), redis_snapshot),
    "cluster": StoreBackend(
        lambda request, _: request.getfixturevalue("cluster_url"), redis_snapshot
    ),
    "postgres": StoreBackend(
        lambda request, _: request.getfixturevalue("pg_empty_url"), pg_snapshot
    ),
}

#: One parameter per backend, carrying the pytest mark of its name (``-m "not cluster"``).
BACKEND_PARAMS = [pytest.param(name, marks=getattr(pytest.mark, name)) for name in BACKENDS]

#: Runs a test (module, class) once per backend: the ``settings`` and ``store`` fixtures then
#: name each backend in turn.
every_backend = pytest.mark.parametrize("store_backend", BACKEND_PARAMS, indirect=True)


def xfail_on(request: pytest.FixtureRequest, backends: tuple[str, ...], reason: str) -> None:
    """Expect this case to fail on ``backends`` (strict: a pass fails the run): a difference
    between backends that is known and reported, never hidden by a weaker assertion."""
    if request.getfixturevalue("store_backend") in backends:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))
