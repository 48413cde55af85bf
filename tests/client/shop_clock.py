"""A tiny real shop on loopback with a clock of its own (this machine's, shifted by ``skew_ms``).

``GET /api/serverTime`` answers ``{"code": 0, "data": {"now": <epoch seconds, a float>}}``;
``POST /api/order`` answers an order; anything else a 200 with the shop's ``Date``. Every request
is recorded with the connection it came on and the shop's time at its arrival.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from email.utils import formatdate

import h11

from tests.h11io import LoopbackServer, read_request, response_bytes

TIME_PATH = "/api/serverTime"


@dataclass(frozen=True)
class Arrived:
    """A request as the shop saw it."""

    method: str
    target: str
    conn: int
    shop_ms: float  # the shop's clock when it arrived


class ShopServer(LoopbackServer):
    """``async with ShopServer(skew_ms=1500) as shop``: ``shop.url``, ``shop.requests``."""

    def __init__(self, skew_ms: float = 0.0) -> None:
        super().__init__()
        self.skew_ms = skew_ms
        self.requests: list[Arrived] = []
        self._connections = 0

    def now_ms(self) -> float:
        """The shop's clock."""
        return time.time() * 1000 + self.skew_ms

    def paths(self, method: str, target: str) -> list[Arrived]:
        """The requests of one method and target."""
        return [r for r in self.requests if (r.method, r.target) == (method, target)]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self._connections
        self._connections += 1
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request, _ = await read_request(conn, reader)
                if request is None:
                    return
                now = self.now_ms()
                method, target = request.method.decode(), request.target.decode()
                self.requests.append(Arrived(method, target, index, now))
                status, body = self._answer(method, target, now)
                date = (("Date", formatdate(now / 1000, usegmt=True)),)
                writer.write(response_bytes(conn, status, b"" if method == "HEAD" else body, date))
                await writer.drain()
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError):
            return
        finally:
            writer.close()

    def _answer(self, method: str, target: str, now: float) -> tuple[int, bytes]:
        if method == "GET" and target == TIME_PATH:
            return 200, json.dumps({"code": 0, "data": {"now": now / 1000}}).encode()
        if method == "POST" and target == "/api/order":
            return 201, b'{"code": 0, "order_id": "SHOP-1"}'
        return 200, b"{}"
