"""A real client's orders while thousands of hostile connections are held open on the store.

    python benchmarks/slow_clients.py [--slow-bodies 5000] [--slow-heads 5000] [--orders 200]
                                      [--timeout 10] [--max-connections 0] [--json]

Starts ``sniper serve`` (one worker, fresh SQLite file; ``--timeout`` is its header and body
timeout, ``--max-connections`` its connection bound, 0 for its default), then:

1. calm: the real client places ``--orders`` orders (one user each, half of them find the item
   sold out), half on one kept-alive connection, half each on a fresh connection;
2. storm: opens ``--slow-bodies`` connections that send ``POST /api/orders`` headers with
   ``Content-Length: 100`` and 10 bytes of body, and ``--slow-heads`` that send half a request
   line and headers, holds them all, and places the same orders again on another item;
3. after: waits (bounded) until the server has closed every hostile connection.

Prints the latency of the real client's orders (p50/p99/max, and their statuses) in both
phases, the server's open files (from /proc) before, at the peak and after, its file limit, and
how many hostile connections the server closed and how long after they opened.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from procs import free_port, running

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e.hostile import SLOW_BODY, SLOW_HEAD, Crowd, Held

ADMIN_TOKEN = "slow-clients-admin-token"  # noqa: S105  # a throwaway store on loopback
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def open_files(pid: int) -> int:
    """Files the process holds right now."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def file_limit(pid: int) -> int:
    """The process's soft limit on open files."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise SystemExit("no file limit in /proc")


def shop(base: str, skus: list[str], stock: int, buyers: int) -> list[str]:
    """Items on sale now, and ``buyers`` users' session tokens."""
    start = datetime.now(UTC).replace(microsecond=0).isoformat()
    for sku in skus:
        response = httpx.put(
            f"{base}/admin/items/{sku}",
            headers=ADMIN,
            json={"name": sku, "price_cents": 1, "stock": stock, "sale_start": start},
        )
        response.raise_for_status()
    made = httpx.post(f"{base}/admin/users", headers=ADMIN, json={"count": buyers}, timeout=60)
    made.raise_for_status()
    return [u["session"] for u in made.json()["users"]]


async def orders(base: str, sku: str, tokens: list[str]) -> list[tuple[int, float]]:
    """One order per token: the first half on one kept-alive connection, the rest each on a
    fresh connection; (status, seconds) of each."""
    answers: list[tuple[int, float]] = []
    half = len(tokens) // 2
    async with httpx.AsyncClient(base_url=base, timeout=30) as warm:
        await warm.get("/healthz")  # the connection is open before the first order
        for token in tokens[:half]:
            answers.append(await _order(warm, sku, token))
    for token in tokens[half:]:
        async with httpx.AsyncClient(base_url=base, timeout=30) as fresh:
            answers.append(await _order(fresh, sku, token))
    return answers


async def _order(client: httpx.AsyncClient, sku: str, token: str) -> tuple[int, float]:
    start = time.perf_counter()
    response = await client.post(
        "/api/orders", json={"sku_id": sku}, headers={"Cookie": f"session={token}"}
    )
    return response.status_code, time.perf_counter() - start


def latency(answers: list[tuple[int, float]]) -> dict[str, Any]:
    """p50, p99 and max in ms, and the statuses."""
    ms = sorted(elapsed * 1000 for _, elapsed in answers)
    statuses: dict[str, int] = {}
    for status, _ in answers:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(ms[int(len(ms) * 0.99)], 2),
        "max_ms": round(ms[-1], 2),
        "over_100ms": sum(1 for m in ms if m > 100),
        "statuses": statuses,
    }


def closes(held: list[Held]) -> dict[str, Any]:
    """How many the server closed, and how long after they opened (s)."""
    after = sorted(h.closed - h.opened for h in held if h.closed is not None)
    if not after:
        return {"closed": 0, "of": len(held)}
    return {
        "closed": len(after),
        "of": len(held),
        "first_s": round(after[0], 2),
        "median_s": round(statistics.median(after), 2),
        "last_s": round(after[-1], 2),
    }


