"""Two shards of one opening, started a second apart with one absolute ``--at``: how close
together do they land on the target's clock, and does ``bench merge`` count what one run does?

Each round, against the seckill target of the tests (``tests/bench/seckill_target.py``: not our
store; its own sessions, its ``/time`` and ``/arrivals``), with ``--users`` users and
``--stock`` units:

1. ``sniper bench --file … --shard 1/2 --json`` and, a second later, ``--shard 2/2``, both with
   one RFC 3339 ``--at`` about ``--ahead-s`` seconds ahead on the target's ``/time``;
2. from the target's ``/arrivals`` (when its event loop read each request: not kernel stamps),
   the first and the median arrival of each shard's users and their difference; beside it each
   shard's own ``spread_ms`` and ``first_send_server_ms`` (its first write, on the target's
   clock by its own estimate: the senders' view of the same question), how far each shard's
   first write and first arrival are from the opening, and the time from one to the other (the
   target's side: the network and its loop reading late); the machine's load at the start;
3. ``sniper bench merge`` of the two, and one unsharded ``sniper bench --file`` against a fresh
   target of the same size: whether the counts agree (requests, ok, sold_out, errors, oversold,
   undersold, duplicates).

With ``--wire`` (root: a packet socket on ``lo``, ``benchmarks/wire.py``), also when each shard's
first request reached the target by the kernel's receive stamp, which the target's event loop
cannot delay: the difference between the shards there, and how much later the target's loop
read it.

Then the median and the largest difference over the rounds.

    python benchmarks/bench_shards.py [--rounds 5] [--users 2000] [--stock 200] [--wire] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.bench.target_fixture import SeckillTarget

from wire import WireTap

#: The counts one merged run and one unsharded run must agree on.
COUNTS = ("requests", "ok", "sold_out", "errors", "oversold", "undersold", "duplicates")
SNIPER = [sys.executable, "-m", "sniper"]


def bench(args: list[str], timeout_s: float = 120) -> dict[str, Any]:
    """``sniper bench ARGS --json`` to the end; its report."""
    done = subprocess.run(
        [*SNIPER, "bench", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,  # exit 1 is a report too (a check that fired)
    )
    if not done.stdout:
        raise SystemExit(f"sniper bench {' '.join(args)}: exit {done.returncode}: {done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def sharded(target: SeckillTarget, folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The two shards a second apart, one ``--at``; their reports and what the target saw."""
    bench_file = target.write_bench(folder)
    now_ms = target.get("/time")["now_ms"]
    at = datetime.fromtimestamp(now_ms / 1000 + args.ahead_s, tz=UTC)
    at_text = at.isoformat(timespec="milliseconds")
    outs = [folder / f"shard-{k}.json" for k in (1, 2)]
    procs = []
    for k, out in enumerate(outs, start=1):
        if k > 1:
            time.sleep(args.apart_s)
        with out.open("w") as sink:
            cmd = [*SNIPER, "bench", "--file", str(bench_file), "--at", at_text]
            procs.append(subprocess.Popen([*cmd, "--shard", f"{k}/2", "--json"], stdout=sink))
    tap = None
    if args.wire:
        # After both shards' connections are open (a second or more before the send), so that
        # the capture holds the burst and little else.
        time.sleep(max(0.0, at.timestamp() - 0.5 - time.time()))
        tap = WireTap(target.port)
        tap.open()
    codes = [p.wait(120) for p in procs]
    wire = tap.drain() if tap is not None else None
    reports = [json.loads(out.read_text()) for out in outs]
    merged = bench(["merge", *map(str, outs)])
    arrivals = target.arrivals()
    return {
        "at": at_text,
        "exit": codes,
        "reports": reports,
        "merged": merged,
        "arrivals": arrivals,
        "wire": wire,
    }


def landing(run: dict[str, Any]) -> dict[str, Any]:
    """Each shard's first and median arrival and first write, from the opening (ms), and the
    differences between the shards."""
    reports, opening = run["reports"], run["reports"][0]["opening_ms"]
    shard_of = {shot[1]: k for k, r in enumerate(reports, start=1) for shot in r["shots"]}
    seen: dict[int, list[float]] = {1: [], 2: []}
    for user, ms in run["arrivals"]:
        seen[shard_of[user]].append(ms)
    wire: dict[int, list[float]] = {1: [], 2: []}
    for user, ms in (run["wire"] or {}).items():
        wire[shard_of[user]].append(ms)
    shards = []
    for k, report in enumerate(reports, start=1):
        on_wire = (
            {
                "first_wire_ms": round(min(wire[k]) - opening, 3),
                "wire_to_loop_ms": round(min(seen[k]) - min(wire[k]), 3),
                "wire_seen": len(wire[k]),
            }
            if wire[k]
            else {}
        )
        shards.append(
            {
                **on_wire,
                "shard": k,
                "first_arrival_ms": round(min(seen[k]) - opening, 3),
                "median_arrival_ms": round(statistics.median(seen[k]) - opening, 3),
                "last_arrival_ms": round(max(seen[k]) - opening, 3),
                "first_send_ms": round(report["first_send_server_ms"] - opening, 3),
                "first_lag_ms": round(min(seen[k]) - report["first_send_server_ms"], 3),
                "spread_ms": report["spread_ms"],
            }
        )
    one, two = shards

    def diff(key: str) -> float:
        return round(float(two[key]) - float(one[key]), 3)

    return {
        "shards": shards,
        **({"first_wire_diff_ms": diff("first_wire_ms")} if wire[1] and wire[2] else {}),
        "first_lag_diff_ms": diff("first_lag_ms"),
        "first_arrival_diff_ms": diff("first_arrival_ms"),
        "median_arrival_diff_ms": diff("median_arrival_ms"),
        "first_send_diff_ms": diff("first_send_ms"),
    }


