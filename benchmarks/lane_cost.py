"""CPU per order request through the store's HTTP protocol and app, in process: the order lane
beside the ASGI path it skips, in the same run.

    python benchmarks/lane_cost.py [--requests 20000] [--orders 6400] [--rounds 5]

The store's connection protocol (``StoreProtocol``) parses real request bytes from an in-memory
transport and the store's app answers them (SQLite backend, group commit): once with the order
lane, as ``sniper serve`` runs, and once without it, each order then going through ASGI
(``HotPath``) as before the lane. Refusals (sold out, not started) come one after another on one
kept-alive connection; created orders from 64 connections at once, so that group commit batches
them as at an opening. What is timed is the process's CPU time per request (the commit thread's
included), which a busy machine disturbs far less than throughput; rounds alternate the two
paths, and the median round is shown with the ratio of the ASGI path's cost to the lane's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import uvloop
from uvicorn.config import Config
from uvicorn.server import ServerState

from order_cost import ADMIN, TOKEN, Caller, put_item
from protocol_cost import MemoryTransport
from sniper.store.app import create_app
from sniper.store.hotpath import ORDER_LANE
from sniper.store.protocol import StoreProtocol
from sniper.store.settings import StoreSettings

CONNECTIONS = 64
#: Buyers, several to a connection: each may buy up to the store's limit (1,000) of an item.
USERS = CONNECTIONS * 16
KINDS = {"sold_out": ("gone", 409), "not_started": ("later", 425), "created": ("plenty", 201)}


class Transport(MemoryTransport):
    """Keeps the head of the latest answer, and says when one was written."""

    def __init__(self) -> None:
        super().__init__()
        self.answers = 0
        self.head = b""  # of the latest answer (the app writes its head and body apart)
        self.written = asyncio.Event()

    def write(self, data: Any) -> None:
        super().write(data)
        if data.startswith(b"HTTP/1.1 "):
            self.answers += 1
            self.head = data
        self.written.set()


def request(sku: str, token: str) -> bytes:
    """``POST /api/orders`` as a client sends it, headers and body in one read."""
    body = orjson.dumps({"sku_id": sku})
    return (
        b"POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
        b"Cookie: session=%s\r\nContent-Length: %d\r\n\r\n%s" % (token.encode(), len(body), body)
    )


class Connections:
    """Kept-alive connections to one app, with or without its order lane."""

    def __init__(self, app: Any, lane: bool, count: int) -> None:
        config = Config(app=app, loop="uvloop", http="httptools", log_level="warning")
        config.load()
        state = {ORDER_LANE: app.state.order_lane} if lane else {}
        self.ends = []
        for _ in range(count):
            transport = Transport()
            protocol = StoreProtocol(config, ServerState(), dict(state), asyncio.get_running_loop())
            protocol.connection_made(transport)
            self.ends.append((protocol, transport))

    async def ask(self, n: int, data: bytes, expected: int) -> None:
        """Send ``data`` on connection ``n`` and wait for its answer."""
        protocol, transport = self.ends[n]
        before = transport.answers
        transport.written.clear()
        protocol.data_received(data)
        while transport.answers == before:
            await transport.written.wait()
            transport.written.clear()
        status = int(transport.head.split(b" ", 2)[1])
        assert status == expected, transport.head

    def close(self) -> None:
        for protocol, _ in self.ends:
            protocol.connection_lost(None)


async def one_round(
    app: Any, lane: bool, tokens: list[str], requests: int, orders: int
) -> dict[str, float]:
    """CPU microseconds per request of each kind, one path."""
    connections = Connections(app, lane, CONNECTIONS)
    figures: dict[str, float] = {}
    try:
        for kind in ("sold_out", "not_started"):
            sku, expected = KINDS[kind]
            data = request(sku, tokens[0])
            await connections.ask(0, data, expected)
            started = time.process_time()
            for _ in range(requests):
                await connections.ask(0, data, expected)
            figures[kind] = (time.process_time() - started) / requests * 1e6
        sku, expected = KINDS["created"]
        each = orders // CONNECTIONS

        async def buyer(n: int) -> None:
            mine = [request(sku, token) for token in tokens[n::CONNECTIONS]]
            for k in range(each):
                await connections.ask(n, mine[k % len(mine)], expected)

        started = time.process_time()
        await asyncio.gather(*(buyer(n) for n in range(CONNECTIONS)))
        figures["created"] = (time.process_time() - started) / (each * CONNECTIONS) * 1e6
    finally:
        connections.close()
    return figures


async def measure(requests: int, orders: int, rounds: int) -> dict[str, dict[str, float]]:
    """The median round of each path, by kind."""
    with tempfile.TemporaryDirectory() as folder:
        settings = StoreSettings(
            store=f"sqlite:///{Path(folder) / 'store.db'}",
            admin_token=TOKEN,
            user_rate_per_s=0,
            cache_ttl_s=3600,  # sessions trusted for the run, as for an opening's minutes
        )
        app = create_app(settings)
        async with app.lifespan():
            call = Caller(app)
            await put_item(call, "plenty", 10**7, "2020-01-01T00:00:00Z")
            await put_item(call, "gone", 0, "2020-01-01T00:00:00Z")
            await put_item(call, "later", 5, "2099-01-01T00:00:00Z")
            status, body = await call("POST", "/admin/users", orjson.dumps({"count": USERS}), ADMIN)
            assert status == 201, body
            tokens = [user["session"] for user in orjson.loads(body)["users"]]
            gone = orjson.dumps({"sku_id": "gone"})
            for token in tokens:  # every session cached, the item known sold out
                await call("POST", "/api/orders", gone, [(b"cookie", f"session={token}".encode())])
            await asyncio.sleep(0.3)
            runs: dict[str, list[dict[str, float]]] = {"lane": [], "asgi": []}
            await one_round(app, True, tokens, requests // 10, CONNECTIONS * 5)  # warm both
            await one_round(app, False, tokens, requests // 10, CONNECTIONS * 5)
            for n in range(rounds):
                for path in ("lane", "asgi") if n % 2 == 0 else ("asgi", "lane"):
                    runs[path].append(
                        await one_round(app, path == "lane", tokens, requests, orders)
                    )
    return {
        path: {kind: statistics.median(r[kind] for r in found) for kind in KINDS}
        for path, found in runs.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=20000, help="refusals of each kind")
    parser.add_argument("--orders", type=int, default=6400, help="created orders a round")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    found = uvloop.run(measure(args.requests, args.orders, args.rounds))
    print(f"lane_cost: CPU µs per request, median of {args.rounds} rounds each")
    print(f"{'':14}{'lane':>8}{'ASGI':>8}{'ASGI/lane':>11}")
    for kind in KINDS:
        lane, asgi = found["lane"][kind], found["asgi"][kind]
        print(f"{kind:14}{lane:8.1f}{asgi:8.1f}{asgi / lane:11.2f}")


if __name__ == "__main__":
    main()
