"""CPU and memory of `sniper run` while it waits for an opening far away (next to nothing).

    python benchmarks/idle_cpu.py [--seconds 60] [--opens-in-s 1800] [--settle-s 10] [--tasks 1]

Starts a store and, side by side, one process per case, each with its stdout on a pipe (as under
systemd or nohup, no terminal), every opening ``--opens-in-s`` from now:

- **floor**: ``python -c "import time; time.sleep(…)"``, what waiting costs at the least;
- **once**: an RFC 3339 ``target_time``: the run starts at once and waits in its own clock loop;
- **daily**: the same instant as a time of day, ``repeat: daily``: the schedule sleeps until the
  run is due (``preflight_s`` + 60 s before the opening);
- **daily, preflight 3600**: the run of that opening has started (its pre-flight is an hour
  ahead), and waits in its own clock loop.

After ``--settle-s`` (start-up, the clock measured, pre-flight) it reads every process's CPU
time (utime + stime from /proc, which count in ticks of 10 ms) and resident memory over the
same ``--seconds``, checks that each process is still waiting, stops each by its pid with SIGTERM
and prints CPU as a share of one core beside the floor's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import yaml

from procs import free_port, running, stop

ADMIN = "idle-cpu-admin-token"
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads, live and ended), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def switches(pid: int) -> int:
    """Context switches of every live thread of a process: about one per wake-up."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:
            continue  # the thread ended meanwhile
        for line in text.splitlines():
            if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                total += int(line.split()[1])
    return total


@dataclass
class Case:
    """One process measured."""

    name: str
    cmd: list[str]
    proc: subprocess.Popen[bytes] | None = None
    lines: list[str] = field(default_factory=list)
    cpu: float = 0.0
    wakes: int = 0
    rss: tuple[float, float] = (0.0, 0.0)
    alive: bool = True


def drain(stream: IO[bytes], into: list[str]) -> None:
    """Read a pipe to its end (so that the process never blocks on a full one)."""
    for raw in stream:
        into.append(raw.decode(errors="replace").rstrip())


def task_file(path: Path, url: str, sessions: list[dict[str, Any]], **fields: Any) -> Path:
    """A task file with one task per session."""
    path.write_text(
        yaml.safe_dump(
            {
                "platform": "store",
                "base_url": url,
                "sku_id": "eggs",
                "log_file": str(path.with_suffix(".log")),
                "history_file": str(path.with_suffix(".jsonl")),
                **fields,
                "tasks": [
                    {"name": f"t{i}", "cookie": f"session={u['session']}"}
                    for i, u in enumerate(sessions)
                ],
            }
        )
    )
    return path