def one_round(n: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    """Fresh targets of one size: the shards, then one unsharded run."""
    here = folder / f"round-{n}"
    here.mkdir()
    size = {"stock": args.stock, "users": args.users}
    load = os.getloadavg()[0]
    target = SeckillTarget(here, **size).start()
    try:
        run = sharded(target, here, args)
    finally:
        target.stop()
    fresh = SeckillTarget(here, **size).start()
    try:
        whole = bench(["--file", str(fresh.write_bench(here)), "--at", f"+{args.ahead_s:g}s"])
    finally:
        fresh.stop()
    merged = run["merged"]
    return {
        "round": n,
        "load_1min": round(load, 2),
        "at": run["at"],
        "exit": run["exit"],
        **landing(run),
        "merged": {key: merged[key] for key in COUNTS},
        "unsharded": {key: whole[key] for key in COUNTS},
        "agree": all(merged[key] == whole[key] for key in COUNTS),
        "merged_server_count": merged["server_count"],
        "unsharded_spread_ms": whole["spread_ms"],
    }


def show(rounds: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """One block per round, then the medians and the largest."""
    print(
        f"bench_shards: {args.users} users, stock {args.stock}, shards started {args.apart_s:g} s "
        f"apart, --at {args.ahead_s:g} s ahead on the target's /time; {os.cpu_count()} CPUs, "
        f"Python {sys.version.split()[0]}; ms from the opening, on the target's clock"
    )
    for r in rounds:
        print(
            f"round {r['round']} (load {r['load_1min']:.2f}): exit {r['exit']}; "
            f"shard 2 - shard 1: first arrival {r['first_arrival_diff_ms']:+.3f} ms, median "
            f"arrival {r['median_arrival_diff_ms']:+.3f} ms, first write "
            f"{r['first_send_diff_ms']:+.3f} ms, first write to first arrival "
            f"{r['first_lag_diff_ms']:+.3f} ms"
            + (
                f", first on the wire {r['first_wire_diff_ms']:+.3f} ms"
                if "first_wire_diff_ms" in r
                else ""
            )
        )
        for s in r["shards"]:
            print(
                f"  shard {s['shard']}/2: first write {s['first_send_ms']:+.3f}, spread "
                f"{s['spread_ms']:.3f}; first write to first arrival {s['first_lag_ms']:.3f}; "
                f"arrivals first {s['first_arrival_ms']:+.3f}, median "
                f"{s['median_arrival_ms']:+.3f}, last {s['last_arrival_ms']:+.3f}"
                + (
                    f"; on the wire first {s['first_wire_ms']:+.3f} ({s['wire_seen']} seen), "
                    f"the target's loop read it {s['wire_to_loop_ms']:.3f} later"
                    if "first_wire_ms" in s
                    else ""
                )
            )
        m, w = r["merged"], r["unsharded"]
        print(
            f"  counts {'agree' if r['agree'] else 'DIFFER'}: merged "
            f"{_counts(m)} | unsharded {_counts(w)}"
        )
    for key, name in (
        ("first_arrival_diff_ms", "first arrival"),
        ("median_arrival_diff_ms", "median arrival"),
        ("first_send_diff_ms", "first write"),
        ("first_lag_diff_ms", "first write to first arrival"),
        ("first_wire_diff_ms", "first on the wire (kernel stamps)"),
    ):
        diffs = [abs(r[key]) for r in rounds if key in r]
        if not diffs:
            continue
        print(
            f"|shard 2 - shard 1|, {name}: median {statistics.median(diffs):.3f} ms, "
            f"max {max(diffs):.3f} ms; within 1 ms in {sum(d <= 1 for d in diffs)} of {len(diffs)}"
        )
    agreed = sum(r["agree"] for r in rounds)
    print(f"merged counts = unsharded counts in {agreed} of {len(rounds)} rounds")


def _counts(c: dict[str, Any]) -> str:
    errors = sum(c["errors"].values())
    flags = [k for k in ("oversold", "undersold") if c[k]]
    return (
        f"{c['requests']} req, ok {c['ok']}, sold_out {c['sold_out']}, errors {errors}, "
        f"duplicates {c['duplicates']}{', ' + ', '.join(flags) if flags else ''}"
    )


def main() -> None:
    """The rounds, then the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--stock", type=int, default=200)
    parser.add_argument("--ahead-s", type=float, default=4.0, help="--at, ahead of /time")
    parser.add_argument("--apart-s", type=float, default=1.0, help="between the two starts")
    parser.add_argument(
        "--wire",
        action="store_true",
        help="also the kernel's receive stamps of the requests on lo (needs root)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sniper-bench-shards-") as folder:
        rounds = [one_round(n, args, Path(folder)) for n in range(1, args.rounds + 1)]
    if args.json:
        print(json.dumps({**vars(args), "rounds": rounds}))
    else:
        show(rounds, args)


if __name__ == "__main__":
    main()
