"""A local HTTP server that records each request as it arrived on the wire: method, path, raw
query, every header in order with its name's own case, and the body's bytes (real sockets)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from email.utils import formatdate

import h11

from tests.h11io import LoopbackServer, read_request


@dataclass(frozen=True)
class Captured:
    """One request: ``query`` is the raw text after ``?`` (None without a ``?``)."""

    method: str
    path: str
    query: str | None
    headers: tuple[tuple[str, str], ...]
    body: bytes


_ORDERED = b'{"order_id": "A1"}'


def _answer(conn: h11.Connection, head: bool) -> bytes:
    """A 200 with an order id (to a HEAD: its head alone, as h11 requires)."""
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(_ORDERED))),
        ("Date", formatdate(usegmt=True)),
    ]
    data = conn.send(h11.Response(status_code=200, headers=headers)) or b""
    if not head:
        data += conn.send(h11.Data(data=_ORDERED)) or b""
    return data + (conn.send(h11.EndOfMessage()) or b"")


class CaptureServer(LoopbackServer):
    """``async with CaptureServer() as s``: ``s.url``, ``s.got``. Every answer is a 200 with an
    order id and a Date header (a clock the ``http`` platform can read)."""

    def __init__(self) -> None:
        super().__init__()
        self.got: list[Captured] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        with contextlib.suppress(ConnectionError, h11.ProtocolError), contextlib.closing(writer):
            # Keep-alive: a client may send several requests on one connection (bounded).
            for _ in range(100):
                request, body = await read_request(conn, reader)
                if request is None:
                    return
                target = request.target.decode("latin-1")
                path, mark, query = target.partition("?")
                self.got.append(
                    Captured(
                        request.method.decode(),
                        path,
                        query if mark else None,
                        tuple(
                            (name.decode("latin-1"), value.decode("latin-1"))
                            for name, value in request.headers.raw_items()
                        ),
                        body,
                    )
                )
                writer.write(_answer(conn, request.method == b"HEAD"))
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
