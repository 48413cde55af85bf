"""CPU of `sniper run` while it waits for an opening far away (it should be next to nothing).

    python benchmarks/idle_cpu.py [--opens-in-s 600] [--measure-s 30] [--tasks 1]

Starts a store, writes a task file (``--tasks`` tasks) opening ``--opens-in-s`` from now, starts
``sniper run`` without a terminal, lets it settle, reads its CPU time from /proc over
``--measure-s`` seconds, then stops it with SIGTERM (by pid) and prints the share of one core.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import yaml

from procs import free_port, running

ADMIN = "idle-cpu-admin-token"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opens-in-s", type=float, default=600.0)
    parser.add_argument("--measure-s", type=float, default=30.0)
    parser.add_argument("--tasks", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sniper-idle-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        store = [
            sys.executable,
            "-m",
            "sniper",
            "serve",
            "--port",
            str(port),
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
            opening = datetime.fromtimestamp(now_ms / 1000 + args.opens_in_s, tz=UTC)
            httpx.put(
                f"{url}/admin/items/eggs",
                headers=headers,
                json={
                    "name": "eggs",
                    "price_cents": 1,
                    "stock": 5,
                    "sale_start": opening.isoformat(),
                },
            ).raise_for_status()
            sessions = httpx.post(
                f"{url}/admin/users", headers=headers, json={"count": args.tasks}
            ).json()["users"]
            task_file = Path(tmp) / "tasks.yaml"
            task_file.write_text(
                yaml.safe_dump(
                    {
                        "platform": "store",
                        "base_url": url,
                        "sku_id": "eggs",
                        "target_time": opening.isoformat(),
                        "log_file": f"{tmp}/s.log",
                        "tasks": [
                            {"name": f"t{i}", "cookie": f"session={u['session']}"}
                            for i, u in enumerate(sessions)
                        ],
                    }
                )
            )
            proc = subprocess.Popen(
                [sys.executable, "-m", "sniper", "run", str(task_file)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(5)  # start-up, clock measurement, pre-flight
                before, started = cpu_seconds(proc.pid), time.monotonic()
                time.sleep(args.measure_s)
                used, elapsed = cpu_seconds(proc.pid) - before, time.monotonic() - started
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(10)
    print(
        f"idle_cpu: {args.tasks} task(s) waiting for an opening {args.opens_in_s:g} s away: "
        f"{used:.3f} CPU s in {elapsed:.1f} s = {100 * used / elapsed:.2f} % of one core"
    )


if __name__ == "__main__":
    main()
