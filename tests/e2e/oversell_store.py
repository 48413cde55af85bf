"""A deliberately broken store: it says yes to every order. The bench's oversell check must
catch it. Real HTTP on loopback (h11), in the test's event loop."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import h11

from tests.h11io import read_request, response_bytes


class OversellingStore:
    """``async with OversellingStore() as store``; ``store.url``."""

    def __init__(self) -> None:
        self.orders: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self._users = itertools.count(1)
        self._tokens: dict[str, str] = {}
        self._server: asyncio.Server | None = None
        self.url = ""

    async def __aenter__(self) -> OversellingStore:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = await read_request(conn, reader)
                if request is None:
                    return
                status, answer = self._answer(request, body)
                writer.write(response_bytes(conn, status, json.dumps(answer).encode()))
                await writer.drain()
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError):
            return
        finally:
            writer.close()

    def _answer(self, request: h11.Request, body: bytes) -> tuple[int, Any]:
        method, path = request.method.decode(), request.target.decode()
        if path == "/api/time":
            return 200, {"now_ms": int(time.time() * 1000)}
        if method == "PUT" and path.startswith("/admin/items/"):
            return 200, {}
        if method == "POST" and path == "/admin/users":
            count = json.loads(body)["count"]
            users = [{"user": f"u{next(self._users)}", "session": f"t{i}"} for i in range(count)]
            return 201, {"users": users}
        if method == "POST" and path == "/api/orders":  # the bug on purpose: never sold out
            cookie = dict(request.headers).get(b"cookie", b"").decode()
            order = {
                "order_id": f"o{next(self._ids)}",
                "sku_id": json.loads(body)["sku_id"],
                "qty": 1,
                "user": cookie,
                "created_ms": int(time.time() * 1000),
            }
            self.orders.append(order)
            return 201, order
        if method == "GET" and path.startswith("/admin/orders"):
            return 200, {"orders": self.orders}
        return 404, {"error": "not_found", "message": "no"}
