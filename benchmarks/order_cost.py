"""CPU per order request through the whole store app, in process: created, sold out, not started.

    python benchmarks/order_cost.py [--orders 12000] [--refusals 20000] [--concurrency 64]

The store's ASGI app (hot path, service, cache, SQLite backend with its group commit) runs in this
process on uvloop and is called with ASGI messages directly, no sockets: created orders come from
``--concurrency`` callers at once (so that group commit batches them, as at an opening), refusals
one after another. What is timed is the process's CPU time per request (the commit thread's
included), which a busy machine disturbs far less than ``store_flood.py``'s throughput. Run it on
two builds, alternated, to compare them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import orjson
import uvloop

from sniper.store.app import create_app
from sniper.store.settings import StoreSettings

TOKEN = "order-cost-admin-token-0123"  # noqa: S105 - a private in-process store's token
ADMIN = [(b"authorization", f"Bearer {TOKEN}".encode())]
#: The stock of the item the created orders buy, and each buyer's limit: never the bottleneck.
STOCK, LIMIT = 10**7, 1000


async def call_app(
    app: Any,
    method: str,
    path: str,
    body: bytes,
    headers: list[tuple[bytes, bytes]],
    *,
    query: bytes = b"",
    state: dict[str, Any] | None = None,
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """One request to an ASGI app, with ASGI messages in memory: status, headers and body."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "headers": headers,
        "scheme": "http",
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
        "root_path": "",
        "state": {} if state is None else state,
    }
    message = {"type": "http.request", "body": body, "more_body": False}
    answer: dict[str, Any] = {"headers": [], "body": b""}

    async def receive() -> dict[str, Any]:
        return message

    async def send(sent: MutableMapping[str, Any]) -> None:
        if sent["type"] == "http.response.start":
            answer["status"] = sent["status"]
            answer["headers"] = list(sent.get("headers", []))
        else:
            answer["body"] += sent.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["headers"], answer["body"]


class Caller:
    """ASGI requests to one app, answered in memory."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(
        self,
        method: str,
        path: str,
        body: bytes = b"",
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> tuple[int, bytes]:
        """Status and body of one request."""
        sent = [
            (b"host", b"store"),
            (b"content-type", b"application/json"),
            *(headers or []),
            (b"content-length", str(len(body)).encode()),
        ]
        status, _, answer = await call_app(self.app, method, path, body, sent)
        return status, answer


async def put_item(call: Caller, sku: str, stock: int, start: str) -> None:
    """Create one item through the admin API."""
    item = {"name": sku, "price_cents": 1, "stock": stock, "sale_start": start}
    status, body = await call(
        "PUT", f"/admin/items/{sku}", orjson.dumps({**item, "limit_per_user": LIMIT}), ADMIN
    )
    assert status == 200, body


async def measure(orders: int, refusals: int, concurrency: int) -> dict[str, float]:
    """Microseconds of CPU per request, by kind."""
    with tempfile.TemporaryDirectory() as folder:
        settings = StoreSettings(
            store=f"sqlite:///{Path(folder) / 'store.db'}", admin_token=TOKEN, user_rate_per_s=0
        )
        app = create_app(settings)
        async with app.lifespan():
            call = Caller(app)
            await put_item(call, "plenty", STOCK, "2020-01-01T00:00:00Z")
            await put_item(call, "gone", 0, "2020-01-01T00:00:00Z")
            await put_item(call, "later", 5, "2099-01-01T00:00:00Z")
            status, body = await call(
                "POST", "/admin/users", orjson.dumps({"count": concurrency}), ADMIN
            )
            assert status == 201, body
            cookies = [
                [(b"cookie", f"session={user['session']}".encode())]
                for user in orjson.loads(body)["users"]
            ]
            figures: dict[str, float] = {}

            async def buyer(cookie: list[tuple[bytes, bytes]], count: int) -> None:
                order = orjson.dumps({"sku_id": "plenty"})
                for _ in range(count):
                    status, body = await call("POST", "/api/orders", order, cookie)
                    assert status == 201, body

            each = orders // concurrency
            await asyncio.gather(*(buyer(cookie, 5) for cookie in cookies))  # warm
            started = time.process_time()
            await asyncio.gather(*(buyer(cookie, each) for cookie in cookies))
            figures["created"] = (time.process_time() - started) / (each * concurrency) * 1e6

            for kind, sku, expected in (("sold_out", "gone", 409), ("not_started", "later", 425)):
                order = orjson.dumps({"sku_id": sku})
                for i in range(300):  # the cache learns the item (sold out: in the background)
                    await call("POST", "/api/orders", order, cookies[i % concurrency])
                await asyncio.sleep(0.2)
                started = time.process_time()
                for i in range(refusals):
                    status, body = await call(
                        "POST", "/api/orders", order, cookies[i % concurrency]
                    )
                figures[kind] = (time.process_time() - started) / refusals * 1e6
                assert status == expected, body
            return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=12_000)
    parser.add_argument("--refusals", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = uvloop.run(measure(args.orders, args.refusals, args.concurrency))
    if args.json:
        print(json.dumps(figures))
    else:
        print("CPU per request, µs: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
