"""HTTP/1.1 connections of the store: uvicorn's httptools protocol, hardened against clients
that are slow, silent or oversized on purpose.

uvicorn reads a request's headers and body without a deadline and its headers without a size
cap, and bounds connections only by answering 503 to new requests. :class:`StoreProtocol` adds,
per connection:

* a header deadline, from the connection's start (or a request's first byte on a kept-alive
  connection) until the headers are complete: ``408`` and close (a connection that sent nothing
  is just closed);
* a cap on the request line and headers, counted as the bytes arrive and *before* they are
  parsed: ``431`` and close (parsing a 100 MB header line would stall the event loop);
* a body deadline, from the headers until the body is complete: ``408`` and close; the app's
  pending ``receive()`` then sees the client gone, and its late answer is dropped;

and per process a bound on open connections (:class:`ConnectionPool`): a new connection past it
first closes the connection that has been idle or unfinished the longest, never one whose
request is being answered. On shutdown, idle and unfinished connections are closed at once and
requests being answered finish.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

import orjson
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from sniper.store.settings import StoreSettings

#: How long a connection that was answered 408 or 431 may still send before it is cut.
_LINGER_S = 1.0
#: Files a process keeps for itself beyond its connections (database, logs, Redis, metrics).
_FD_RESERVE_MIN = 64


@dataclass(frozen=True)
class ConnectionLimits:
    """How long a request may take to arrive, how big its head may be, how many connections."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 10.0
    max_header_bytes: int = 16_384
    max_connections: int = 10_000

    @classmethod
    def from_settings(cls, settings: StoreSettings, fd_limit: int) -> ConnectionLimits:
        """The limits of ``settings``; the connection bound, unless given, from the process's
        file limit."""
        bound = settings.max_connections or connection_bound(fd_limit)
        return cls(
            settings.header_timeout_s, settings.body_timeout_s, settings.max_header_bytes, bound
        )


