"""A local HTTP server that records what notification channels send it (real sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

import h11


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
        request: h11.Request | None = None
        body = b""
        with contextlib.suppress(ConnectionError, h11.ProtocolError), contextlib.closing(writer):
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    if not data:
                        return
                    conn.receive_data(data)
                elif isinstance(event, h11.Request):
                    request = event
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage) and request is not None:
                    self.got.append(Received(
                        request.method.decode(), request.target.decode(),
                        {k.decode().lower(): v.decode() for k, v in request.headers}, body,
                        time.time()))
                    if self.hang:
                        await asyncio.sleep(3600)
                    payload = b'{"ok": true}'
                    writer.write(conn.send(h11.Response(status_code=self.status, headers=[
                        ("Content-Length", str(len(payload))), ("Connection", "close")])))
                    writer.write(conn.send(h11.Data(data=payload)) +
                                 conn.send(h11.EndOfMessage()))
                    await writer.drain()
                    writer.close()
                    return
                else:
                    return
