"""Machine instructions per refusal through the store's HTTP protocol and order lane, counted by
valgrind: a figure a busy or slowed machine does not move, for two builds side by side.

    python benchmarks/refusal_instructions.py [--before /path/to/older/src] [--requests 5000]

The store's connection protocol (``StoreProtocol``) parses the same order request, headers and
body in one read, from an in-memory transport on one kept-alive connection, and the store's app
(SQLite backend, the session cached, the item known sold out or not started) answers it in the
order lane. Each count runs the whole program twice under ``valgrind --tool=cachegrind`` (no
cache simulation), once with 1,000 requests and once with ``--requests`` more: the difference
over ``--requests`` is one request's instructions, start-up and set-up cancelling out. With
``--before`` (``git archive <commit> src | tar -x -C DIR``, then ``DIR/src``) the older build is
counted the same way and the ratio shown. Needs ``valgrind`` (Debian package). Time per
instruction differs by kind of work, so a ratio of instructions is a guide to a ratio of CPU
time, not the same thing: ``store_ab.py`` measures that.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import orjson
import uvloop
from uvicorn.config import Config
from uvicorn.server import ServerState

from lane_cost import request
from order_cost import ADMIN, TOKEN, Caller, put_item
from protocol_cost import MemoryTransport
from sniper.store.app import create_app
from sniper.store.hotpath import ORDER_LANE
from sniper.store.protocol import StoreProtocol
from sniper.store.settings import StoreSettings

HERE = Path(__file__).resolve().parent
KINDS = {"sold_out": "gone", "not_started": "later"}
#: Requests in the shorter of the two runs of a count.
BASE = 1000


async def answer(kind: str, count: int) -> None:
    """Have the lane answer ``count`` requests of ``kind`` (the child's work)."""
    with tempfile.TemporaryDirectory() as folder:
        settings = StoreSettings(
            store=f"sqlite:///{Path(folder) / 'store.db'}",
            admin_token=TOKEN,
            user_rate_per_s=0,
            cache_ttl_s=3600,
        )
        app = create_app(settings)
        async with app.lifespan():
            call = Caller(app)
            await put_item(call, "gone", 0, "2020-01-01T00:00:00Z")
            await put_item(call, "later", 5, "2099-01-01T00:00:00Z")
            status, body = await call("POST", "/admin/users", orjson.dumps({"count": 1}), ADMIN)
            assert status == 201, body
            token = orjson.loads(body)["users"][0]["session"]
            config = Config(app=app, loop="uvloop", http="httptools", log_level="warning")
            config.load()
            transport = MemoryTransport()
            state = {ORDER_LANE: app.state.order_lane}
            loop = asyncio.get_running_loop()
            protocol = StoreProtocol(config, ServerState(), state, loop)
            protocol.connection_made(transport)
            data = request(KINDS[kind], token)
            for _ in range(3):  # the session and the item read from storage, then in memory
                protocol.data_received(data)
                await asyncio.sleep(0.3)
            before = transport.writes
            for _ in range(count):
                protocol.data_received(data)
            assert transport.writes - before == count, "an answer was not written at once"
            protocol.connection_lost(None)


def instructions(valgrind: str, src: Path | None, kind: str, count: int) -> int:
    """Instructions valgrind counted over one whole child run."""
    path = [str(src), str(HERE)] if src is not None else [str(HERE)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "cachegrind.out"
        found = subprocess.run(
            [
                valgrind,
                "--tool=cachegrind",
                "--cache-sim=no",
                f"--cachegrind-out-file={out}",
                sys.executable,
                __file__,
                "--child",
                kind,
                str(count),
            ],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            timeout=1800,
        ).stderr
    refs = re.search(r"I\s+refs:\s+([\d,]+)", found)
    assert refs is not None, found
    return int(refs.group(1).replace(",", ""))


def per_request(valgrind: str, src: Path | None, kind: str, requests: int) -> float:
    """One request's instructions: the difference of two runs over the requests between them."""
    more = instructions(valgrind, src, kind, BASE + requests)
    return (more - instructions(valgrind, src, kind, BASE)) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="the older build's src")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--child", nargs=2, metavar=("KIND", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        uvloop.run(answer(args.child[0], int(args.child[1])))
        return
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        parser.error("valgrind not found: apt-get install valgrind")
    if args.before is not None and not (args.before / "sniper" / "__init__.py").is_file():
        parser.error(f"--before {args.before}: no sniper package there")
    print(f"refusal_instructions: instructions per request, {args.requests} requests a count")
    print(f"{'':14}{'after':>10}" + (f"{'before':>10}{'before/after':>14}" if args.before else ""))
    for kind in KINDS:
        after = per_request(valgrind, None, kind, args.requests)
        line = f"{kind:14}{after:10.0f}"
        if args.before is not None:
            before = per_request(valgrind, args.before.resolve(), kind, args.requests)
            line += f"{before:10.0f}{before / after:14.2f}"
        print(line)


if __name__ == "__main__":
    main()
