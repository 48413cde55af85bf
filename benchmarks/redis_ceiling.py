"""The reserve script's own rate on a Redis server: EVALSHA driven by ``redis-benchmark``
(Debian package ``redis-tools``) when it is installed, else by pipelined redis-py clients.

The store's ``POST /api/orders`` on Redis is decided by ``lua/reserve_many.lua`` (one call per
SKU and batch); this measures how many calls of it, one reservation each, the same Redis takes
per second when nothing else is in the way (no HTTP, no sessions, requests pipelined). Two
cases: ``created`` (stock plenty: the script takes stock and records the order) and
``sold_out`` (stock 0: the script reads and refuses). The keys used are private to this run and
deleted afterwards; the SKU is not registered, so a running store's persister never sees them.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from typing import Any, cast
from urllib.parse import urlsplit

from sniper.store.redisdb.client import connect, load_script
from sniper.store.redisdb.keys import SkuKeys, sku_keys

_ORDER = '{"order_id":"x","sku_id":"ceiling","qty":1,"user":"u","created_ms":1,"request_id":null}'
_ITEM: dict[str, Any] = {
    "name": "ceiling",
    "price_cents": 1,
    "sale_start": "2020-01-01T00:00:00+00:00",
    "sale_start_ms": 0,
    "limit_per_user": 10**9,
}


async def evalsha_rate(
    url: str, *, seconds: float, stock: int, connections: int = 8, depth: int = 64
) -> float:
    """Reserve-script calls per second for ``seconds``, ``connections`` pipelines of ``depth``."""
    client = connect(url)
    keys = sku_keys(f"ceiling-{time.monotonic_ns()}")
    try:
        sha = str(await client.script_load(load_script(client, "reserve_many").script))
        await client.hset(keys.item, mapping=cast(Any, {**_ITEM, "stock": stock}))
        end = time.monotonic() + seconds
        calls = 0

        async def drive(n: int) -> None:
            nonlocal calls
            while time.monotonic() < end:
                async with client.pipeline(transaction=False) as pipe:
                    for i in range(depth):  # a new buyer and order id each call, as at an opening
                        call = f"{n}-{calls + i}"
                        pipe.execute_command(
                            "EVALSHA",
                            sha,
                            6,
                            *keys.reserve(),
                            1,
                            f"user-{call}",
                            1,
                            "",
                            1,
                            f"order-{call}",
                            _ORDER,
                        )
                    await pipe.execute()
                calls += depth

        started = time.monotonic()
        await asyncio.gather(*(drive(n) for n in range(connections)))
        return calls / (time.monotonic() - started)
    finally:
        await client.delete(*keys)
        await client.aclose()


async def _prepare(url: str, stock: int) -> tuple[str, SkuKeys]:
    client = connect(url)
    try:
        keys = sku_keys(f"ceiling-{time.monotonic_ns()}")
        await client.hset(keys.item, mapping=cast(Any, {**_ITEM, "stock": stock}))
        sha = str(await client.script_load(load_script(client, "reserve_many").script))
        return sha, keys
    finally:
        await client.aclose()


async def _drop(url: str, keys: SkuKeys) -> None:
    client = connect(url)
    try:
        await client.delete(*keys)
    finally:
        await client.aclose()


def benchmark_rate(tool: str, url: str, *, requests: int, stock: int) -> float:
    """``redis-benchmark`` sending ``requests`` EVALSHA calls (50 clients, pipelines of 16)."""
    parts = urlsplit(url)
    sha, keys = asyncio.run(_prepare(url, stock))
    try:
        out = subprocess.run(
            [
                tool,
                "-h",
                parts.hostname or "127.0.0.1",
                "-p",
                str(parts.port),
                "-c",
                "50",
                "-P",
                "16",
                "-n",
                str(requests),
                "-q",
                # A new buyer and order id each call, as at an opening (a repeated order id is
                # answered early by the script, which would measure that shortcut instead).
                "-r",
                "1000000000",
                "EVALSHA",
                sha,
                "6",
                *keys.reserve(),
                "1",
                "user-__rand_int__",
                "1",
                "",
                "1",
                "order-__rand_int__",
                _ORDER,
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
        ).stdout
    finally:
        asyncio.run(_drop(url, keys))
    found = re.search(r"([\d.]+) requests per second", out.replace("\r", "\n"))
    if found is None:
        raise SystemExit(f"redis-benchmark said: {out[-300:]}")
    return float(found.group(1))


def ceiling(url: str, seconds: float) -> dict[str, Any]:
    """Both cases, one after the other; ``driver`` says what sent the calls."""
    tool = shutil.which("redis-benchmark")
    if tool is not None and not url.startswith("redis+cluster"):
        requests = int(seconds * 100_000)
        return {
            "driver": "redis-benchmark",
            "created": benchmark_rate(tool, url, requests=requests, stock=10**12),
            "sold_out": benchmark_rate(tool, url, requests=requests, stock=0),
        }
    return {
        "driver": "redis-py pipelines",
        "created": asyncio.run(evalsha_rate(url, seconds=seconds, stock=10**12)),
        "sold_out": asyncio.run(evalsha_rate(url, seconds=seconds, stock=0)),
    }