def measure(cases: list[Case], settle_s: float, seconds: float) -> float:
    """Start every case, let them settle, read them over ``seconds``; the interval's length."""
    readers = []
    try:
        for case in cases:
            case.proc = subprocess.Popen(
                case.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            assert case.proc.stdout is not None
            reader = threading.Thread(target=drain, args=(case.proc.stdout, case.lines))
            reader.start()
            readers.append(reader)
        time.sleep(settle_s)
        before = {c.name: (cpu_seconds(pid(c)), switches(pid(c)), rss_mib(pid(c))) for c in cases}
        started = time.monotonic()
        time.sleep(seconds)
        elapsed = time.monotonic() - started
        for case in cases:
            case.alive = case.proc is not None and case.proc.poll() is None
            if case.alive:
                cpu0, wakes0, rss0 = before[case.name]
                case.cpu = cpu_seconds(pid(case)) - cpu0
                case.wakes = switches(pid(case)) - wakes0
                case.rss = (rss0, rss_mib(pid(case)))
        return elapsed
    finally:
        for case in cases:
            if case.proc is not None:
                case.lines.append(f"(exit {stop(case.proc)})")
        for reader in readers:
            reader.join(10)


def pid(case: Case) -> int:
    """The case's process id."""
    assert case.proc is not None
    return case.proc.pid


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="the measured interval")
    parser.add_argument("--opens-in-s", type=float, default=1800.0)
    parser.add_argument("--settle-s", type=float, default=10.0)
    parser.add_argument("--tasks", type=int, default=1, help="tasks in each sniper process")
    args = parser.parse_args()
    if args.opens_in_s < args.settle_s + args.seconds + 400:
        raise SystemExit("--opens-in-s: must leave the whole measurement in the wait")
    with tempfile.TemporaryDirectory(prefix="sniper-idle-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        store = [sys.executable, "-m", "sniper", "serve", "--port", str(port)]
        store += [
            "--store",
            f"sqlite:///{tmp}/s.db",
            "--admin-token",
            ADMIN,
            "--log-level",
            "warning",
        ]
        with running(store, port):
            headers = {"Authorization": f"Bearer {ADMIN}"}
            now_ms = httpx.get(f"{url}/api/time").json()["now_ms"]
            opening = datetime.fromtimestamp(round(now_ms / 1000 + args.opens_in_s), tz=UTC)
            item = {"name": "eggs", "price_cents": 1, "stock": 5, "sale_start": opening.isoformat()}
            httpx.put(f"{url}/admin/items/eggs", headers=headers, json=item).raise_for_status()

            def sessions() -> list[dict[str, Any]]:
                made = httpx.post(f"{url}/admin/users", headers=headers, json={"count": args.tasks})
                users: list[dict[str, Any]] = made.json()["users"]
                return users

            at = opening.isoformat()
            of_day = opening.strftime("%H:%M:%S+00:00")
            files = {
                "once": task_file(Path(tmp, "once.yaml"), url, sessions(), target_time=at),
                "daily": task_file(
                    Path(tmp, "daily.yaml"), url, sessions(), target_time=of_day, repeat="daily"
                ),
                "daily, preflight 3600": task_file(
                    Path(tmp, "daily-pf.yaml"),
                    url,
                    sessions(),
                    target_time=of_day,
                    repeat="daily",
                    preflight_s=3600,
                ),
            }
            floor = f"import time; time.sleep({args.settle_s + args.seconds + 60})"
            cases = [Case("floor (sleep)", [sys.executable, "-c", floor])]
            cases += [
                Case(name, [sys.executable, "-m", "sniper", "run", str(path)])
                for name, path in files.items()
            ]
            elapsed = measure(cases, args.settle_s, args.seconds)
    report(cases, elapsed, args)


def report(cases: list[Case], elapsed: float, args: argparse.Namespace) -> None:
    """The figures, one line per case, then each sniper's own lines."""
    print(
        f"idle_cpu: opening {args.opens_in_s:g} s away, {args.tasks} task(s) per sniper, "
        f"stdout to a pipe, measured {elapsed:.1f} s together after {args.settle_s:g} s "
        f"(CPU counted in {TICK_S * 1000:g} ms ticks: ±{100 * TICK_S / elapsed:.3f} % of a core)"
    )
    print(
        f"{'case':<24} {'CPU s':>7} {'% of a core':>12} {'− floor':>8} "
        f"{'wakes/s':>8} {'RSS MiB start → end':>20}"
    )
    floor = cases[0].cpu
    for case in cases:
        if not case.alive:
            print(f"{case.name:<24} ended before the interval did: " + " | ".join(case.lines[-3:]))
            continue
        share = 100 * case.cpu / elapsed
        print(
            f"{case.name:<24} {case.cpu:>7.3f} {share:>12.3f} "
            f"{100 * (case.cpu - floor) / elapsed:>8.3f} {case.wakes / elapsed:>8.2f} "
            f"{case.rss[0]:>9.1f} → {case.rss[1]:>7.1f}"
        )
    for case in cases[1:]:
        print(f"--- {case.name}: what it printed")
        for line in case.lines:
            print(f"    {line}")


if __name__ == "__main__":
    main()
