"""Flood the store the way an opening does, beside the ceiling of its server stack.

Prints, from one run on this machine:

* ceiling:  a five-line raw ASGI app (benchmarks/raw_asgi.py) on the same uvicorn, same workers;
* orders:   the store's ``POST /api/orders`` answered 201 per second while stock lasts;
* sold out: the same requests once the item is gone (the flood that is most of a real opening);

each with its ratio to the ceiling. The load comes from ``wrk`` (Debian package ``wrk``) in a
second process, with the same request bytes for all three (POST, JSON body, session cookie).

With ``--store redis://HOST:PORT/DB`` the store runs on that Redis (use an empty database: the run
leaves its items and orders there), its persister copying into a temporary SQLite file, and the
same Redis's own ceiling is measured too: the reserve script's EVALSHA rate without HTTP
(benchmarks/redis_ceiling.py).

    python benchmarks/store_flood.py [--workers 1] [--connections 64] [--duration 5]
                                     [--store redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from procs import free_port, running
from redis_ceiling import ceiling

HERE = Path(__file__).resolve().parent
ADMIN_TOKEN = "bench-admin-token"  # noqa: S105  # a throwaway store on loopback


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


def measure(port: int, tokens: Path, sku: str, args: argparse.Namespace) -> dict[str, Any]:
    """A short warm-up, then the measured run."""
    wrk(port, tokens, sku, args, 1)
    return wrk(port, tokens, sku, args, args.duration)


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


def main() -> None:
    """Run the three floods and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians shown")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--store", help="store URL (default: a fresh SQLite file)")
    parser.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")

    with tempfile.TemporaryDirectory(prefix="sniper-flood-") as tmp:
        results = run_all(Path(tmp), args)
    if args.json:
        print(json.dumps(results))
    else:
        report(results)


def run_all(tmp: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Both servers up at once; the three floods interleaved, ``--rounds`` times."""
    dummy = tmp / "dummy-tokens.txt"
    dummy.write_text("not-a-session\n")
    tokens = tmp / "tokens.txt"
    raw_port, store_port = free_port(), free_port()
    raw = [
        sys.executable,
        "-m",
        "uvicorn",
        "raw_asgi:app",
        "--app-dir",
        str(HERE),
        "--port",
        str(raw_port),
        "--workers",
        str(args.workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--lifespan",
        "off",
        "--log-level",
        "warning",
        "--backlog",
        "4096",
    ]
    store_url = args.store or f"sqlite:///{tmp / 'store.db'}"
    store = [
        sys.executable,
        "-m",
        "sniper",
        "serve",
        "--port",
        str(store_port),
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
    on_redis = store_url.startswith("redis")
    run_id = f"{os.getpid()}-{int(time.time())}"  # fresh items on a Redis that is kept
    stock_sku, gone_sku = f"flood-stock-{run_id}", f"flood-gone-{run_id}"
    runs: dict[str, list[dict[str, Any]]] = {"ceiling": [], "orders": [], "sold_out": []}
    with running(raw, raw_port), running(store, store_port):
        base = f"http://127.0.0.1:{store_port}"
        made = httpx.post(
            f"{base}/admin/users", headers=_admin(), json={"count": args.users}, timeout=60
        )
        made.raise_for_status()
        tokens.write_text("".join(u["session"] + "\n" for u in made.json()["users"]))
        put_item(base, stock_sku, 10_000_000)
        put_item(base, gone_sku, 0)
        for _ in range(args.rounds):
            runs["ceiling"].append(measure(raw_port, dummy, "x", args))
            runs["orders"].append(measure(store_port, tokens, stock_sku, args))
            runs["sold_out"].append(measure(store_port, tokens, gone_sku, args))
        redis = ceiling(store_url, args.duration) if on_redis else None
    best = {name: median_run(rs) for name, rs in runs.items()}
    extra: dict[str, Any] = {}
    if redis is not None:
        extra = {
            "redis_ceiling": redis,
            "orders_to_redis": best["orders"]["rps"] / redis["created"],
        }
    return {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "settings": {
            "workers": args.workers,
            "connections": args.connections,
            "wrk_threads": args.threads,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "store": store_url.split(":")[0],
            "synchronous": args.synchronous,
        },
        **best,
        "rounds_rps": {name: [round(r["rps"]) for r in rs] for name, rs in runs.items()},
        "orders_ratio": best["orders"]["rps"] / best["ceiling"]["rps"],
        "sold_out_ratio": best["sold_out"]["rps"] / best["ceiling"]["rps"],
        **extra,
    }


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
    print(f"{'':<12}{'req/s':>10}{'ratio':>8}{'p50 ms':>9}{'p99 ms':>9}  statuses")
    for name, key in (("ceiling", "ceiling"), ("orders", "orders"), ("sold out", "sold_out")):
        row = r[key]
        ratio = row["rps"] / r["ceiling"]["rps"]
        status = {k: v for k, v in row["status"].items() if v}
        print(
            f"{name:<12}{row['rps']:>10.0f}{ratio:>8.2f}{row['p50_ms']:>9.2f}"
            f"{row['p99_ms']:>9.2f}  {status}  rounds: {r['rounds_rps'][key]}"
        )
    redis = r.get("redis_ceiling")
    if redis is not None:
        print(
            f"redis ceiling (reserve script by EVALSHA, {redis['driver']}): "
            f"created {redis['created']:.0f}/s, sold out {redis['sold_out']:.0f}/s; "
            f"store orders / script created = {r['orders_to_redis']:.2f}"
        )


if __name__ == "__main__":
    main()
