"""``sniper bench --url`` at 1,000 and 10,000 users against our own store: what one instant costs
the machine that fires it.

For each size, a fresh store (``sniper serve``, one worker, a fresh SQLite file, a free loopback
port) and one ``sniper bench --url … --users N --stock S --json`` process, watched while it runs:

* the send spread (first to last write, ``spread_ms``) and the time from the first send to the
  last answer, from its ``--json`` shots; ok, sold out, errors; oversold and undersold;
* the bench process's peak memory (``VmHWM`` in ``/proc/PID/status`` as last read, and its
  ``ru_maxrss`` from ``wait4``) and its peak open files (``/proc/PID/fd`` counted every
  ``--sample-ms``); its open-files limit as it ran (``/proc/PID/limits``, after ``sniper bench``
  raised its own soft limit). Counting 10,000 files costs about 6 ms of CPU, so the default is
  one count per 100 ms: the peak is a plateau that lasts longer (every connection is open before
  the send and all are closed together after the last answer);
* the store's peak open files over its files before the run (its client connections), and its
  limit;
* the wall time of the whole command, and how late the connections were open (the bench says
  when it fires; the opening is ``--at`` after the store's clock was read, before the users were
  made).

With ``--max-pending-orders`` the store queues that many reservations before it answers ``503
unavailable`` (its default, 4096, is below 10,000 buyers at once).

    python benchmarks/bench_scale.py [--sizes 1000,10000] [--stock 100] [--at +10s]
                                     [--max-pending-orders N] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procs import free_port, running

ADMIN_TOKEN = "bench-scale-admin-token"  # noqa: S105  # a throwaway store on loopback


@dataclass
class Watch:
    """Peaks of a process's open files and resident memory, sampled on a thread of ours."""

    pid: int
    every_s: float
    peak_fds: int = 0
    peak_hwm_kib: int = 0
    limit: str = ""
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Sample until :meth:`stop` (or the process is gone)."""
        while not self._stop.is_set():
            try:
                self.peak_fds = max(self.peak_fds, len(os.listdir(f"/proc/{self.pid}/fd")))
                self.peak_hwm_kib = max(self.peak_hwm_kib, _hwm_kib(self.pid))
                self.limit = _fd_limit(self.pid) or self.limit
            except (FileNotFoundError, ProcessLookupError):
                return  # the process has ended (a zombie has no fd folder)
            self.samples += 1
            self._stop.wait(self.every_s)

    def stop(self) -> None:
        """Stop sampling."""
        self._stop.set()


def _hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def _fd_limit(pid: int) -> str:
    """The ``Max open files`` soft/hard limits of a process."""
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return f"{soft}/{hard}"
    return ""


def started(watch: Watch) -> threading.Thread:
    """``watch`` running on a daemon thread."""
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    return thread


def serve_cmd(port: int, db: Path) -> list[str]:
    """The store as the run starts it: one worker, a fresh SQLite file, quiet."""
    return [
        *(sys.executable, "-m", "sniper", "serve", "--port", str(port)),
        *("--store", f"sqlite:///{db}", "--admin-token", ADMIN_TOKEN),
        *("--log-level", "warning"),
    ]


def store_env(args: argparse.Namespace) -> dict[str, str] | None:
    """The store's settings the command line has no flag for."""
    if args.max_pending_orders is None:
        return None
    return {"SNIPER_MAX_PENDING_ORDERS": str(args.max_pending_orders)}


