"""A seckill endpoint that is not our store: the kind an engineer writes for their own flash
sale, run as a process of its own, with deliberately broken modes for the tests of ``sniper
bench`` on any target::

    python tests/bench/seckill_target.py --port P --stock S --users N --users-out users.csv \\
        [--mode ok|oversell|undersell|double] [--duplicate-buyers K] [--sku S1]

At start it makes N users (``u0001``…), each with a random bearer token, and writes them to a
CSV file (header ``user,token``); ``--duplicate-buyers K`` gives the first K users a second
session (a second row, after all the others). Then it serves on 127.0.0.1:

- ``POST /seckill`` (``Authorization: Bearer TOKEN``, JSON ``{"user", "sku", "rid"}``):
  ``200 {"order"}``; ``409 {"err": "sold_out"}``; ``409 {"err": "limit"}`` (one unit per
  buyer); ``401 {"err": "unauthorized"}`` for a token unknown or not that user's. The same
  session and ``rid`` again answers the same order.
- ``GET /count?sku=S1`` ``{"sold"}`` (the orders it holds), ``GET /time`` ``{"now_ms"}``,
  ``GET /arrivals`` ``{"arrivals": [{"user", "ms"}, …]}``: every ``POST /seckill`` in arrival
  order, ``ms`` when its bytes were read (epoch ms, float).

Modes: ``ok`` is correct and atomic; ``oversell`` reads the stock, awaits the database, then
writes what it read minus one (check-then-act: a burst oversells); ``undersell`` says sold out
once half the stock is sold (a stock of 2 or more); ``double`` has no per-buyer check (a
buyer with two sessions gets two units). Every order waits one database round trip
(``DB_S``), so that the requests of a burst really overlap.

HTTP/1.1 keep-alive over plain asyncio, one request at a time per connection, bodies with a
``Content-Length``. Order requests are taken up one per event-loop turn, so that reading a
socket never waits behind the answers to others: an arrival time is when the loop read the
request, not when it got round to answering it.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import itertools
import json
import secrets
import signal
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MODES = ("ok", "oversell", "undersell", "double")
DB_S = 0.002  # one round trip to the database this shop would have
MAX_HEAD = 16 * 1024
MAX_BODY = 16 * 1024
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 409: "Conflict"}

Answer = tuple[int, dict[str, Any]]


@dataclass
class Sale:
    """One item's flash sale: its stock, sessions and orders; ``mode`` says how it is broken."""

    sku: str
    stock: int
    mode: str
    sessions: dict[str, str]  # token -> user
    left: int = field(init=False)
    orders: dict[str, str] = field(default_factory=dict)  # order id -> user
    buyers: set[str] = field(default_factory=set)
    done: dict[tuple[str, str], str] = field(default_factory=dict)  # (token, rid) -> order id
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.left = self.stock

    async def seckill(self, token: str, body: Any) -> Answer:
        """One order request: who asks (the bearer token) and what (the JSON body)."""
        refused = self._refusal(token, body)
        if refused is not None:
            return refused
        user, key = self.sessions[token], (token, body["rid"])
        if key in self.done:
            return 200, {"order": self.done[key]}
        if self.mode == "oversell":
            return await self._check_then_act(user, key)
        return await self._reserve(user, key)

    def _refusal(self, token: str, body: Any) -> Answer | None:
        # Before the sale looks at it: no such session, not the JSON asked for, another
        # user's session, another item.
        user = self.sessions.get(token)
        if user is None:
            return 401, {"err": "unauthorized"}
        if not isinstance(body, dict) or not isinstance(body.get("rid"), str) or not body["rid"]:
            return 400, {"err": "bad_request"}
        if body.get("user") != user:
            return 401, {"err": "unauthorized"}
        if body.get("sku") != self.sku:
            return 404, {"err": "no_such_sku"}
        return None

    async def _reserve(self, user: str, key: tuple[str, str]) -> Answer:
        # Checked and taken with no await in between: atomic on the event loop.
        if self.mode != "double" and user in self.buyers:
            return 409, {"err": "limit"}
        floor = self.stock // 2 if self.mode == "undersell" else 0
        if self.left <= floor:
            return 409, {"err": "sold_out"}
        self.left -= 1
        self.buyers.add(user)
        order = self._record(user, key)
        await asyncio.sleep(DB_S)  # the order's write
        return 200, {"order": order}

    async def _check_then_act(self, user: str, key: tuple[str, str]) -> Answer:
        if user in self.buyers:
            return 409, {"err": "limit"}
        left = self.left
        if left <= 0:
            return 409, {"err": "sold_out"}
        self.buyers.add(user)
        await asyncio.sleep(DB_S)  # the bug: others read the same stock meanwhile
        self.left = left - 1
        return 200, {"order": self._record(user, key)}

    def _record(self, user: str, key: tuple[str, str]) -> str:
        order = f"{self.sku}-{next(self.ids):06d}"
        self.orders[order] = user
        self.done[key] = order
        return order


