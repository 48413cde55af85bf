"""A small real HTTP/1.1 server on loopback whose order answers follow a script.

``GET /api/time`` answers its clock (the machine's, shifted by ``skew_ms``); ``GET /api/orders``
answers ``existing`` orders (the session probe and the lookup); each ``POST /api/orders`` gets the
next :class:`Step`. It records every connection and request, so tests can check what the sniper
sent, on which connection and when.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import h11

from tests.h11io import LoopbackServer, read_request, response_bytes


@dataclass(frozen=True)
class Step:
    """One scripted answer: status, JSON body (or ``raw`` bytes), headers, a delay before
    answering, silence, or a body of ``endless`` chunks (sent until the client leaves), or one
    of ``length`` bytes with its Content-Length (streamed, never held)."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: tuple[tuple[str, str | bytes], ...] = ()
    delay_s: float = 0.0
    hang: bool = False
    raw: bytes | None = None
    endless: bool = False
    length: int = 0


def ok(order_id: str = "20240415070000000000001abcdef01") -> Step:
    """A 201 with an order."""
    return Step(
        201, {"order_id": order_id, "sku_id": "eggs", "qty": 1, "user": "u", "created_ms": 0}
    )


def refuse(status: int, code: str, **kwargs: Any) -> Step:
    """A store-style error."""
    return Step(status, {"error": code, "message": code}, **kwargs)


@dataclass
class Seen:
    """A request as the server saw it."""

    method: str
    path: str
    conn: int
    at: float  # the server's monotonic seconds
    headers: dict[str, str]
    body: bytes


class FaultServer(LoopbackServer):
    """Start with ``async with FaultServer(script) as server``; ``server.url`` is its address."""

    def __init__(
        self,
        script: list[Step],
        *,
        skew_ms: float = 0.0,
        existing: list[str] | None = None,
        repeat_last: bool = True,
        tls: ssl.SSLContext | None = None,
        close_each: bool = False,
        dead_cookies: frozenset[str] = frozenset(),
        port: int = 0,
        time_body: bytes | None = None,
        date: str | None = None,
        echo_cookie: bool = False,
        dated: bool = False,
        login: Step | None = None,
    ) -> None:
        super().__init__()
        self.script, self.skew_ms, self.tls, self.port = list(script), skew_ms, tls, port
        self.time_body = time_body  # what /api/time answers instead of the clock
        self.date = date  # a Date header on every answer (else h11 sends none)
        self.dated = dated  # a Date header of the server's clock, as most servers send
        self.login = login  # what POST /api/login answers (else 404)
        self.echo_cookie = echo_cookie  # the request's cookie back, in X-Echo (some servers do)
        self.close_each = close_each
        self.dead_cookies = dead_cookies  # sessions the login probe refuses (401)
        self.existing = existing or []
        self.repeat_last = repeat_last
        self.requests: list[Seen] = []
        self.connections: list[float] = []  # monotonic seconds each was accepted

    def now_ms(self) -> int:
        """The server's clock."""
        return int(time.time() * 1000 + self.skew_ms)

    @property
    def orders(self) -> list[Seen]:
        """The order requests, in arrival order."""
        return [r for r in self.requests if r.method == "POST"]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = len(self.connections)
        self.connections.append(time.monotonic())
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request, body = await read_request(conn, reader)
                if request is None:
                    return
                seen = Seen(
                    request.method.decode(),
                    request.target.decode(),
                    index,
                    time.monotonic(),
                    {k.decode().lower(): v.decode() for k, v in request.headers},
                    body,
                )
                self.requests.append(seen)
                step = self._answer_for(seen)
                if step.hang:
                    await asyncio.sleep(3600)
                if step.delay_s:
                    await asyncio.sleep(step.delay_s)
                extra = self._headers(seen)
                if step.endless or step.length:
                    await _stream(conn, writer, step, extra)
                    return
                payload = step.raw if step.raw is not None else json.dumps(step.body).encode()
                payload = b"" if seen.method == "HEAD" else payload
                writer.write(response_bytes(conn, step.status, payload, (*step.headers, *extra)))
                await writer.drain()
                if self.close_each:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.ProtocolError):
            return
        finally:
            writer.close()

    def _headers(self, seen: Seen) -> tuple[tuple[str, str], ...]:
        close = (("Connection", "close"),) if self.close_each else ()
        date = (("Date", self.date),) if self.date else ()
        if self.dated:
            date = (("Date", formatdate(self.now_ms() / 1000, usegmt=True)),)
        echo = (("X-Echo", seen.headers.get("cookie", "")),) if self.echo_cookie else ()
        return (*close, *date, *echo)

    def _answer_for(self, seen: Seen) -> Step:
        if seen.method == "GET":
            return self._get(seen)
        if seen.method == "POST" and seen.path == "/api/login" and self.login is not None:
            return self.login
        if seen.method == "POST" and seen.path == "/api/orders":
            if len(self.script) > 1 or (self.script and not self.repeat_last):
                return self.script.pop(0)
            if self.script:
                return self.script[0]
        return refuse(404, "not_found")

    def _get(self, seen: Seen) -> Step:
        if seen.path == "/api/time":
            if self.time_body is not None:
                return Step(200, raw=self.time_body)
            return Step(200, {"now_ms": self.now_ms()})
        if seen.path.startswith("/api/items/"):
            return Step(200, {"sku_id": seen.path.rsplit("/", 1)[1], "stock": 1})
        if seen.path.startswith("/api/orders"):
            cookie = seen.headers.get("cookie")
            if not cookie or cookie in self.dead_cookies:
                return refuse(401, "unauthorized")
            orders = [
                {"order_id": o, "sku_id": "eggs", "qty": 1, "user": "u", "created_ms": 0}
                for o in self.existing
            ]
            return Step(200, {"orders": orders})
        return refuse(404, "not_found")


#: An endless body stops here all the same (a test server sends nothing without bound).
_ENDLESS_LIMIT = 4 << 30


async def _stream(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    step: Step,
    headers: tuple[tuple[str, str], ...],
) -> None:
    """A long answer, written as the client reads it: ``step.length`` bytes with their
    Content-Length, or chunks until the client hangs up (or 4 GiB)."""
    size = step.length or _ENDLESS_LIMIT
    declared = (("Content-Length", str(size)),) if step.length else ()
    writer.write(
        conn.send(
            h11.Response(
                status_code=step.status,
                headers=[("Content-Type", "application/json"), *declared, *step.headers, *headers],
            )
        )
    )
    chunk = b'{"order_id": "' + b"9" * 65_522
    for sent in range(0, size, len(chunk)):
        writer.write(conn.send(h11.Data(data=chunk[: size - sent])))
        await writer.drain()
