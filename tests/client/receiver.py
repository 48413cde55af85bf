"""A local HTTP server that records what notification channels send it (real sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import h11

from tests.h11io import LoopbackServer, read_request, response_bytes


@dataclass
class Received:
    """One request as it arrived."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # wall-clock seconds when it arrived


class Receiver(LoopbackServer):
    """``async with Receiver() as r``: ``r.url``, ``r.got``; ``hang=True`` never answers."""

    def __init__(self, *, status: int = 200, hang: bool = False) -> None:
        super().__init__()
        self.status, self.hang = status, hang
        self.got: list[Received] = []

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        with contextlib.suppress(ConnectionError, h11.ProtocolError), contextlib.closing(writer):
            request, body = await read_request(conn, reader)
            if request is None:
                return
            self.got.append(
                Received(
                    request.method.decode(),
                    request.target.decode(),
                    {k.decode().lower(): v.decode() for k, v in request.headers},
                    body,
                    time.time(),
                )
            )
            if self.hang:
                await asyncio.sleep(3600)
            writer.write(
                response_bytes(conn, self.status, b'{"ok": true}', (("Connection", "close"),))
            )
            await writer.drain()