@dataclass(frozen=True)
class Request:
    """One HTTP request as read, ``at_ms`` when its last bytes came in (epoch ms)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at_ms: float


def parse_request(buffer: bytes, at_ms: float) -> tuple[Request | None, bytes]:
    """The first whole request in ``buffer`` (None until it is all there) and what follows it;
    ValueError for what is not HTTP/1.1 with a ``Content-Length`` body."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise ValueError("head too large")
        return None, buffer
    lines = buffer[:end].decode("latin-1").split("\r\n")
    method, target, _version = lines[0].split(" ")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise ValueError("chunked bodies are not taken")
    length = int(headers.get("content-length", "0"))
    if not 0 <= length <= MAX_BODY:
        raise ValueError("body too large")
    start = end + 4
    if len(buffer) < start + length:
        return None, buffer
    url = urlsplit(target)
    body = buffer[start : start + length]
    request = Request(method, url.path, dict(parse_qsl(url.query)), headers, body, at_ms)
    return request, buffer[start + length :]


def closes(request: Request) -> bool:
    """Whether the client asked to close the connection after this answer."""
    return request.headers.get("connection", "").lower() == "close"


def response_bytes(
    status: int, payload: dict[str, Any], *, close: bool, head_only: bool = False
) -> bytes:
    """A whole HTTP/1.1 response with a JSON body and a ``Date`` header (the head alone for a
    ``HEAD`` request, as HTTP has it: the ``Date`` is what a bench without ``clock:`` reads)."""
    body = json.dumps(payload).encode()
    head = (
        f"HTTP/1.1 {status} {REASONS[status]}\r\n"
        f"Date: {formatdate(usegmt=True)}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Connection: {'close' if close else 'keep-alive'}\r\n\r\n"
    )
    return head.encode() + (b"" if head_only else body)


