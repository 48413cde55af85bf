"""A local HTTP server that records what notification channels send it (real sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import h11

from tests.h11io import read_request, response_bytes


@dataclass
class Received:
    """One request as it arrived."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # wall-clock seconds when it arrived


class Receiver:
    """``async with Receiver() as r``: ``r.url``, ``r.got``; ``hang=True`` never answers."""

    def __init__(self, *, status: int = 200, hang: bool = False) -> None:
        self.status, self.hang = status, hang
        self.got: list[Received] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self.url = ""

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._handlers):  # hanging ones too: nothing outlives the test
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

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
