"""Which server serves the store best: uvicorn (as ``sniper serve`` runs it) or granian.

Each server runs its raw app (the ceiling) and the same store code (SQLite, one worker,
``synchronous=FULL``), and one ``wrk`` (the request bytes of ``store_flood.py``) floods each in
interleaved rounds: the ceiling, orders while stock lasts, the sold-out flood. The store on
uvicorn is ``sniper serve`` itself (its connection protocol with deadlines and caps, and the
order lane); on granian it is the same app (``sniper.store.app:worker_app``) without that
protocol, which only uvicorn can take: the figure says what the store would gain from granian's
HTTP layer, before what it would lose. ``rsgi`` is granian's own interface, lighter than ASGI,
with the store's order lane answering orders (``rsgi_lane.py``): the most a change of server
could give. Ratios are to the best raw ASGI figure, as ``store_flood.py``'s.

    .venv/bin/python benchmarks/server_choice.py [--rounds 3] [--duration 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from pydantic import SecretStr

import store_flood
from procs import running
from sniper.store.process import free_port
from sniper.store.settings import WORKER_ENV, StoreSettings
from store_flood import granian_cmd

HERE = Path(__file__).resolve().parent
SERVERS = ("uvicorn", "granian", "rsgi")
#: The servers whose raw app is a ceiling: the issue's ratios are to the best raw ASGI figure.
ASGI_SERVERS = ("uvicorn", "granian")
PHASES = ("ceiling", "orders", "sold out")


def store_settings(tmp: Path, port: int, args: argparse.Namespace) -> StoreSettings:
    """The store as ``store_flood.py`` runs it."""
    return StoreSettings(
        port=port,
        store=f"sqlite:///{tmp / 'store.db'}",
        admin_token=SecretStr(store_flood.ADMIN_TOKEN),
        user_rate_per_s=0,
        log_level="warning",
        sqlite_synchronous=args.synchronous,
    )


def main() -> None:
    """Run the rounds and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians shown")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    args.workers = 1

    runs: dict[str, dict[str, list[float]]] = {s: {p: [] for p in PHASES} for s in SERVERS}
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        ports = {}
        for server in SERVERS:
            ports[server] = serve_pair(server, Path(tmp) / server, args, stack)
        for n in range(args.rounds):
            for server in SERVERS:
                one = run_round(server, ports[server], n, args)
                for phase in PHASES:
                    runs[server][phase].append(one[phase])
    report(runs, args)


def serve_pair(
    server: str, tmp: Path, args: argparse.Namespace, stack: ExitStack
) -> dict[str, Any]:
    """The ceiling and the store on ``server``, started; their ports, tokens and item names."""
    tmp.mkdir()
    raw_port, store_port = free_port(), free_port()
    if server == "uvicorn":
        stack.enter_context(running(store_flood.raw_cmd(raw_port, args), raw_port))
        cmd = store_flood.serve_cmd(
            [sys.executable, "-m", "sniper"], store_port, f"sqlite:///{tmp / 'store.db'}", tmp, args
        )
        stack.enter_context(running(cmd, store_port))
    else:
        raw_app, store_app = (
            ("raw_asgi:app", "sniper.store.app:worker_app")
            if server == "granian"
            else ("rsgi_lane:raw", "rsgi_lane:store")
        )
        interface = "asgi" if server == "granian" else "rsgi"
        here = {"PYTHONPATH": str(HERE)}
        stack.enter_context(
            running(granian_cmd(raw_port, raw_app, interface=interface), raw_port, env=here)
        )
        settings = store_settings(tmp, store_port, args)
        stack.enter_context(
            running(
                granian_cmd(store_port, store_app, factory=True, interface=interface),
                store_port,
                env={**here, WORKER_ENV: settings.to_worker_env()},
            )
        )
    base = f"http://127.0.0.1:{store_port}"
    tokens = tmp / "tokens"
    store_flood.make_users(base, tokens, args.users)
    store_flood.put_item(base, "gone", 0)
    return {"raw": raw_port, "store": store_port, "base": base, "tokens": tokens}


def run_round(
    server: str, ports: dict[str, Any], n: int, args: argparse.Namespace
) -> dict[str, float]:
    """One round on one server: req/s of each phase."""
    sku = f"stock-{n}"
    store_flood.put_item(ports["base"], sku, 10_000_000)

    def measure(port: int, item: str) -> dict[str, Any]:
        return store_flood.measure(port, ports["tokens"], item, args)

    return {
        "ceiling": measure(ports["raw"], "gone")["rps"],
        "orders": measure(ports["store"], sku)["rps"],
        "sold out": measure(ports["store"], "gone")["rps"],
    }


def report(runs: dict[str, dict[str, list[float]]], args: argparse.Namespace) -> None:
    """Medians per server and phase, and each over the best ceiling."""
    medians = {s: {p: statistics.median(v) for p, v in runs[s].items()} for s in SERVERS}
    best = max(medians[s]["ceiling"] for s in ASGI_SERVERS)
    if args.json:
        print(json.dumps({"rounds": runs, "medians": medians, "best_ceiling": best}))
        return
    print(
        f"server_choice: SQLite store, 1 worker, {args.connections} connections, "
        f"{args.duration:g} s per run, median of {args.rounds} rounds, "
        f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
    )
    print(f"{'':10}{'phase':>10}{'req/s':>10}{'x best ceiling':>16}  rounds")
    for server in SERVERS:
        for phase in PHASES:
            value = medians[server][phase]
            rounds = ", ".join(f"{r:.0f}" for r in runs[server][phase])
            print(f"{server:10}{phase:>10}{value:>10.0f}{value / best:>16.2f}  [{rounds}]")


if __name__ == "__main__":
    main()
