"""Two builds of the store side by side, flooded in turn: requests/s and CPU per request, paired.

    python benchmarks/store_ab.py --before /path/to/older/src [--kind sold_out] [--pairs 10]
        [--store redis]

Both stores run at once (one worker, SQLite FULL, as ``store_flood.py`` runs one; with ``--store
redis``, each on its own database of one private Redis with AOF ``always``, its orders copied to a
SQLite file of its own, as ``store_flood.py --store redis`` runs one): this tree's,
and the one whose ``src`` is given (``git archive <commit> src | tar -x -C DIR``, then
``DIR/src``). ``wrk`` floods one and then the other, ``--pairs`` times, the order alternating,
with the same requests and connections as ``store_flood.py``: ``sold_out`` (an item sold out),
``orders`` (one whose stock lasts). A busy machine moves both members of a pair alike, so the
paired ratios say more than either build's figures; the store process's CPU per request is shown
beside its throughput, since wrk shares the machine. (On Redis each store's order persister may
still be copying one flood's orders while the other is flooded: the CPU figures carry that.)
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
from pathlib import Path

from procs import free_port, running
from store_flood import cpu_s, make_users, private_redis, put_item, serve_cmd, wrk

SKUS = {"sold_out": ("gone", 0), "orders": ("plenty", 10_000_000)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, required=True, help="the older build's src")
    parser.add_argument("--kind", choices=sorted(SKUS), default="sold_out")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds a flood")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--store", choices=["sqlite", "redis"], default="sqlite")
    args = parser.parse_args()
    if not (args.before / "sniper" / "__init__.py").is_file():
        parser.error(f"--before {args.before}: no sniper package there")
    flood = argparse.Namespace(
        workers=1, synchronous="FULL", threads=1, connections=args.connections
    )
    sku, stock = SKUS[args.kind]
    found: dict[str, dict[str, list[float]]] = {}
    with contextlib.ExitStack() as stack:
        stores = {}
        redis_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        redis = stack.enter_context(private_redis(args.store, redis_dir))  # None on SQLite
        for n, (build, path) in enumerate((("after", None), ("before", args.before))):
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            port = free_port()
            url = (
                f"sqlite:///{folder}/s.db" if redis is None else f"{redis[0].rsplit('/', 1)[0]}/{n}"
            )
            cmd = serve_cmd([sys.executable, "-m", "sniper"], port, url, folder, flood)
            env = {"PYTHONPATH": str(path.resolve())} if path is not None else {}
            proc = stack.enter_context(running(cmd, port, env=env))
            base = f"http://127.0.0.1:{port}"
            put_item(base, sku, stock)
            make_users(base, folder / "tokens.txt", args.users)
            wrk(port, folder / "tokens.txt", sku, flood, 1)  # warm: sessions, the sold-out flag
            stores[build] = (proc.pid, port, folder / "tokens.txt")
            found[build] = {"rps": [], "cpu_us": []}
        for n in range(args.pairs):
            for build in ("after", "before") if n % 2 == 0 else ("before", "after"):
                pid, port, tokens = stores[build]
                cpu_before = cpu_s(pid)
                result = wrk(port, tokens, sku, flood, args.duration)
                answered = sum(result["status"].values())
                found[build]["rps"].append(result["rps"])
                found[build]["cpu_us"].append((cpu_s(pid) - cpu_before) / answered * 1e6)
    after, before = found["after"], found["before"]
    rps = [a / b for a, b in zip(after["rps"], before["rps"], strict=True)]
    cpu = [b / a for a, b in zip(after["cpu_us"], before["cpu_us"], strict=True)]
    print(
        f"store_ab: {args.store}, {args.kind}, {args.pairs} pairs of {args.duration:g} s, medians"
    )
    print(f"{'':22}{'after':>10}{'before':>10}{'after/before (min–max)':>28}")
    print(
        f"{'requests/s':22}{statistics.median(after['rps']):10.0f}"
        f"{statistics.median(before['rps']):10.0f}"
        f"{statistics.median(rps):14.2f} ({min(rps):.2f}–{max(rps):.2f})"
    )
    print(
        f"{'CPU µs per request':22}{statistics.median(after['cpu_us']):10.1f}"
        f"{statistics.median(before['cpu_us']):10.1f}"
        f"{statistics.median(cpu):14.2f} ({min(cpu):.2f}–{max(cpu):.2f})  (before/after)"
    )


if __name__ == "__main__":
    main()
