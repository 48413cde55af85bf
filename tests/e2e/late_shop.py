"""A shop on loopback that speaks the store's API and opens late at every published opening.

``GET /api/time`` answers ``{"now_ms"}`` (this machine's clock); ``GET /api/items/{sku}`` the
item, its ``sale_start`` the next published opening; ``GET /api/orders`` an empty list (the
login probe passes); ``POST /api/orders`` answers ``425 not_started`` until ``late_ms`` after
the latest published opening, then ``201`` with an order (one per opening and request id). Every
order request is recorded with the instant its head was read (``time.time()``, epoch ms).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import h11

from tests.h11io import LoopbackServer, read_request, response_bytes


@dataclass(frozen=True)
class OrderRequest:
    """One ``POST /api/orders`` as the shop saw it."""

    at_ms: float  # the shop's clock when its head was read
    status: int


class LateShop(LoopbackServer):
    """``async with LateShop(openings_ms, late_ms=150) as shop``: ``shop.url``, ``shop.orders``."""

    def __init__(self, openings_ms: list[int], *, sku_id: str = "eggs", late_ms: float = 150.0):
        super().__init__()
        self.openings_ms, self.sku_id, self.late_ms = sorted(openings_ms), sku_id, late_ms
        self.orders: list[OrderRequest] = []

    def opens_at(self, published_ms: int) -> float:
        """When the shop really opens for the published opening ``published_ms``."""
        return published_ms + self.late_ms

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        with contextlib.suppress(ConnectionError, h11.ProtocolError), contextlib.closing(writer):
            while True:
                request, body = await read_request(conn, reader)
                if request is None:
                    return
                now_ms = time.time() * 1000
                status, payload = self._answer(request, body, now_ms)
                writer.write(response_bytes(conn, status, json.dumps(payload).encode()))
                await writer.drain()
                conn.start_next_cycle()

    def _answer(self, request: h11.Request, body: bytes, now_ms: float) -> tuple[int, object]:
        method, path = request.method.decode(), request.target.decode().split("?")[0]
        if method == "GET" and path == "/api/time":
            return 200, {"now_ms": int(now_ms)}
        if method == "GET" and path == f"/api/items/{self.sku_id}":
            return 200, self._item(now_ms)
        if method == "GET" and path == "/api/orders":
            return 200, {"orders": []}
        if method == "POST" and path == "/api/orders":
            status, payload = self._order(body, now_ms)
            self.orders.append(OrderRequest(now_ms, status))
            return status, payload
        return 404, {"error": "not_found", "message": "no such route"}

    def _item(self, now_ms: float) -> dict[str, object]:
        upcoming = [p for p in self.openings_ms if p + self.late_ms > now_ms]
        start = upcoming[0] if upcoming else self.openings_ms[-1]
        return {
            "sku_id": self.sku_id,
            "name": self.sku_id,
            "price_cents": 100,
            "stock": 1,
            "sale_start": datetime.fromtimestamp(start / 1000, UTC).isoformat(),
            "limit_per_user": 1000,
            "status": "upcoming" if upcoming else "on_sale",
        }

    def _order(self, body: bytes, now_ms: float) -> tuple[int, dict[str, object]]:
        published = self.openings_ms[: bisect.bisect_right(self.openings_ms, now_ms)]
        if not published or now_ms < self.opens_at(published[-1]):
            return 425, {"error": "not_started", "message": "the sale has not started"}
        request_id = str(json.loads(body).get("request_id", ""))
        return 201, {
            "order_id": f"{published[-1]}-{request_id}"[:64],
            "sku_id": self.sku_id,
            "qty": 1,
            "user": "u",
            "created_ms": int(now_ms),
        }
