"""Flood the store the way an opening does, beside the ceiling of its server stack.

Prints, from one run on this machine:

* ceiling:  a five-line raw ASGI app (benchmarks/raw_asgi.py) on the same uvicorn, same workers,
            and on granian; the better of the two is the ceiling of every ratio;
* orders:   the store's ``POST /api/orders`` answered 201 per second while stock lasts;
* sold out: the same requests once the item is gone (the flood that is most of a real opening);

each with its ratio to the ceiling. The load comes from ``wrk`` (Debian package ``wrk``) in a
second process, with the same request bytes for all three (POST, JSON body, session cookie).

With ``--store redis://HOST:PORT/DB`` the store runs on that Redis (use an empty database: the run
leaves its items and orders there), its persister copying into a temporary SQLite file, and the
same Redis's own ceiling is measured too: the reserve script's EVALSHA rate without HTTP
(benchmarks/redis_ceiling.py). ``--store redis`` alone starts a private Redis for the run
(tests/redis_servers.py: ``appendonly yes``, ``appendfsync always``: each write on disk before the
answer). With ``--peer`` (standalone Redis only), the **textbook store** (benchmarks/peer_store.py:
FastAPI, redis-py, one Lua script that checks a buyer set, decrements and adds the buyer) runs
beside it on the same uvicorn, one Redis and its own keys, driven in the same rounds by the same
``wrk`` with the same request bytes and connections: its orders while stock lasts and its sold-out
flood, and the store's ratio to it beside the ratio to the ceiling. The peer's sessions are plain
Redis keys seeded by the run, one fresh buyer per order (its script refuses a second order of a
buyer), and a fresh item per measured run.

With ``--store postgresql://USER@HOST:PORT/DB`` the store runs on that PostgreSQL (the run leaves
its items, users and orders there); ``--store postgresql`` alone starts a private server for the
run (tests/pg_servers.py: a temporary cluster, ``fsync`` and ``synchronous_commit`` on). Beside
the store, on the same PostgreSQL and in the same rounds, the **naive step**: one transaction per
order (``UPDATE items … WHERE stock >= 1``, row count checked, then ``INSERT INTO orders``,
``COMMIT``; benchmarks/pg_naive.py), driven by the same ``wrk`` with the same connections against
one hot item of its own. The naive step runs *inside the same store*: the same uvicorn,
protocol, sessions, service and pool size (``--pg-pool-size``), only the backend's ``reserve``
replaced. That is the like-for-like comparison: the store's figure comes through HTTP, so the
naive one does too, and both pay the same for it; the ratio is the grouping's gain as a client of
the store sees it. Then both steps are driven directly from Python with the same number of
concurrent clients and the same pool, no HTTP (benchmarks/pg_ceiling.py), which shows what the
grouping gains where only the database and driver are in the way, and where the store's time
goes. For the HTTP runs on PostgreSQL the script also reads the server's next transaction id
before and after each measured run (each writing transaction takes one): orders per writing
transaction is the batch size the store achieved under HTTP load; and the CPU time of the store
process and (private server) of PostgreSQL's processes over the run.

    python benchmarks/store_flood.py [--workers 1] [--connections 64] [--duration 5]
                                     [--store redis[://127.0.0.1:6379/0] [--peer] | postgresql[://…]]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.pg_servers import PgServer, pg_server
from tests.redis_servers import redis_server

from pg_ceiling import ceiling as pg_ceiling
from procs import free_port, running
from redis_ceiling import ceiling

HERE = Path(__file__).resolve().parent
ADMIN_TOKEN = "bench-admin-token"  # noqa: S105  # a throwaway store on loopback
PG_SCHEMES = ("postgresql", "postgres")
#: The peer's buyers per second the run provides for (one fresh buyer per order): far above what
#: one textbook worker reaches; a run that used them all would show 409s in the peer's orders.
PEER_MAX_RPS = 20_000
#: What a probe counts at one moment (CPU seconds, transaction ids); a run reports the differences.
Probe = Callable[[], dict[str, float]]


def wrk(
    port: int, tokens: Path, sku: str, args: argparse.Namespace, seconds: float
) -> dict[str, Any]:
    """One wrk run: requests/s, status counts, latency percentiles."""
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{seconds:g}s",
        "--timeout",
        "10s",
        "-s",
        str(HERE / "flood.lua"),
        f"http://127.0.0.1:{port}",
        "--",
        str(tokens),
        sku,
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    status = json.loads(re.search(r"^STATUS (.*)$", out, re.M).group(1))  # type: ignore[union-attr]
    latency = json.loads(re.search(r"^LATENCY (.*)$", out, re.M).group(1))  # type: ignore[union-attr]
    return {"rps": rps, "status": status, **latency}


def measure(
    port: int,
    tokens: Path,
    sku: str,
    args: argparse.Namespace,
    probe: Probe | None = None,
    *,
    warm_sku: str | None = None,
) -> dict[str, Any]:
    """A short warm-up (on ``warm_sku`` if given), then the measured run, with what ``probe``
    counted over it."""
    wrk(port, tokens, warm_sku or sku, args, 1)
    before = probe() if probe is not None else {}
    found = wrk(port, tokens, sku, args, args.duration)
    if probe is not None:
        after = probe()
        found["during"] = {key: after[key] - before[key] for key in after}
    return found


def put_item(base: str, sku: str, stock: int) -> None:
    """An item that is already on sale, many units per user."""
    start = datetime.fromtimestamp(time.time() - 60, tz=UTC).isoformat()
    response = httpx.put(
        f"{base}/admin/items/{sku}",
        headers=_admin(),
        json={
            "name": sku,
            "price_cents": 1,
            "stock": stock,
            "sale_start": start,
            "limit_per_user": 1000,
        },
    )
    response.raise_for_status()


def _admin() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its living children."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # After the command name in parentheses: state, ppid, …, utime (14th), stime (15th).
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # a process that ended while we looked
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


async def _next_xid(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        found = await conn.fetchval("SELECT txid_snapshot_xmax(txid_current_snapshot())")
    finally:
        await conn.close()
    return int(found)


def pg_probe(url: str, server: int, postgres: int | None) -> Probe:
    """CPU seconds of the store process ``server`` (and of the private PostgreSQL's processes,
    when ``postgres`` is its pid), and the server's next transaction id: every transaction that
    writes takes one (a batch of the store, an order of the naive step), reads take none."""

    def probe() -> dict[str, float]:
        found = {"server_cpu_s": cpu_s(server), "writes": float(asyncio.run(_next_xid(url)))}
        if postgres is not None:
            found["postgres_cpu_s"] = cpu_s(postgres)
        return found

    return probe


def main() -> None:
    """Run the floods and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians shown")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument(
        "--store",
        help="store URL (default: a fresh SQLite file); 'postgresql' or 'redis' alone: a private "
        "server for the run",
    )
    parser.add_argument(
        "--peer",
        action="store_true",
        help="Redis: the textbook FastAPI + redis-py store beside it (benchmarks/peer_store.py)",
    )
    parser.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL")
    parser.add_argument(
        "--pg-pool-size",
        type=int,
        default=10,
        help="PostgreSQL: connections per store process, for the store and the naive step alike",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if args.peer and (args.store or "").split(":")[0] != "redis":
        parser.error("--peer: needs --store redis or --store redis://HOST:PORT/DB")
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    with (
        tempfile.TemporaryDirectory(prefix="sniper-flood-") as tmp,
        private_postgres(args.store) as private,
        private_redis(args.store, Path(tmp) / "redis") as own_redis,
    ):
        results = run_all(Path(tmp), args, private, own_redis)
    if args.json:
        print(json.dumps(results))
    else:
        report(results)


@contextlib.contextmanager
def private_postgres(store: str | None) -> Iterator[PgServer | None]:
    """A private PostgreSQL for the run when ``--store`` names the scheme alone, else None."""
    if store not in PG_SCHEMES:
        yield None
        return
    with pg_server() as server:
        yield server


@contextlib.contextmanager
def private_redis(store: str | None, directory: Path) -> Iterator[tuple[str, int] | None]:
    """A private Redis for the run when ``--store`` is ``redis`` alone (its URL and pid), else
    None: AOF on, every write fsynced before Redis answers (``appendfsync always``)."""
    if store != "redis":
        yield None
        return
    with redis_server(directory, "--appendonly", "yes", "--appendfsync", "always") as (port, p):
        yield f"redis://127.0.0.1:{port}/0", p.pid


def redis_aof(url: str) -> str:
    """The server's ``appendfsync`` when AOF is on, ``off`` when it is not; ``unknown`` when it
    does not say (CONFIG refused)."""
    with redis.Redis.from_url(url, decode_responses=True) as client:
        try:
            config = client.config_get("append*")
        except redis.RedisError:
            return "unknown"
    return str(config.get("appendfsync")) if config.get("appendonly") == "yes" else "off"


def serve_cmd(
    program: list[str], port: int, store_url: str, tmp: Path, args: argparse.Namespace
) -> list[str]:
    """``sniper serve`` (or the naive step's launcher) as this run starts it."""
    return [
        *program,
        "serve",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--store",
        store_url,
        "--admin-token",
        ADMIN_TOKEN,
        "--user-rate",
        "0",
        "--log-level",
        "warning",
        "--sqlite-synchronous",
        args.synchronous,
        "--orders-db",
        f"sqlite:///{tmp / 'orders.db'}",
    ]


#: The servers the ceiling is measured on (``benchmarks/server_choice.py`` says why both).
CEILING_SERVERS = ("uvicorn", "granian")


def granian_cmd(
    port: int, app: str, *, workers: int = 1, factory: bool = False, interface: str = "asgi"
) -> list[str]:
    """granian serving ``app`` as uvicorn serves it here: uvloop, HTTP/1 only, no websockets,
    no access log, the same backlog (on ASGI, or on granian's own RSGI interface)."""
    return [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        interface,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "1",
        "--no-ws",
        "--log-level",
        "warning",
        "--backlog",
        "4096",
        *(["--factory"] if factory else []),
        app,
    ]


def raw_cmd(
    port: int, args: argparse.Namespace, app: str = "raw_asgi:app", lifespan: str = "off"
) -> list[str]:
    """The ceiling's server: the raw ASGI app on the same uvicorn, same workers (or another app
    of this folder served the same way: the peer)."""
    return [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--app-dir",
        str(HERE),
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--lifespan",
        lifespan,
        "--log-level",
        "warning",
        "--backlog",
        "4096",
    ]


def make_users(base: str, tokens: Path, count: int) -> None:
    """``count`` users, their sessions one a line in ``tokens``."""
    made = httpx.post(f"{base}/admin/users", headers=_admin(), json={"count": count}, timeout=60)
    made.raise_for_status()
    tokens.write_text("".join(u["session"] + "\n" for u in made.json()["users"]))


def cpu_probe(server: int, redis_pid: int | None) -> Probe:
    """CPU seconds of the process ``server`` and (when known: a private server) of Redis."""

    def probe() -> dict[str, float]:
        found = {"server_cpu_s": cpu_s(server)}
        if redis_pid is not None:
            found["redis_cpu_s"] = cpu_s(redis_pid)
        return found

    return probe


@contextlib.contextmanager
def peer_store(
    url: str, tmp: Path, args: argparse.Namespace, redis_pid: int | None
) -> Iterator[Callable[[int], dict[str, dict[str, Any]]]]:
    """The textbook store (benchmarks/peer_store.py) served beside the store, its keys under a
    prefix of this run on the same Redis (deleted afterwards); yields what measures one round:
    orders on a fresh item, then the sold-out flood."""
    prefix = f"peer-{os.getpid()}-{int(time.time())}:"
    tokens = tmp / "peer-tokens.txt"
    port = free_port()
    # One fresh buyer per order: the script refuses a buyer's second order, as a shop would.
    users = int(PEER_MAX_RPS * (args.duration + 1))
    sessions = {f"{prefix}session:{secrets.token_urlsafe(32)}": f"buyer-{i}" for i in range(users)}
    tokens.write_text("".join(key.rsplit(":", 1)[1] + "\n" for key in sessions))
    with redis.Redis.from_url(url) as client:
        try:
            keys = list(sessions)
            for start in range(0, users, 10_000):
                client.mset({key: sessions[key] for key in keys[start : start + 10_000]})
            client.set(f"{prefix}stock:gone", 0)
            for n in range(args.rounds):
                client.mset(
                    {f"{prefix}stock:warm-{n}": 10_000_000, f"{prefix}stock:on-{n}": 10_000_000}
                )
            env = {"PEER_REDIS_URL": url, "PEER_PREFIX": prefix}
            cmd = raw_cmd(port, args, app="peer_store:app", lifespan="on")
            with running(cmd, port, env=env) as peer:
                probe = cpu_probe(peer.pid, redis_pid)

                def one_round(n: int) -> dict[str, dict[str, Any]]:
                    orders = measure(port, tokens, f"on-{n}", args, probe, warm_sku=f"warm-{n}")
                    return {
                        "peer_orders": orders,
                        "peer_sold_out": measure(port, tokens, "gone", args, probe),
                    }

                yield one_round
        finally:
            left = list(client.scan_iter(match=f"{prefix}*", count=10_000))
            for start in range(0, len(left), 10_000):
                client.unlink(*left[start : start + 10_000])


def store_url_of(
    tmp: Path,
    args: argparse.Namespace,
    private: PgServer | None,
    own_redis: tuple[str, int] | None,
) -> str:
    """The store's URL: a private server's, else ``--store``, else a fresh SQLite file."""
    if private is not None:
        return private.url
    if own_redis is not None:
        return own_redis[0]
    return str(args.store or f"sqlite:///{tmp / 'store.db'}")


def start_ceilings(stack: contextlib.ExitStack, args: argparse.Namespace) -> dict[str, int]:
    """The raw ASGI app on each of :data:`CEILING_SERVERS`, started; their ports."""
    ports = {server: free_port() for server in CEILING_SERVERS}
    stack.enter_context(running(raw_cmd(ports["uvicorn"], args), ports["uvicorn"]))
    granian = granian_cmd(ports["granian"], "raw_asgi:app", workers=args.workers)
    stack.enter_context(running(granian, ports["granian"], env={"PYTHONPATH": str(HERE)}))
    return ports


def run_all(
    tmp: Path,
    args: argparse.Namespace,
    private: PgServer | None,
    own_redis: tuple[str, int] | None = None,
) -> dict[str, Any]:
    """The servers up at once; the floods interleaved, ``--rounds`` times; then the ceilings of
    the storage alone."""
    dummy = tmp / "dummy-tokens.txt"
    dummy.write_text("not-a-session\n")
    tokens = tmp / "tokens.txt"
    store_port, naive_port = free_port(), free_port()
    store_url = store_url_of(tmp, args, private, own_redis)
    scheme = store_url.split(":")[0]
    on_pg = scheme in PG_SCHEMES
    env = {"SNIPER_PG_POOL_SIZE": str(args.pg_pool_size)}
    run_id = f"{os.getpid()}-{int(time.time())}"  # fresh items on a database that is kept
    stock_sku, gone_sku = f"flood-stock-{run_id}", f"flood-gone-{run_id}"
    naive_sku = f"flood-naive-{run_id}"
    runs: dict[str, list[dict[str, Any]]] = {
        **{f"ceiling_{server}": [] for server in CEILING_SERVERS},
        "orders": [],
        "sold_out": [],
    }
    if on_pg:
        runs["naive"] = []
    sniper = [sys.executable, "-m", "sniper"]
    with contextlib.ExitStack() as stack:
        ceiling_ports = start_ceilings(stack, args)
        store = stack.enter_context(
            running(serve_cmd(sniper, store_port, store_url, tmp, args), store_port, env=env)
        )
        base = f"http://127.0.0.1:{store_port}"
        make_users(base, tokens, args.users)
        put_item(base, stock_sku, 10_000_000)
        put_item(base, gone_sku, 0)
        probe = naive_probe = None
        if on_pg:
            naive_cmd = serve_cmd(
                [sys.executable, str(HERE / "pg_naive.py")], naive_port, store_url, tmp, args
            )
            naive = stack.enter_context(running(naive_cmd, naive_port, env=env))
            put_item(f"http://127.0.0.1:{naive_port}", naive_sku, 10_000_000)
            postgres = private.proc.pid if private is not None and private.proc else None
            probe = pg_probe(store_url, store.pid, postgres)
            naive_probe = pg_probe(store_url, naive.pid, postgres)
        peer_round = None
        if scheme == "redis":
            redis_pid = own_redis[1] if own_redis is not None else None
            probe = cpu_probe(store.pid, redis_pid)
            if args.peer:
                peer_round = stack.enter_context(peer_store(store_url, tmp, args, redis_pid))
                runs.update(peer_orders=[], peer_sold_out=[])
        for n in range(args.rounds):
            for server, port in ceiling_ports.items():
                runs[f"ceiling_{server}"].append(measure(port, dummy, "x", args))
            runs["orders"].append(measure(store_port, tokens, stock_sku, args, probe))
            runs["sold_out"].append(measure(store_port, tokens, gone_sku, args, probe))
            if on_pg:
                runs["naive"].append(measure(naive_port, tokens, naive_sku, args, naive_probe))
            if peer_round is not None:
                for name, found in peer_round(n).items():
                    runs[name].append(found)
        extra = storage_ceiling(store_url, args, run_id)
    best = {name: median_run(rs) for name, rs in runs.items()}
    # The ceiling of every ratio: the best raw ASGI figure, whichever server gave it.
    top = max(CEILING_SERVERS, key=lambda server: best[f"ceiling_{server}"]["rps"])
    best["ceiling"] = {**best[f"ceiling_{top}"], "server": top}
    runs["ceiling"] = runs[f"ceiling_{top}"]
    return {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": settings_of(args, store_url, private, own_redis),
        **best,
        "rounds_rps": {name: [round(r["rps"]) for r in rs] for name, rs in runs.items()},
        "orders_ratio": best["orders"]["rps"] / best["ceiling"]["rps"],
        "sold_out_ratio": best["sold_out"]["rps"] / best["ceiling"]["rps"],
        **extra,
        **comparisons(best, extra),
    }


def settings_of(
    args: argparse.Namespace,
    store_url: str,
    private: PgServer | None,
    own_redis: tuple[str, int] | None,
) -> dict[str, Any]:
    """The run's settings as reported."""
    scheme = store_url.split(":", maxsplit=1)[0]
    return {
        "workers": args.workers,
        "connections": args.connections,
        "wrk_threads": args.threads,
        "duration_s": args.duration,
        "rounds": args.rounds,
        "store": scheme,
        "synchronous": args.synchronous,
        **(
            {"pg_pool_size": args.pg_pool_size, "private_postgres": private is not None}
            if scheme in PG_SCHEMES
            else {}
        ),
        **(
            {"private_redis": own_redis is not None, "appendfsync": redis_aof(store_url)}
            if scheme == "redis"
            else {}
        ),
        **({"peer": "benchmarks/peer_store.py"} if args.peer else {}),
    }


def comparisons(best: dict[str, Any], extra: dict[str, Any]) -> dict[str, float]:
    """The store's rates over the other steps measured in the run: the naive step, the Redis
    script, the textbook peer."""
    found = {}
    if "naive" in best:
        found["orders_to_naive"] = best["orders"]["rps"] / best["naive"]["rps"]
    elif "redis_ceiling" in extra:
        found["orders_to_redis"] = best["orders"]["rps"] / extra["redis_ceiling"]["created"]
    if "peer_orders" in best:
        found["orders_to_peer"] = best["orders"]["rps"] / best["peer_orders"]["rps"]
        found["sold_out_to_peer"] = best["sold_out"]["rps"] / best["peer_sold_out"]["rps"]
    return found


def storage_ceiling(store_url: str, args: argparse.Namespace, run_id: str) -> dict[str, Any]:
    """The storage's own rate without HTTP: the reserve script on Redis; on PostgreSQL, the
    store's grouped step and the naive one driven directly (benchmarks/pg_ceiling.py)."""
    scheme = store_url.split(":", maxsplit=1)[0]
    if scheme.startswith("redis"):
        return {"redis_ceiling": ceiling(store_url, args.duration)}
    if scheme in PG_SCHEMES:
        direct = pg_ceiling(
            store_url,
            clients=args.connections,
            pool_size=args.pg_pool_size,
            seconds=args.duration,
            rounds=args.rounds,
            tag=run_id,
        )
        return {"pg_direct": direct}
    return {}


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median requests/s."""
    return sorted(runs, key=lambda r: r["rps"])[len(runs) // 2]


def report(r: dict[str, Any]) -> None:
    """Human-readable figures."""
    s = r["settings"]
    print(
        f"store_flood: {s['workers']} worker(s), {s['connections']} connections, "
        f"{s['duration_s']:g} s per run, median of {s['rounds']} rounds, "
        f"store={s['store']} synchronous={s['synchronous']}, "
        f"{r['machine']['cpus']} CPUs, Python {r['machine']['python']}"
    )
    print(f"{'':<18}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    rows = [(f"ceiling ({s})", f"ceiling_{s}") for s in CEILING_SERVERS]
    rows += [("orders", "orders"), ("sold out", "sold_out")]
    if "naive" in r:
        rows.append(("naive orders", "naive"))
    if "peer_orders" in r:
        rows += [("peer orders", "peer_orders"), ("peer sold out", "peer_sold_out")]
    for name, key in rows:
        row = r[key]
        ratio = row["rps"] / r["ceiling"]["rps"]
        status = {k: v for k, v in row["status"].items() if v}
        print(
            f"{name:<18}{row['rps']:>10.0f}{ratio:>8.2f}{row['p50_ms']:>9.2f}"
            f"{row['p99_ms']:>9.2f}  {status}  rounds: {r['rounds_rps'][key]}"
        )
    redis = r.get("redis_ceiling")
    if redis is not None:
        print(
            f"redis ceiling (reserve script by EVALSHA, {redis['driver']}): "
            f"created {redis['created']:.0f}/s, sold out {redis['sold_out']:.0f}/s; "
            f"store orders / script created = {r['orders_to_redis']:.2f}"
        )
    if "pg_direct" in r:
        report_pg(r)
    if "peer_orders" in r:
        report_peer(r)


def report_peer(r: dict[str, Any]) -> None:
    """The store beside the textbook store, per phase: its ratio to the peer and to the ceiling;
    where the CPU went in the median rounds."""
    s, ceiling_rps = r["settings"], r["ceiling"]["rps"]
    print(
        f"store vs textbook peer (FastAPI + redis-py Lua, {s['peer']}), same Redis "
        f"(appendfsync {s['appendfsync']}), same rounds:"
    )
    for name, key, to_peer in (
        ("orders", "orders", r["orders_to_peer"]),
        ("sold out", "sold_out", r["sold_out_to_peer"]),
    ):
        store, peer = r[key]["rps"], r[f"peer_{key}"]["rps"]
        print(
            f"  {name}: store {store:.0f}/s, peer {peer:.0f}/s: {to_peer:.2f}x the peer, "
            f"{store / ceiling_rps:.2f}x the ceiling (peer {peer / ceiling_rps:.2f}x)"
        )
    for name, key in (
        ("orders", "orders"),
        ("sold out", "sold_out"),
        ("peer orders", "peer_orders"),
        ("peer sold out", "peer_sold_out"),
    ):
        during = r[key]["during"]
        cpu = f"server process {100 * during['server_cpu_s'] / s['duration_s']:.0f} %"
        if "redis_cpu_s" in during:
            cpu += f", Redis {100 * during['redis_cpu_s'] / s['duration_s']:.0f} %"
        print(f"  CPU of one core, {name}: {cpu}")


def report_pg(r: dict[str, Any]) -> None:
    """The PostgreSQL lines: the gain over the naive step, through HTTP and directly, and where
    the time went in the median rounds."""
    s, direct = r["settings"], r["pg_direct"]
    print(
        f"orders / naive orders (through HTTP, same stack, same PostgreSQL, pool "
        f"{s['pg_pool_size']}): {r['orders_to_naive']:.2f}x"
    )
    for name, key in (("orders", "orders"), ("sold out", "sold_out"), ("naive orders", "naive")):
        during, seconds = r[key]["during"], s["duration_s"]
        created = r[key]["status"].get("201", 0)
        per_write = created / during["writes"] if during["writes"] else 0.0
        cpu = f"store process {100 * during['server_cpu_s'] / seconds:.0f} %"
        if "postgres_cpu_s" in during:
            cpu += f", PostgreSQL {100 * during['postgres_cpu_s'] / seconds:.0f} %"
        print(
            f"  {name}: {during['writes']:.0f} writing transactions, "
            f"{per_write:.1f} orders each; "
            f"CPU of one core: {cpu}"
        )
    grouped, naive = direct["grouped"], direct["naive"]
    print(
        f"direct, no HTTP ({direct['clients']} clients, pool {direct['pool_size']}): "
        f"grouped {grouped['created_per_s']:.0f}/s (p50 {grouped['p50_ms']:.2f} ms, "
        f"p99 {grouped['p99_ms']:.2f} ms, mean batch {direct['mean_batch']:.1f}), "
        f"naive {naive['created_per_s']:.0f}/s (p50 {naive['p50_ms']:.2f} ms, "
        f"p99 {naive['p99_ms']:.2f} ms): {direct['grouped_to_naive']:.2f}x; "
        f"rounds {direct['rounds']}"
    )
    print(
        f"store orders / direct grouped = {r['orders']['rps'] / grouped['created_per_s']:.2f}; "
        f"naive orders / direct naive = {r['naive']['rps'] / naive['created_per_s']:.2f}"
    )


if __name__ == "__main__":
    main()
