"""Which PostgreSQL driver for the store's hot path: asyncpg or psycopg 3 (async).

The hot path on PostgreSQL is many reservations of ONE item arriving together, decided in one
transaction per batch. Each reservation takes stock if enough is left and inserts an order row
with a unique request id (``ON CONFLICT DO NOTHING``: a replay takes nothing). Two ways to send a
batch, each with both drivers, one connection, against a private server (tests/pg_servers.py):

- ``function``: the batch as one call of a server-side function with arrays (one round trip).
- ``statements``: ``BEGIN``, lock the item row, one statement per reservation, ``COMMIT``; psycopg
  sends them in its pipeline mode (one round trip); asyncpg has no pipeline that returns each
  statement's rows, so it awaits each statement in turn.

Prints reservations/s and p50/p99 batch latency for each batch size, and the ratio of psycopg to
asyncpg measured in the same run (interleaved rounds, the median round shown).

    .venv/bin/pip install -e '.[dev]'   # asyncpg (the test extra) and psycopg (dev)
    .venv/bin/python benchmarks/pg_drivers.py [--seconds 1] [--rounds 3] [--sizes 1,16,128]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.pg_servers import pg_server

SCHEMA = """
CREATE TABLE items (id text PRIMARY KEY, stock bigint NOT NULL);
CREATE TABLE orders (
    request_id text PRIMARY KEY,
    item_id text NOT NULL,
    user_id text NOT NULL,
    qty int NOT NULL
);
-- One batch of reservations of one item, in arrival order: 0 taken, 1 replay, 2 sold out.
CREATE FUNCTION reserve_batch(item text, rids text[], users text[], qtys int[])
RETURNS int[] LANGUAGE plpgsql AS $$
DECLARE
    left_ bigint;
    taken bigint := 0;
    out_ int[] := '{}';
BEGIN
    SELECT stock INTO left_ FROM items WHERE id = item FOR UPDATE;
    FOR i IN 1 .. coalesce(array_length(rids, 1), 0) LOOP
        IF left_ - taken < qtys[i] THEN
            out_ := out_ || 2;
            CONTINUE;
        END IF;
        INSERT INTO orders VALUES (rids[i], item, users[i], qtys[i]) ON CONFLICT DO NOTHING;
        IF FOUND THEN
            taken := taken + qtys[i];
            out_ := out_ || 0;
        ELSE
            out_ := out_ || 1;
        END IF;
    END LOOP;
    UPDATE items SET stock = stock - taken WHERE id = item;
    RETURN out_;
END $$;
"""

CALL = "SELECT reserve_batch($1, $2, $3, $4)"
LOCK = "SELECT stock FROM items WHERE id = $1 FOR UPDATE"
#: One reservation; the row lock taken at the batch's start makes the stock it reads current.
ONE = """
WITH ins AS (
    INSERT INTO orders SELECT $2::text, $1::text, $3::text, $4::int
    FROM items WHERE id = $1::text AND stock >= $4::int
    ON CONFLICT DO NOTHING RETURNING qty)
UPDATE items SET stock = stock - ins.qty FROM ins WHERE items.id = $1::text RETURNING items.stock
"""
ITEM = "hot"
STOCK = 10**12

Batch = list[tuple[str, str, int]]
Runner = Callable[[Batch], Awaitable[None]]


def _psycopg(sql: str) -> str:
    """The same statement with psycopg's ``%s`` placeholders (in order of use here)."""
    for n in range(4, 0, -1):
        sql = sql.replace(f"${n}", f"%(p{n})s")
    return sql


async def asyncpg_runners(url: str) -> tuple[Runner, Runner, Callable[[], Awaitable[None]]]:
    """The two ways of sending a batch with asyncpg, and how to close its connection."""
    conn = await asyncpg.connect(url)
    call, lock, one = [await conn.prepare(s) for s in (CALL, LOCK, ONE)]

    async def function(batch: Batch) -> None:
        rids, users, qtys = zip(*batch, strict=True)
        await call.fetchval(ITEM, list(rids), list(users), list(qtys))

    async def statements(batch: Batch) -> None:
        async with conn.transaction():
            await lock.fetchval(ITEM)
            for rid, user, qty in batch:
                await one.fetchval(ITEM, rid, user, qty)

    return function, statements, conn.close