def one_size(users: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """A fresh store and one ``sniper bench --url`` of ``users`` users against it, watched."""
    port = free_port()
    db = tmp / f"store-{users}.db"
    with running(serve_cmd(port, db), port, env=store_env(args)) as store:
        store_before = len(os.listdir(f"/proc/{store.pid}/fd"))
        store_watch = Watch(store.pid, args.sample_ms / 1000)
        store_thread = started(store_watch)
        cmd = [
            *(sys.executable, "-m", "sniper", "bench", "--url", f"http://127.0.0.1:{port}"),
            *("--admin-token", ADMIN_TOKEN, "--users", str(users), "--stock", str(args.stock)),
            *("--at", args.at, "--json"),
        ]
        out = tmp / f"bench-{users}.json"
        begun = time.monotonic()
        with out.open("w") as sink:
            bench = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.PIPE)
        watch = Watch(bench.pid, args.sample_ms / 1000)
        thread = started(watch)
        try:
            _, status, usage = os.wait4(bench.pid, 0)
        except BaseException:
            bench.kill()
            raise
        wall_s = time.monotonic() - begun
        bench.returncode = os.waitstatus_to_exitcode(status)
        watch.stop()
        thread.join()
        store_watch.stop()
        store_thread.join()
        stderr = bench.stderr.read().decode(errors="replace") if bench.stderr else ""
    report = json.loads(out.read_text()) if out.stat().st_size else {}
    return {
        "users": users,
        "exit": bench.returncode,
        "stderr": stderr.strip()[-400:],
        "wall_s": round(wall_s, 2),
        "bench": {
            "peak_fds": watch.peak_fds,
            "vm_hwm_mib": round(watch.peak_hwm_kib / 1024, 1),
            "maxrss_mib": round(usage.ru_maxrss / 1024, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
            "fd_limit": watch.limit,
            "samples": watch.samples,
        },
        "store": {
            "files_before": store_before,
            "peak_fds": store_watch.peak_fds,
            "peak_connections": store_watch.peak_fds - store_before,
            "fd_limit": store_watch.limit,
        },
        **figures(report),
    }


def figures(report: dict[str, Any]) -> dict[str, Any]:
    """What the bench's own ``--json`` says: counts, spread, first send to last answer, and how
    far after the opening the first request was written."""
    if not report:
        return {}
    shots = report["shots"]  # [index, user, sent_ms, done_ms, status, code]
    first_sent = min(s[2] for s in shots)
    last_done = max(s[3] for s in shots)
    return {
        "requests": report["requests"],
        "ok": report["ok"],
        "sold_out": report["sold_out"],
        "errors": report["errors"],
        "oversold": report["oversold"],
        "undersold": report["undersold"],
        "spread_ms": report["spread_ms"],
        "first_send_to_last_answer_ms": round(last_done - first_sent, 1),
        "first_send_after_opening_ms": round(first_sent - report["opening_ms"], 1),
        "latency_ms": report["latency_ms"],
    }


def show(runs: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """One block per size."""
    print(
        f"bench_scale: stock {args.stock}, --at {args.at}, one store worker (SQLite), "
        f"max pending orders {args.max_pending_orders or 'default'}, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, sampled every {args.sample_ms} ms"
    )
    for r in runs:
        b, s = r["bench"], r["store"]
        print(f"users {r['users']}: exit {r['exit']}, wall {r['wall_s']:.2f} s")
        if "requests" not in r:
            print(f"  no report: {r['stderr']}")
            continue
        lat = r["latency_ms"]
        print(
            f"  requests {r['requests']}, ok {r['ok']}, sold_out {r['sold_out']}, "
            f"errors {r['errors'] or 0}, oversold {r['oversold']}, undersold {r['undersold']}"
        )
        print(
            f"  spread {r['spread_ms']:.1f} ms, first send to last answer "
            f"{r['first_send_to_last_answer_ms']:.1f} ms, first send "
            f"{r['first_send_after_opening_ms']:+.1f} ms from the opening; latency p50 "
            f"{lat.get('p50')} p99 {lat.get('p99')} max {lat.get('max')} ms"
        )
        print(
            f"  bench process: peak files {b['peak_fds']} (limit {b['fd_limit']}), peak RSS "
            f"{b['vm_hwm_mib']} MiB (VmHWM) / {b['maxrss_mib']} MiB (ru_maxrss), "
            f"CPU {b['cpu_s']} s"
        )
        print(
            f"  store: files {s['files_before']} before, peak {s['peak_fds']} "
            f"(+{s['peak_connections']} connections; limit {s['fd_limit']})"
        )


def main() -> None:
    """Each size in turn, then the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000", help="users per run, comma-separated")
    parser.add_argument("--stock", type=int, default=100)
    parser.add_argument(
        "--at",
        default="+10s",
        help="sniper bench --at: from the store's clock read before the users are made",
    )
    parser.add_argument(
        "--sample-ms",
        type=float,
        default=100.0,
        help="how often the open files are counted (a count of 10,000 costs ~6 ms of CPU)",
    )
    parser.add_argument(
        "--max-pending-orders",
        type=int,
        help="the store's reservations queued before 503 (its default: 4096)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    sizes = [int(n) for n in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="sniper-bench-scale-") as folder:
        runs = [one_size(n, args, Path(folder)) for n in sizes]
    if args.json:
        print(json.dumps({**vars(args), "runs": runs}))
    else:
        show(runs, args)


if __name__ == "__main__":
    main()