class Http(asyncio.Protocol):
    """One client connection: requests read as they come, answered one at a time, in order."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.read_ms = 0.0
        self.busy = False
        self.head_only = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.read_ms = time.time() * 1000
        self.buffer += data
        self.next_request()

    def next_request(self) -> None:
        """Hand the next whole request to the app, unless one is being answered."""
        if self.busy or self.transport is None or self.transport.is_closing():
            return
        try:
            request, self.buffer = parse_request(self.buffer, self.read_ms)
        except ValueError:
            self.answer(400, {"err": "bad_request"}, close=True)
            return
        if request is not None:
            self.busy = True
            self.head_only = request.method == "HEAD"
            self.app.handle(request, self)

    def answer(self, status: int, payload: dict[str, Any], *, close: bool = False) -> None:
        """Send the answer to the request in hand, then take up the next one."""
        if self.transport is None or self.transport.is_closing():
            return
        self.transport.write(response_bytes(status, payload, close=close, head_only=self.head_only))
        self.busy = False
        if close:
            self.transport.close()
        else:
            self.next_request()


class App:
    """The routes; order requests wait their turn in a queue, the rest are answered at once."""

    def __init__(self, sale: Sale) -> None:
        self.sale = sale
        self.arrivals: list[dict[str, Any]] = []
        self._waiting: deque[tuple[Request, Any, Http]] = deque()
        self._tasks: set[asyncio.Task[None]] = set()

    def handle(self, request: Request, conn: Http) -> None:
        """Answer ``request`` on ``conn`` (now, or in turn for an order)."""
        if request.method == "POST" and request.path == "/seckill":
            try:
                body = json.loads(request.body)
            except ValueError:
                body = None
            user = body.get("user") if isinstance(body, dict) else None
            self.arrivals.append({"user": user, "ms": request.at_ms})
            self._waiting.append((request, body, conn))
            if len(self._waiting) == 1:
                asyncio.get_running_loop().call_soon(self._take_one)
            return
        status, payload = self._read(request)
        conn.answer(status, payload, close=closes(request))

    def _take_one(self) -> None:
        # One order per loop turn: the sockets that are ready get read between two orders.
        request, body, conn = self._waiting.popleft()
        task = asyncio.create_task(self._order(request, body, conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if self._waiting:
            asyncio.get_running_loop().call_soon(self._take_one)

    async def _order(self, request: Request, body: Any, conn: Http) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            status, payload = 401, {"err": "unauthorized"}
        else:
            status, payload = await self.sale.seckill(token.strip(), body)
        conn.answer(status, payload, close=closes(request))

    def _read(self, request: Request) -> Answer:
        if request.method != "GET":
            return 404, {"err": "not_found"}
        if request.path == "/time":
            return 200, {"now_ms": int(time.time() * 1000)}
        if request.path == "/count" and request.query.get("sku") == self.sale.sku:
            return 200, {"sold": len(self.sale.orders)}
        if request.path == "/arrivals":
            return 200, {"arrivals": self.arrivals}
        return 404, {"err": "not_found"}


def make_users(count: int, duplicate_buyers: int) -> list[tuple[str, str]]:
    """``(user, token)`` rows: ``count`` users, then a second session for the first
    ``duplicate_buyers`` of them."""
    width = max(4, len(str(count)))
    users = [f"u{i:0{width}d}" for i in range(1, count + 1)]
    rows = [(user, secrets.token_urlsafe(18)) for user in users]
    rows += [(user, secrets.token_urlsafe(18)) for user in users[:duplicate_buyers]]
    return rows


def write_users(path: Path, rows: Sequence[tuple[str, str]]) -> None:
    """The users file the bench reads: CSV with a ``user,token`` header."""
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["user", "token"])
        writer.writerows(rows)


async def serve(app: App, port: int, ready: Callable[[], None]) -> None:
    """Serve on 127.0.0.1:``port`` until SIGTERM or SIGINT; ``ready`` once the port is ours
    (a port taken: one line and exit 1, the users file of the server already there untouched)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        server = await loop.create_server(lambda: Http(app), "127.0.0.1", port, backlog=4096)
    except OSError as exc:
        raise SystemExit(
            f"seckill_target: cannot listen on 127.0.0.1:{port}: {exc.strerror}"
        ) from None
    ready()
    await stop.wait()
    server.close()  # open keep-alive connections end with the process


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line (see the module's docstring)."""
    parser = argparse.ArgumentParser(description="A seckill endpoint for the bench's tests.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--stock", type=int, required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--users-out", type=Path, required=True)
    parser.add_argument("--mode", choices=MODES, default="ok")
    parser.add_argument("--duplicate-buyers", type=int, default=0)
    parser.add_argument("--sku", default="S1")
    args = parser.parse_args(argv)
    if not 0 <= args.duplicate_buyers <= args.users:
        parser.error("--duplicate-buyers: must be between 0 and --users")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    """Make the users, write their file, serve."""
    args = parse_args(argv)
    rows = make_users(args.users, args.duplicate_buyers)
    sale = Sale(args.sku, args.stock, args.mode, {token: user for user, token in rows})
    asyncio.run(serve(App(sale), args.port, lambda: write_users(args.users_out, rows)))


if __name__ == "__main__":
    main()