def connection_bound(fd_limit: int) -> int:
    """The most connections a process with ``fd_limit`` files should hold: its limit minus a
    reserve (a tenth, at least 64) for the files it needs besides its clients."""
    return max(1, fd_limit - max(_FD_RESERVE_MIN, fd_limit // 10))


class _Phase(Enum):
    WAIT = "wait"  # connected or kept alive, no byte of the next request yet
    HEAD = "head"  # request line and headers arriving
    BODY = "body"  # headers in, body arriving
    DONE = "done"  # request read: being answered


class Evictable(Protocol):
    """What the pool needs of a connection."""

    def evict(self) -> None:
        """Close at once, to make room."""


class ConnectionPool:
    """The open connections of one server process, and which one to close for a new one.

    Connections that may be closed (idle, or with a request still arriving) are kept in the
    order they became so, oldest first; a connection whose request is being answered is out of
    that order until its answer is sent. Every step is O(1).
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0
        self._closable: OrderedDict[Evictable, None] = OrderedDict()

    def opened(self, conn: Evictable) -> None:
        """A new connection: make room for it, closing the oldest closable ones (it may be the
        one closed, if every other connection is being answered)."""
        self.open += 1
        self._closable[conn] = None
        while self.open > self.limit and self._closable:
            self._closable.popitem(last=False)[0].evict()

    def closed(self) -> None:
        """One connection is closed (it has left the closable order already)."""
        self.open -= 1

    def closable(self, conn: Evictable, *, fresh: bool = False) -> None:
        """``conn`` may be closed again; ``fresh``: it counts as the newest."""
        self._closable[conn] = None
        if fresh:
            self._closable.move_to_end(conn)

    def busy(self, conn: Evictable) -> None:
        """``conn`` has a request being answered: it must not be closed for another."""
        self._closable.pop(conn, None)


_POOLS: weakref.WeakKeyDictionary[ServerState, ConnectionPool] = weakref.WeakKeyDictionary()


def _error_response(status: int, code: str, message: str) -> bytes:
    body = orjson.dumps({"error": code, "message": message})
    return b"".join(
        [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body),
            body,
        ]
    )


_TIMEOUT = _error_response(408, "timeout", "the request did not arrive in time")


class StoreProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines, a header cap and a connection bound.

    Pass it to uvicorn as ``functools.partial(StoreProtocol, limits=...)``: a partial of a
    module-level class survives the pickling that ``--workers`` does.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        pool = _POOLS.get(server_state)
        if pool is None:
            pool = _POOLS[server_state] = ConnectionPool(limits.max_connections)
        self._pool = pool
        self._phase = _Phase.WAIT
        self._head_bytes = 0
        self._unanswered = 0  # requests read in full and not answered yet (pipelining: several)
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False  # answered or cut off: no more requests on this connection
        self._gone = False  # out of the pool: closed, or as good as
        self._too_large = _error_response(
            431, "too_large", f"request line and headers over {limits.max_header_bytes} bytes"
        )

    # Connection life

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s)  # from the start: a silent client is closed too
        self._pool.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        super().connection_lost(exc)

    def evict(self) -> None:
        """Close at once to make room for a new connection (the pool has let go of it)."""
        self._close(b"", abort=True)

    def shutdown(self) -> None:
        """Server shutdown: idle and unfinished connections go now; answers in progress finish."""
        if self._unanswered:
            super().shutdown()
        else:
            self._close(b"")

    # Bytes in

    def data_received(self, data: bytes) -> None:
        if self._closing:  # what a cut-off client still sends is read and dropped, unparsed
            return
        if self._phase is _Phase.WAIT:
            self._phase = _Phase.HEAD
            if not self._unanswered:
                self._pool.closable(self, fresh=True)
        if self._phase is _Phase.HEAD:
            room = self.limits.max_header_bytes - self._head_bytes
            if len(data) > room:
                super().data_received(data[:room])
                if self._phase is _Phase.HEAD:
                    self._close(self._too_large)
                    return
                data = data[room:]
            else:
                self._head_bytes += len(data)
        # A head that begins inside this chunk, after an earlier pipelined request, is counted
        # from the next chunk on: at most one read more than the cap, never unbounded.
        super().data_received(data)
        if self._timer is None and not self._unanswered and not self._closing:
            if self._phase is _Phase.HEAD:
                self._arm(self.limits.header_timeout_s)
            elif self._phase is _Phase.BODY:
                self._arm(self.limits.body_timeout_s)

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _Phase.HEAD

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._phase, self._head_bytes = _Phase.BODY, 0
        self._disarm()

    def on_message_complete(self) -> None:
        self._phase = _Phase.DONE
        self._disarm()
        if not self.cycle.response_complete:  # answered early (413) is not being answered
            self._unanswered += 1
            self._pool.busy(self)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # The answered request was counted unless it was answered before its body was in;
        # a request queued behind it (pipelined) was read in full, so the answered one was too.
        if self._unanswered and (self.pipeline or not self.cycle.more_body):
            self._unanswered -= 1
            if not self._unanswered and not self._closing:
                self._pool.closable(self, fresh=True)
                if self._phase is _Phase.DONE:
                    self._phase = _Phase.WAIT  # uvicorn's keep-alive timeout takes over
                elif self._timer is None:  # the next request began meanwhile
                    timeout = self.limits.header_timeout_s
                    if self._phase is _Phase.BODY:
                        timeout = self.limits.body_timeout_s
                    self._arm(timeout)
        super().on_response_complete()

    # Deadlines

    def _arm(self, seconds: float) -> None:
        self._timer = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        self._timer = None
        if self._unanswered or self._closing:
            return
        # No answer where there is no request to answer: a connection that never sent a byte,
        # or a request answered already (413) whose unwanted body is still trickling in.
        answered = self._phase is _Phase.BODY and self.cycle.response_complete
        self._close(b"" if self._phase is _Phase.WAIT or answered else _TIMEOUT)

    # Closing

    def _close(self, answer: bytes, *, abort: bool = False) -> None:
        """Answer (if anything) and close; a request still arriving learns that its client is
        gone: its ``receive()`` returns ``http.disconnect`` and whatever it sends is dropped."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            cycle.disconnected = True
            cycle.message_event.set()
        self._closing = True
        self._disarm()
        if not answer or self.transport.is_closing():
            self._forget()
            if abort:
                self.transport.abort()
            else:
                self.transport.close()
            return
        # Closing with the client's unread bytes in our socket would reset the connection and
        # could destroy the answer before the client reads it: send it, end our side, and drop
        # what still comes for a moment (a lingering close), then cut. The pool may evict it.
        self.transport.write(answer)
        self.transport.write_eof()
        self._timer = self.loop.call_later(_LINGER_S, self.transport.abort)

    def _forget(self) -> None:
        """Leave the pool (once) and stop the deadline: the connection is as good as closed."""
        if not self._gone:
            self._gone = True
            self._disarm()
            self._pool.busy(self)
            self._pool.closed()
