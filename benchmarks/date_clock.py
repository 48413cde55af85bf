"""Does the stated clock uncertainty hold against a server whose ``Date`` header trails its clock?

    python benchmarks/date_clock.py [--rounds 8]

Against two uvicorn servers on loopback (``benchmarks/date_app.py``), each started afresh every
round after a random pause (so that a cached ``Date`` is refreshed at a new phase each time):

* **exact**: the app writes ``Date`` from the clock at each request;
* **cached**: uvicorn's own ``Date``, a copy refreshed once a second from a timer (nginx and most
  servers cache it likewise).

Each round measures the server's clock as ``sniper clock URL`` does for a server without
``/api/time``: samples, then probes of the edges of its ``Date`` second. The server runs on this
machine's clock, so the true offset is 0 and the estimate's offset is its error. Printed per
server: the error, the uncertainty stated, the part of it that samples can narrow (what was stated
before the Date lag was allowed for), and whether the true offset lies within what is stated.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

from procs import free_port, running
from sniper.client.connection import Connection, Origin
from sniper.client.probe import TimeSource, measure, wall_offset
from sniper.clock import SystemClock

HERE = Path(__file__).resolve().parent


async def one_estimate(port: int) -> tuple[float, float, float]:
    """(error, stated uncertainty, precision) in ms, from one measurement."""
    clock = SystemClock()
    conn = Connection(Origin("http", "127.0.0.1", port), clock)
    try:
        await conn.open(5.0)
        est, _ = await measure(conn, TimeSource(None), clock, timeout_s=5.0)
    finally:
        await conn.aclose()
    return wall_offset(est, clock), est.uncertainty, est.precision


def serve(app: str, port: int) -> list[str]:
    """The uvicorn command for one of ``date_app``'s apps."""
    own_date = ["--no-date-header"] if app == "exact" else []
    return [
        sys.executable,
        "-m",
        "uvicorn",
        f"date_app:{app}",
        "--app-dir",
        str(HERE),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        *own_date,
    ]


def main() -> None:
    """Interleaved rounds, a table per server."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    rows: dict[str, list[tuple[float, float, float]]] = {"exact": [], "cached": []}
    for _ in range(args.rounds):
        for app, results in rows.items():
            time.sleep(random.random())  # a new phase of the server's Date timer
            port = free_port()
            with running(serve(app, port), port):
                results.append(asyncio.run(one_estimate(port)))
    print("server  round  error ms  stated ±ms  narrowable ±ms  holds  held before")
    for app, results in rows.items():
        for n, (error, stated, precision) in enumerate(results, 1):
            print(
                f"{app:7} {n:5}  {error:+8.2f}  {stated:10.2f}  {precision:14.2f}  "
                f"{'yes' if abs(error) <= stated else 'NO':5}  "
                f"{'yes' if abs(error) <= precision else 'no'}"
            )
    for app, results in rows.items():
        errors = [abs(e) for e, _, _ in results]
        print(
            f"{app}: |error| median {statistics.median(errors):.2f} ms, max {max(errors):.2f} ms;"
            f" stated ± median {statistics.median(s for _, s, _ in results):.2f} ms; "
            f"held {sum(abs(e) <= s for e, s, _ in results)}/{len(results)} "
            f"(before: {sum(abs(e) <= p for e, _, p in results)}/{len(results)})"
        )


if __name__ == "__main__":
    main()
