"""What the test servers share: a real server on loopback, and the two halves of a tiny HTTP/1.1
exchange (h11 over asyncio)."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable
from typing import Self

import h11


class LoopbackServer:
    """``async with`` it: a real server on 127.0.0.1 (``port``, 0 for a free one; TLS with
    ``tls``), ``url`` where it is. Each connection is served by :meth:`_serve` in a task of its
    own; on leaving, every one is cancelled (hanging ones too: nothing outlives the test)."""

    port = 0
    tls: ssl.SSLContext | None = None

    def __init__(self) -> None:
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, ssl=self.tls
        )
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"https://localhost:{port}" if self.tls else f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 2)

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError


async def read_request(
    conn: h11.Connection, reader: asyncio.StreamReader
) -> tuple[h11.Request | None, bytes]:
    """The next request and its body, or ``(None, b"")`` once the client is gone."""
    request, body = None, b""
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            conn.receive_data(data)
            if not data:
                return None, b""
        elif isinstance(event, h11.Request):
            request = event
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            return request, body
        else:  # ConnectionClosed, or a client that misbehaves
            return None, b""


def response_bytes(
    conn: h11.Connection,
    status: int,
    payload: bytes,
    headers: Iterable[tuple[str, str | bytes]] = (),
) -> bytes:
    """A whole JSON response (a header value as bytes goes as it is, UTF-8 say)."""
    given = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))), *headers]
    head = [(k.encode(), v if isinstance(v, bytes) else v.encode()) for k, v in given]
    return (
        conn.send(h11.Response(status_code=status, headers=head))
        + conn.send(h11.Data(data=payload))
        + conn.send(h11.EndOfMessage())
    )
