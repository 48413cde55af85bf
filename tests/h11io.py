"""The two halves of a tiny HTTP/1.1 server that the test servers share (h11 over asyncio)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

import h11


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
    conn: h11.Connection, status: int, payload: bytes, headers: Iterable[tuple[str, str]] = ()
) -> bytes:
    """A whole JSON response."""
    head = [("Content-Type", "application/json"), ("Content-Length", str(len(payload))), *headers]
    return (
        conn.send(h11.Response(status_code=status, headers=head))
        + conn.send(h11.Data(data=payload))
        + conn.send(h11.EndOfMessage())
    )