async def psycopg_runners(url: str) -> tuple[Runner, Runner, Callable[[], Awaitable[None]]]:
    """The two ways of sending a batch with psycopg (the second in its pipeline mode)."""
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True, prepare_threshold=0)
    call = "SELECT reserve_batch(%s, %s, %s, %s)"
    lock, one = _psycopg(LOCK), _psycopg(ONE)

    async def function(batch: Batch) -> None:
        rids, users, qtys = zip(*batch, strict=True)
        cur = await conn.execute(call, (ITEM, list(rids), list(users), list(qtys)))
        await cur.fetchone()

    async def statements(batch: Batch) -> None:
        async with conn.pipeline(), conn.transaction():
            await conn.execute(lock, {"p1": ITEM})
            curs = [
                await conn.execute(one, {"p1": ITEM, "p2": rid, "p3": user, "p4": qty})
                for rid, user, qty in batch
            ]
        for cur in curs:
            await cur.fetchall()

    return function, statements, conn.close


async def measure(
    run: Runner, size: int, seconds: float, ids: itertools.count[int]
) -> dict[str, Any]:
    """Batches of ``size`` fresh reservations for ``seconds``: reservations/s and latencies."""
    latencies: list[float] = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        batch = [(f"r{n}", f"u{n % 1000}", 1) for n in itertools.islice(ids, size)]
        t0 = time.perf_counter()
        await run(batch)
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - start
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "per_s": len(latencies) * size / elapsed,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
    }


async def bench(url: str, sizes: list[int], seconds: float, rounds: int) -> None:
    """Every (mode, size): both drivers in interleaved rounds, the median round of each shown."""
    setup = await asyncpg.connect(url)
    await setup.execute(SCHEMA)
    await setup.execute("INSERT INTO items VALUES ($1, $2)", ITEM, STOCK)
    await setup.close()
    drivers = {"asyncpg": await asyncpg_runners(url), "psycopg": await psycopg_runners(url)}
    ids = itertools.count()
    print(f"{'mode':<11}{'batch':>6}  {'driver':<8}{'resv/s':>10}{'p50 ms':>9}{'p99 ms':>9}  ratio")
    for mode, size in itertools.product(("function", "statements"), sizes):
        runs = {name: r[0] if mode == "function" else r[1] for name, r in drivers.items()}
        for run in runs.values():
            await measure(run, size, min(0.3, seconds), ids)  # warm-up: plans, caches
        found: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
        for _ in range(rounds):
            for name, run in runs.items():
                found[name].append(await measure(run, size, seconds, ids))
        median = {name: _median(results) for name, results in found.items()}
        ratio = median["psycopg"]["per_s"] / median["asyncpg"]["per_s"]
        for name, r in median.items():
            tail = f"  psycopg/asyncpg {ratio:.2f}" if name == "psycopg" else ""
            print(
                f"{mode:<11}{size:>6}  {name:<8}{r['per_s']:>10.0f}"
                f"{r['p50_ms']:>9.2f}{r['p99_ms']:>9.2f}{tail}"
            )
    for _, _, close in drivers.values():
        await close()


def _median(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median throughput."""
    ranked = sorted(results, key=lambda r: float(r["per_s"]))
    return ranked[len(ranked) // 2]


def main() -> None:
    """Starts a private PostgreSQL, runs the comparison, stops it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="per round, driver, mode, size")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median shown)")
    parser.add_argument("--sizes", default="1,16,128", help="batch sizes, comma-separated")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with pg_server() as server:
        print(
            f"PostgreSQL at {server.url}: {args.rounds} interleaved rounds of {args.seconds} s "
            "per driver, mode and batch size (median round)"
        )
        asyncio.run(bench(server.url, sizes, args.seconds, args.rounds))


if __name__ == "__main__":
    main()
