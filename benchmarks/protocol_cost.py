"""CPU per request of the store's connection protocol beside uvicorn's own httptools protocol.

    python benchmarks/protocol_cost.py [--requests 50000] [--rounds 5]

Both protocols run in this process on uvloop, with an in-memory transport and a three-line app
that answers 409: one kept-alive connection, the same order request (headers and body in one
read) again and again. What is timed is the process's CPU time per request, which a busy
machine disturbs far less than throughput; rounds alternate, and the lowest and median are shown.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import uvloop
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from sniper.store.protocol import StoreProtocol

REQUEST = (
    b"POST /api/orders HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
    b"Cookie: session=0123456789abcdef0123456789abcdef0123456789abcdef\r\n"
    b'Content-Length: 25\r\n\r\n{"sku_id":"eggs","qty":1}'
)


async def app(scope: Any, receive: Any, send: Any) -> None:
    """Read the body, answer 409."""
    await receive()
    await send(
        {
            "type": "http.response.start",
            "status": 409,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"{}"})


class MemoryTransport(asyncio.Transport):
    """Counts writes; never closes on its own."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes += 1

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(
            name, default
        )

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def cpu_per_request(cls: type[HttpToolsProtocol], requests: int) -> float:
    """Microseconds of CPU per request on one kept-alive connection."""
    config = Config(app=app, http=cls, ws="none", log_level="warning", access_log=False)
    config.load()
    protocol = cls(
        config=config, server_state=ServerState(), app_state={}, _loop=asyncio.get_running_loop()
    )
    transport = MemoryTransport()
    protocol.connection_made(transport)
    for warm_up in (True, False):
        start = time.process_time()
        for _ in range(1000 if warm_up else requests):
            protocol.data_received(REQUEST)
            await asyncio.sleep(0)  # the request's task runs
            await asyncio.sleep(0)
        elapsed = time.process_time() - start
    assert transport.writes >= 2 * requests, "the app did not answer every request"
    protocol.connection_lost(None)
    return elapsed / requests * 1e6


async def measure(args: argparse.Namespace) -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {"uvicorn httptools": [], "StoreProtocol": []}
    for _ in range(args.rounds):
        runs["uvicorn httptools"].append(await cpu_per_request(HttpToolsProtocol, args.requests))
        runs["StoreProtocol"].append(await cpu_per_request(StoreProtocol, args.requests))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runs = uvloop.run(measure(args))
    print(f"protocol_cost: {args.requests} requests x {args.rounds} rounds, CPU µs per request")
    for name, values in runs.items():
        print(f"  {name:18} lowest {min(values):6.2f}  median {statistics.median(values):6.2f}")


if __name__ == "__main__":
    main()
