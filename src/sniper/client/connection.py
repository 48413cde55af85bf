"""One keep-alive HTTP/1.1 connection: asyncio streams, h11, and request bytes built ahead.

The precise path of a snipe. httpx's pool adds around a millisecond and uneven spread under
concurrency; here the request bytes are built while waiting (:meth:`prepare`) and the send is a
single synchronous ``transport.write`` (:meth:`fire`), so a burst leaves within microseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import h11

from sniper.client.neterrors import failure
from sniper.clock import Clock

# Re-exported: the client imports it from here, beside the connection that raises it.
from sniper.errors import ConnectionBroken as ConnectionBroken  # noqa: PLC0414

_READ_CHUNK = 65536
#: What is kept of an answer's body: order ids, error codes and rules need kilobytes. Past it
#: the rest is not read: the connection is dropped (a hostile server may send without end).
MAX_BODY_BYTES = 65536


@dataclass(frozen=True, slots=True)
class Origin:
    """Where to connect: scheme, host, port."""

    scheme: str
    host: str
    port: int

    @classmethod
    def from_url(cls, url: str) -> Origin:
        """The origin of an http(s) URL."""
        parts = urlsplit(url)
        scheme = parts.scheme
        port = parts.port or (443 if scheme == "https" else 80)
        return cls(scheme, parts.hostname or "", port)

    @property
    def host_header(self) -> str:
        """The Host header value."""
        default = 443 if self.scheme == "https" else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class HttpCall:
    """A request to make: method, target (path and query), headers, body."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class Response:
    """A response and when its last byte arrived (local monotonic ms); ``truncated`` when
    only its first :data:`MAX_BODY_BYTES` were read (then ``received_at`` is when they were)."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    received_at: float
    truncated: bool = False

    def header(self, name: str) -> str | None:
        """The first value of a header (case-insensitive)."""
        lower = name.lower()
        return next((v for k, v in self.headers if k == lower), None)


def ssl_context(origin: Origin, ca_file: Path | None) -> ssl.SSLContext | None:
    """A verifying TLS context for https (with an extra CA file if given), else None."""
    if origin.scheme != "https":
        return None
    return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)


class Connection:
    """A client connection that can hold one prepared request, ready to fire."""

    def __init__(self, origin: Origin, clock: Clock, tls: ssl.SSLContext | None = None) -> None:
        self.origin, self._clock, self._tls = origin, clock, tls
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._h11 = h11.Connection(our_role=h11.CLIENT)
        self._prepared: bytes | None = None

    @property
    def clock(self) -> Clock:
        """The clock this connection times its requests by."""
        return self._clock

    @property
    def is_open(self) -> bool:
        """True while the connection can carry another request."""
        return self._writer is not None and not self._writer.is_closing()

    async def ensure_open(self, timeout_s: float) -> None:
        """Open the connection if it is not (the server may have closed it after an answer)."""
        if not self.is_open:
            await self.open(timeout_s)

    async def open(self, timeout_s: float) -> None:
        """TCP (and TLS) handshake."""
        try:
            async with asyncio.timeout(timeout_s):
                self._reader, self._writer = await asyncio.open_connection(
                    self.origin.host,
                    self.origin.port,
                    ssl=self._tls,
                    server_hostname=self.origin.host if self._tls else None,
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            origin = self.origin
            net = failure(
                exc, scheme=origin.scheme, host=origin.host, port=origin.port, timeout_s=timeout_s
            )
            raise ConnectionBroken(net.text(), net.kind, net) from exc
        self._h11 = h11.Connection(our_role=h11.CLIENT)

    def prepare(self, call: HttpCall) -> None:
        """Build the request bytes now; :meth:`fire` only writes them."""
        headers = [("Host", self.origin.host_header), *call.headers]
        if call.body or call.method in ("POST", "PUT", "PATCH"):
            headers.append(("Content-Length", str(len(call.body))))
        try:
            data = self._h11.send(
                h11.Request(method=call.method, target=call.target, headers=headers)
            )
            if call.body:
                data += self._h11.send(h11.Data(data=call.body))
            data += self._h11.send(h11.EndOfMessage())
        except (h11.LocalProtocolError, UnicodeEncodeError):
            # h11's message quotes the offending header, which may be the cookie: not shown.
            raise ConnectionBroken(
                "cannot build the request (a bad header, or the connection is not ready)"
            ) from None
        self._prepared = data

    def fire(self) -> float:
        """Write the prepared request; returns the local monotonic ms the write began.

        Before, not after: on one machine the write can wake the server and let it answer before
        the call returns, so a time taken afterwards could postdate the server's reading of its
        clock and bias the offset.
        """
        if self._writer is None or self._prepared is None:
            raise ConnectionBroken("nothing prepared, or not connected")
        began = self._clock.monotonic() * 1000
        self._writer.write(self._prepared)
        self._prepared = None
        return began

    async def read_response(self, timeout_s: float) -> Response:
        """Read one whole response (bounded in time)."""
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for drops a cancellation (a signal)
            # that lands as the read completes, and the run would go on to its window's end.
            async with asyncio.timeout(timeout_s):
                return await self._read()
        except TimeoutError as exc:
            self.close()
            raise ConnectionBroken(f"no answer within {timeout_s:g} s") from exc

    async def request(self, call: HttpCall, timeout_s: float) -> Response:
        """Prepare, fire and read one request."""
        self.prepare(call)
        self.fire()
        return await self.read_response(timeout_s)

    async def _read(self) -> Response:
        assert self._reader is not None
        status, body = 0, bytearray()
        headers: tuple[tuple[str, str], ...] = ()
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                self.close()
                raise ConnectionBroken(f"bad HTTP from server: {exc}") from exc
            if event is h11.NEED_DATA:
                await self._receive()
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = tuple((k.decode().lower(), v.decode("latin-1")) for k, v in event.headers)
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY_BYTES:
                    self.close()  # the rest is never read
                    return Response(
                        status,
                        headers,
                        bytes(body[:MAX_BODY_BYTES]),
                        self._clock.monotonic() * 1000,
                        truncated=True,
                    )
            elif isinstance(event, h11.EndOfMessage):
                response = Response(status, headers, bytes(body), self._clock.monotonic() * 1000)
                self._next_cycle()
                return response
            elif isinstance(event, h11.ConnectionClosed):
                self.close()
                raise ConnectionBroken("server closed the connection")

    async def _receive(self) -> None:
        assert self._reader is not None
        try:
            chunk = await self._reader.read(_READ_CHUNK)
        except OSError as exc:
            self.close()
            raise ConnectionBroken(f"connection lost: {exc}") from exc
        self._h11.receive_data(chunk)
        if not chunk and self._h11.their_state is not h11.DONE:
            self.close()
            raise ConnectionBroken("server closed the connection")

    def _next_cycle(self) -> None:
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
        else:  # the server asked to close: this connection is spent
            self.close()

    def close(self) -> None:
        """Close the socket (no wait)."""
        if self._writer is not None:
            self._writer.close()
        self._writer = None
        self._reader = None

    async def aclose(self) -> None:
        """Close and wait until the socket is released."""
        writer = self._writer
        self.close()
        if writer is not None:
            with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
                async with asyncio.timeout(1.0):
                    await writer.wait_closed()
