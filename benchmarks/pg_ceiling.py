"""The PostgreSQL store's reservation step without HTTP: the grouped step beside the naive one.

Both are driven the same way, straight from Python: ``clients`` tasks, each placing one order
after another on ONE hot item (``await backend.reserve(...)``, a new user and request id each
time), through a pool of ``pool_size`` connections to the same server:

- ``grouped``: the store's :class:`PostgresBackend` (its batcher: the orders of a turn of the
  event loop as one call of ``sniper_reserve``, one transaction);
- ``naive``: :class:`pg_naive.NaivePostgresBackend`, one transaction per order.

This is what the server and the driver can do for each step with the store's Python around the
call but no HTTP, sessions or JSON: the rest of the store's time goes there. The mean batch the
grouped step sent is counted too (calls carried / batches).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from typing import Any

from pg_naive import NaivePostgresBackend
from sniper.clock import SystemClock
from sniper.store.models import Item
from sniper.store.pgdb.backend import PostgresBackend
from sniper.store.rules import Outcome, Reservation

#: Enough that no user reaches the limit, and the item never sells out during a run.
_LIMIT = 2_000_000_000
_STOCK = 10**15
_USERS = 1000


async def drive(
    backend: PostgresBackend, sku: str, *, clients: int, seconds: float, tag: str
) -> dict[str, Any]:
    """``clients`` concurrent buyers for ``seconds``: orders created per second, latencies."""
    numbers = itertools.count()
    latencies: list[float] = []
    created = 0
    end = time.perf_counter() + seconds

    async def buyer() -> None:
        nonlocal created
        while time.perf_counter() < end:
            n = next(numbers)
            t0 = time.perf_counter()
            result = await backend.reserve(Reservation(f"user-{n % _USERS}", sku, 1, f"{tag}-{n}"))
            latencies.append(time.perf_counter() - t0)
            created += result.outcome is Outcome.CREATED

    start = time.perf_counter()
    await asyncio.gather(*(buyer() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "created_per_s": created / elapsed,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
    }


async def _measure(
    url: str, *, clients: int, pool_size: int, seconds: float, rounds: int, tag: str
) -> dict[str, Any]:
    clock = SystemClock()
    grouped = PostgresBackend(url, clock, pool_size=pool_size)
    naive = NaivePostgresBackend(url, clock, pool_size=pool_size, timeout_s=5.0)
    steps: dict[str, PostgresBackend] = {"grouped": grouped, "naive": naive}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in steps}
    for backend in steps.values():
        await backend.open()
    try:
        for name, backend in steps.items():
            sku = f"ceiling-{name}-{tag}"
            await backend.put_item(
                Item(sku, sku, 1, _STOCK, "2020-01-01T00:00:00+00:00", 0, _LIMIT)
            )
            await drive(backend, sku, clients=clients, seconds=min(1.0, seconds), tag=f"w{tag}")
        batches, carried = grouped._reserve.batches, grouped._reserve.carried
        for r in range(rounds):
            for name, backend in steps.items():
                sku = f"ceiling-{name}-{tag}"
                found = await drive(backend, sku, clients=clients, seconds=seconds, tag=f"{tag}{r}")
                runs[name].append(found)
        batches = grouped._reserve.batches - batches
        carried = grouped._reserve.carried - carried
    finally:
        for backend in steps.values():
            await backend.aclose()
    best = {name: _median(found) for name, found in runs.items()}
    return {
        **best,
        "rounds": {
            name: [round(f["created_per_s"]) for f in found] for name, found in runs.items()
        },
        "mean_batch": carried / batches if batches else 0.0,
        "grouped_to_naive": best["grouped"]["created_per_s"] / best["naive"]["created_per_s"],
        "clients": clients,
        "pool_size": pool_size,
    }


def ceiling(
    url: str, *, clients: int, pool_size: int, seconds: float, rounds: int, tag: str
) -> dict[str, Any]:
    """Both steps in interleaved rounds on fresh items named after ``tag``; the median rounds,
    their ratio, and the grouped step's mean batch."""
    return asyncio.run(
        _measure(url, clients=clients, pool_size=pool_size, seconds=seconds, rounds=rounds, tag=tag)
    )


def _median(found: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(found, key=lambda f: float(f["created_per_s"]))[len(found) // 2]