async def storm(
    base: str, port: int, pid: int, tokens: list[str], args: argparse.Namespace
) -> dict[str, Any]:
    """Hold the hostile connections, order meanwhile, wait for the server to close them."""
    crowd = Crowd(port)
    started = time.monotonic()
    try:
        bodies = await crowd.hold(args.slow_bodies, SLOW_BODY, limit_s=120)
        heads = await crowd.hold(args.slow_heads, SLOW_HEAD, limit_s=120)
        opened_s = time.monotonic() - started
        held_at_start = crowd.open_count()
        peak = open_files(pid)
        answers = await orders(base, "storm", tokens)
        held_at_end = crowd.open_count()
        peak = max(peak, open_files(pid))
        await crowd.until_closed(bodies + heads, limit_s=120)
    finally:
        await crowd.aclose()
    return {
        "opened_in_s": round(opened_s, 2),
        "held_when_ordering": held_at_start,
        "held_after_ordering": held_at_end,
        "fd_peak": peak,
        "storm": latency(answers),
        "slow_bodies": closes(bodies),
        "slow_heads": closes(heads),
    }


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="slow-clients-") as tmp:
        os.environ["SNIPER_MAX_CONNECTIONS"] = str(args.max_connections)
        os.environ["SNIPER_HEADER_TIMEOUT_S"] = os.environ["SNIPER_BODY_TIMEOUT_S"] = str(
            args.timeout
        )
        cmd = [
            sys.executable,
            "-m",
            "sniper",
            "serve",
            "--port",
            str(port),
            "--store",
            f"sqlite:///{Path(tmp) / 'store.db'}",
            "--admin-token",
            ADMIN_TOKEN,
            "--user-rate",
            "0",
            "--log-level",
            "warning",
        ]
        with running(cmd, port) as proc:
            tokens = shop(base, ["calm", "storm"], args.orders // 2, args.orders)
            fd_before = open_files(proc.pid)
            calm = latency(await orders(base, "calm", tokens))
            result = await storm(base, port, proc.pid, tokens, args)
            await asyncio.sleep(1)  # the last closes reach the server's loop
            result.update(
                calm=calm,
                fd_before=fd_before,
                fd_after=open_files(proc.pid),
                fd_limit=file_limit(proc.pid),
            )
            async with httpx.AsyncClient(base_url=base) as client:
                result["healthz_after"] = (await client.get("/healthz")).status_code
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow-bodies", type=int, default=5000)
    parser.add_argument("--slow-heads", type=int, default=5000)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="the store's header and body timeouts (s)"
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=0,
        help="the store's SNIPER_MAX_CONNECTIONS (0: its default)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    needed = args.slow_bodies + args.slow_heads + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < needed:
        raise SystemExit(f"this process may open {hard} files, {needed} are needed (ulimit -Hn)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), hard))
    result = asyncio.run(measure(args))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    bound = args.max_connections or "default"
    print(
        f"slow_clients: {args.slow_bodies} slow bodies + {args.slow_heads} endless headers, "
        f"{args.orders} orders per phase, timeouts {args.timeout:g} s, connection bound {bound}, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    for phase in ("calm", "storm"):
        row = result[phase]
        print(
            f"  orders {phase:5}  p50 {row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:7.2f} ms  "
            f"max {row['max_ms']:7.2f} ms  over 100 ms: {row['over_100ms']}  {row['statuses']}"
        )
    print(
        f"  hostile connections opened in {result['opened_in_s']} s; held while ordering: "
        f"{result['held_when_ordering']} at the start, {result['held_after_ordering']} at the end"
    )
    print(
        f"  server files: before {result['fd_before']}, peak {result['fd_peak']}, "
        f"after {result['fd_after']} (limit {result['fd_limit']})"
    )
    for kind in ("slow_bodies", "slow_heads"):
        c = result[kind]
        print(
            f"  {kind:11} closed by the server: {c['closed']}/{c['of']}, "
            f"{c.get('first_s')}..{c.get('last_s')} s after opening (median {c.get('median_s')})"
        )
    print(f"  /healthz after: {result['healthz_after']}")


if __name__ == "__main__":
    main()
