"""CPU per order of the SQLite backend as its file grows: the store's one index keyed by user
beside the two of the previous release, in the same run.

    python benchmarks/sqlite_orders.py [--chunks 5] [--chunk 40000] [--users 1000]

Two files, each opened by the store's own ``SqliteBackend`` (group commit, ``synchronous=FULL``);
the second is given the previous release's indexes (``orders_by_user (username, sku_id)`` and a
partial unique ``orders_by_item_request``) in place of the one. Chunks of orders go to each in
turn, from 64 callers at once (so that group commit batches them, as at an opening), the buyers
taken round-robin from ``--users`` (every order a user's next, as a flood of many buyers gives),
each with a request id the store would make. What is timed is the process's CPU per order (the
commit thread's included), per chunk, as the files grow.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sqlite3
import tempfile
import time
from pathlib import Path

import uvloop

from sniper.clock import SystemClock
from sniper.store.backends import SqliteBackend
from sniper.store.models import Item
from sniper.store.rules import Outcome, Reservation
from sniper.store.service import RequestIds

CALLERS = 64
SKU = "flood-stock-benchmark"
#: The previous release's indexes keyed by user, in place of the one.
PREVIOUS = (
    "DROP INDEX orders_by_user",
    "CREATE INDEX orders_by_user ON orders (username, sku_id)",
    "CREATE UNIQUE INDEX orders_by_item_request ON orders (username, sku_id, request_id)"
    " WHERE request_id IS NOT NULL",
)


async def opened(path: Path, previous: bool) -> SqliteBackend:
    """A store file with one item of endless stock, its indexes as named."""
    backend = SqliteBackend(path, SystemClock())
    await backend.open()
    await backend.put_item(Item(SKU, SKU, 1, 10**9, "2020-01-01T00:00:00+00:00", 0, 10**6))
    if previous:
        with sqlite3.connect(path) as conn:
            for statement in PREVIOUS:
                conn.execute(statement)
    return backend


async def chunk(
    backend: SqliteBackend, count: int, buyers: itertools.cycle[str], ids: RequestIds
) -> float:
    """CPU microseconds per order for ``count`` orders."""
    each = count // CALLERS

    async def caller() -> None:
        for _ in range(each):
            reservation = Reservation(next(buyers), SKU, 1, ids.next(), fresh_id=True)
            result = await backend.reserve(reservation)
            assert result.outcome is Outcome.CREATED, result

    started = time.process_time()
    await asyncio.gather(*(caller() for _ in range(CALLERS)))
    return (time.process_time() - started) / (each * CALLERS) * 1e6


async def measure(chunks: int, size: int, users: int) -> dict[str, list[float]]:
    """Per layout, CPU microseconds per order of each chunk in turn."""
    with tempfile.TemporaryDirectory() as folder:
        layouts = {
            "one index": await opened(Path(folder) / "one.db", previous=False),
            "two (previous)": await opened(Path(folder) / "two.db", previous=True),
        }
        names = [f"user-{n:05d}" for n in range(users)]
        buyers = {name: itertools.cycle(names) for name in layouts}
        ids = RequestIds()
        found: dict[str, list[float]] = {name: [] for name in layouts}
        try:
            for _ in range(chunks):
                for name, backend in layouts.items():
                    found[name].append(await chunk(backend, size, buyers[name], ids))
        finally:
            for backend in layouts.values():
                await backend.aclose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=40000, help="orders a chunk")
    parser.add_argument("--users", type=int, default=1000)
    args = parser.parse_args()
    found = uvloop.run(measure(args.chunks, args.chunk, args.users))
    print(f"sqlite_orders: CPU µs per order, chunks of {args.chunk}, {args.users} buyers")
    print(
        f"{'orders in the file':>20}" + "".join(f"{name:>16}" for name in found) + f"{'ratio':>8}"
    )
    one, two = found.values()
    for n, (a, b) in enumerate(zip(one, two, strict=True), 1):
        print(f"{n * args.chunk:>20,}{a:16.1f}{b:16.1f}{b / a:8.2f}")


if __name__ == "__main__":
    main()
