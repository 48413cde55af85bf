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
first closes the idle or unfinished connection that has been quiet the longest, never one whose
request is being answered. On shutdown, idle and unfinished connections are closed at once and
requests being answered finish.

It also writes the answers of the app's order lane (:class:`~sniper.store.hotpath.OrderLane`):
``POST /api/orders`` as clients send it is taken when its headers are in, with no ASGI scope,
request cycle or messages (a :class:`LaneCycle` stands for it), and answered once its body is:
at once when the store knows the answer in memory (the flood of refusals at an opening), else
from a task of the lane's own. Any other request, an order in an unusual form among them (a
query string, an absolute URL, ``Expect: 100-continue``), runs the app as uvicorn would.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from uvicorn._types import ASGI3Application
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState

from sniper.errors import HeadersTooLarge, RequestTimeout, StoreError
from sniper.store.hotpath import ORDER_LANE, Claim, OrderLane
from sniper.store.http import ORDER_PATH, Answer, render_error
from sniper.store.schemas import OrderBody
from sniper.store.settings import StoreSettings

#: Busy connections the pool passes over, at most, to find one to close for a new one.
_BUSY_SKIPS = 64
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


DEFAULT_LIMITS = ConnectionLimits()


def connection_bound(fd_limit: int) -> int:
    """The most connections a process with ``fd_limit`` files should hold: its limit minus a
    reserve (a tenth, at least 64) for the files it needs besides its clients."""
    return max(1, fd_limit - max(_FD_RESERVE_MIN, fd_limit // 10))


class Evictable(Protocol):
    """What the pool needs of a connection."""

    def busy(self) -> bool:
        """Whether a request read in full is being answered on it."""

    def evict(self) -> None:
        """Close at once, to make room."""


class ConnectionPool:
    """The open connections of one server process, the one quiet the longest first, and which
    to close when a new one would exceed the limit.

    A connection moves to the back whenever bytes arrive on it. Past the limit the front one is
    closed, unless its request is being answered: then it goes to the back and the next one is
    tried, at most ``_BUSY_SKIPS`` times, so that each step stays O(1); when every one tried was
    busy, the new connection itself is closed.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.order: OrderedDict[Evictable, None] = OrderedDict()

    def opened(self, conn: Evictable) -> None:
        """A new connection: make room for it."""
        order = self.order
        order[conn] = None
        skips = _BUSY_SKIPS
        while len(order) > self.limit:
            victim = next(iter(order))
            if victim is not conn and victim.busy():
                if not skips:
                    victim = conn
                else:
                    skips -= 1
                    order.move_to_end(victim)
                    continue
            del order[victim]
            victim.evict()

    def closed(self, conn: Evictable) -> None:
        """``conn`` is closed: it no longer counts."""
        self.order.pop(conn, None)


#: uvicorn's handling of a read, called without ``super()`` on this per-read path.
_feed = HttpToolsProtocol.data_received

_POOLS: weakref.WeakKeyDictionary[ServerState, ConnectionPool] = weakref.WeakKeyDictionary()
#: Per server, the bytes of the lane's refusals: at an opening the same few (each with the second's
#: ``Date``) go out by the thousand. Cleared when full.
_REFUSALS: weakref.WeakKeyDictionary[ServerState, dict[tuple[Answer, bool], bytes]] = (
    weakref.WeakKeyDictionary()
)
_MAX_REFUSALS = 64


def _response(answer: Answer, *, close: bool, first: Sequence[tuple[bytes, bytes]] = ()) -> bytes:
    """The whole HTTP response to ``answer``, its headers after ``first`` (uvicorn's defaults),
    as the app's answer would be written."""
    status, body, headers = answer
    lines = [STATUS_LINE[status]]
    lines.extend(b"%s: %s\r\n" % header for header in first)
    lines.append(b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body))
    lines.extend(b"%s: %s\r\n" % header for header in headers)
    lines.append(b"connection: close\r\n\r\n" if close else b"\r\n")
    lines.append(body)
    return b"".join(lines)


def _error_response(error: StoreError) -> bytes:
    """The whole HTTP response, ``Connection: close``, to an error met before the app."""
    return _response(render_error(error), close=True)


_TIMEOUT = _error_response(RequestTimeout("the request did not arrive in time"))


#: What an order's request line names, as a client sends it.
_ORDER_TARGET = ORDER_PATH.encode("ascii")
#: The event of every :class:`LaneCycle`: uvicorn's connection code sets a request's event to
#: wake the app's ``receive()``, and no task ever waits on a lane's request.
_NO_WAITER = asyncio.Event()


class LaneCycle(RequestResponseCycle):
    """An order the lane claimed, in place of uvicorn's request cycle: the state the connection
    code (uvicorn's and this module's) reads of a request, and its claim.

    uvicorn's ``__init__`` is skipped on purpose: no app will see this request, so it has no
    scope, event or ASGI plumbing, which cost more than the lane's refusal itself.
    """

    def __init__(self, claim: Claim, keep_alive: bool) -> None:
        self.claim = claim
        self.keep_alive = keep_alive
        self.message_event = _NO_WAITER
        self.body = bytearray()
        self.more_body = True
        self.disconnected = self.response_started = self.response_complete = False


class StoreProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines, a header cap and a connection bound.

    Pass it to uvicorn as ``functools.partial(StoreProtocol, limits=...)``: a partial of a
    module-level class survives the pickling that ``--workers`` does. Alone (``uvicorn --http
    sniper.store.protocol:StoreProtocol``) it has the default limits.

    Every request pays for this in :meth:`data_received` alone, a few attribute checks per read;
    the state is read from uvicorn's own request cycle rather than tracked in parser callbacks,
    which would cost a Python call each.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: ConnectionLimits = DEFAULT_LIMITS,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        pool = _POOLS.get(server_state)
        if pool is None:
            pool = _POOLS[server_state] = ConnectionPool(limits.max_connections)
        self._pool = pool
        self._order = pool.order
        self._refusals = _REFUSALS.setdefault(server_state, {})
        self._in_head = True  # the next bytes are a request line and headers
        self._head_bytes = 0
        self._max_head = limits.max_header_bytes
        # One timer serves the deadline and uvicorn's keep-alive: see "Deadlines" below.
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0  # loop time it fires at
        self._deadline_due: float | None = None  # loop time the head or body is late at
        self._deadline_s = 0.0
        self._idle_due: float | None = None  # loop time an idle kept-alive connection closes at
        self._linger: asyncio.TimerHandle | None = None
        self._closing = False  # answered or cut off: no more requests on this connection
        self._gone = False  # out of the pool: closed, or as good as
        self._too_large = _error_response(
            HeadersTooLarge(f"request line and headers over {limits.max_header_bytes} bytes")
        )
        self._lane: OrderLane | None = app_state.get(ORDER_LANE)
        #: The order the lane claimed whose body it waits for.
        self._held: LaneCycle | None = None
        #: The request cycle that was current when the latest request began.
        self._begun_after: RequestResponseCycle | None = None
        #: The request the app was last given: with pipelining, uvicorn's ``self.cycle`` is the
        #: newest request read, not necessarily the one being answered.
        self._running: RequestResponseCycle | None = None

    # Connection life

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.limits.header_timeout_s)  # from the start: a silent client is closed too
        self._pool.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._forget()
        self._drop_held()
        self._cut_off()
        super().connection_lost(exc)

    def busy(self) -> bool:
        """Whether a request read in full is being answered (or waits behind one, pipelined)."""
        if self._closing:
            return False
        cycle = self.cycle
        if self.pipeline:
            return True
        return cycle is not None and not cycle.more_body and not cycle.response_complete

    def evict(self) -> None:
        """Close at once to make room for a new connection (the pool has let go of it)."""
        self._close(b"", abort=True)

    def shutdown(self) -> None:
        """Server shutdown: idle and unfinished connections go now; answers in progress finish."""
        if self.busy():
            super().shutdown()
        else:
            self._close(b"")

    def _unsupported_upgrade_warning(self) -> None:
        """The store speaks no WebSocket: an upgrade request is answered as plain HTTP, without
        two log lines per request for anyone to flood the log with."""

    # Bytes in

    def data_received(self, data: bytes) -> None:
        if self._closing:  # what a cut-off client still sends is read and dropped, unparsed
            return
        self._order.move_to_end(self)
        before = self.cycle
        if self._in_head:
            head = self._head_bytes + len(data)
            if head > self._max_head:
                room = self._max_head - self._head_bytes
                _feed(self, data[:room])
                if self.cycle is before:  # no new request: its head is longer than the cap
                    self._close(self._too_large)
                    return
                data = data[room:]
            else:
                self._head_bytes = head
        # A head that begins inside this read, after an earlier pipelined request, is counted
        # from the next read on: at most one read more than the cap, never unbounded.
        _feed(self, data)
        self._track(before)

    def _track(self, before: RequestResponseCycle | None) -> None:
        """Deadlines and head counting after a read; ``before``: the request cycle before it."""
        cycle = self.cycle
        if cycle is not before:  # a request's headers are in (uvicorn made its cycle)
            self._disarm()
            if cycle.more_body and not cycle.response_complete:
                self._in_head = False
                self._arm(self.limits.body_timeout_s)
            else:
                self._in_head, self._head_bytes = True, 0
                if cycle.response_complete and self._begun_after is cycle:
                    # Answered in the lane, and the next request's head began in this read:
                    # the keep-alive timer is off, so that head gets its deadline here.
                    self._arm(self.limits.header_timeout_s)
        elif self._in_head:
            if self._deadline_due is None:  # a request's first bytes on a kept-alive connection
                self._arm(self.limits.header_timeout_s)
        elif not cycle.more_body:  # the body is in
            self._disarm()
            self._in_head, self._head_bytes = True, 0
            if cycle.response_complete:  # answered in the lane, or before its body (413)
                if self._begun_after is cycle:  # and the next request's head began in this read
                    self._arm(self.limits.header_timeout_s)
                elif self._idle_due is None and not self.transport.is_closing():
                    self._keep_alive()

    # The order lane

    def on_message_begin(self) -> None:
        # A lane answer earlier in this read armed the keep-alive timer: this request stops it
        # (and, should its head not be in by the read's end, :meth:`_track` arms its deadline).
        self._unset_keepalive_if_required()
        self._begun_after = self.cycle
        # uvicorn's, but for the scope, which only a request the app answers needs: see below.
        self.url = b""
        self.expect_100_continue = False
        self.headers = []

    def on_headers_complete(self) -> None:
        claim = self._claim()
        if claim is None:
            self._make_scope()
            super().on_headers_complete()
            return
        parser = self.parser
        # uvicorn closes after an HTTP/1.0 request even when it asks to keep the connection.
        cycle = LaneCycle(claim, parser.should_keep_alive() and parser.get_http_version() != "1.0")
        existing, self.cycle = self.cycle, cycle
        if existing is None or existing.response_complete:
            self._held = cycle
        else:  # pipelined behind a request being answered, as uvicorn queues its own
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, self.app))

    def _claim(self) -> Claim | None:
        """The lane's claim on the request whose headers are in: ``POST /api/orders`` in the
        usual form (anything else, such as a query string, an absolute URL or ``Expect:
        100-continue``, is the app's; so is every request under uvicorn's concurrency limit)."""
        lane = self._lane
        if (
            lane is None
            or self.url != _ORDER_TARGET
            or self.expect_100_continue
            or self.root_path
            or self.limit_concurrency is not None
        ):
            return None
        parser = self.parser
        if parser.get_method() != b"POST" or parser.should_upgrade():
            return None
        return lane.claims(self.headers)

    def _make_scope(self) -> None:
        """uvicorn's scope for the request whose headers are in, made by uvicorn's own
        ``on_message_begin``, keeping what the parser has read since."""
        url, headers, expect = self.url, self.headers, self.expect_100_continue
        super().on_message_begin()
        self.url, self.expect_100_continue = url, expect
        self.headers = self.scope["headers"] = headers

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        if isinstance(cycle, LaneCycle):  # a pipelined order's turn
            # Timed from its turn, as the app's requests are, not from its wait behind another.
            cycle.claim = cycle.claim._replace(start=time.perf_counter())
            if cycle.more_body:
                self._held = cycle
            else:
                self._answer_in_lane(cycle)
            return
        self._running = cycle
        super()._start_asgi_task(cycle, app)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if isinstance(cycle, LaneCycle):  # no task waits, and the claim bounded the body's size
            cycle.body += body
        else:
            super().on_body(body)

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if isinstance(cycle, LaneCycle):
            cycle.more_body = False
            if self._held is cycle:
                self._held = None
                self._answer_in_lane(cycle)
            return
        if cycle.response_complete:
            # Answered before its body was in (413): uvicorn drops the body and leaves more_body
            # True. The body is in now: the next bytes are a head, to be counted and timed.
            cycle.more_body = False
        super().on_message_complete()

    def _drop_held(self) -> None:
        """A claimed request whose body never came in full: the lane counts it."""
        held = self._held
        if held is not None:
            self._held = None
            assert self._lane is not None
            self._lane.gone(held.claim)

    def _answer_in_lane(self, cycle: LaneCycle) -> None:
        """Answer ``cycle``, its body in: at once if memory decides and the client reads its
        answers, else from a task of the lane's own."""
        assert self._lane is not None
        if self.transport.is_closing():  # closed after the answer before (HTTP/1.0): nobody hears
            cycle.response_complete = True
            self._lane.gone(cycle.claim)
            return
        known = self._lane.known(cycle.claim, bytes(cycle.body))
        if isinstance(known, tuple) and not self.flow.write_paused:
            self._write_answer(cycle, known)
            return
        # Like uvicorn's own task: in server_state.tasks, which a graceful shutdown waits for.
        task = self.loop.create_task(self._answer_later(cycle, known))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def _answer_later(self, cycle: LaneCycle, known: Answer | OrderBody) -> None:
        """Place the order memory cannot decide; write the answer once the client reads."""
        assert self._lane is not None
        answer = known if isinstance(known, tuple) else await self._lane.place(cycle.claim, known)
        if self.flow.write_paused and not cycle.disconnected:
            await self.flow.drain()
        if not cycle.disconnected and not self.transport.is_closing():  # else nobody to answer
            self._write_answer(cycle, answer)

    def _write_answer(self, cycle: LaneCycle, answer: Answer) -> None:
        """Write ``answer`` to ``cycle`` whole, then go on as uvicorn does after a response."""
        cycle.response_started = cycle.response_complete = True
        close = not cycle.keep_alive
        self.transport.write(self._render(answer, close))
        if close:
            self.transport.close()
        if self.pipeline:  # start the next request from the loop, not from within this one
            self.loop.call_soon(self.on_response_complete)
        else:
            self.on_response_complete()

    def _render(self, answer: Answer, close: bool) -> bytes:
        """The bytes of ``answer``; a refusal's from the server's cache (an order's own body
        makes every other answer new)."""
        refused = answer[0] >= 400
        known = self._refusals
        data = known.get((answer, close)) if refused else None
        if data is None:
            data = _response(answer, close=close, first=self.server_state.default_headers)
            if refused:
                if len(known) >= _MAX_REFUSALS:
                    known.clear()
                known[answer, close] = data
        return data

    # Deadlines
    #
    # uvicorn makes a keep-alive timer after every answer and cancels it at the next request,
    # and a deadline would be one more timer a request: in uvloop each costs about 2 µs to make
    # and cancel, more than the order lane spends on a refusal. So the connection keeps one
    # timer and moves its due times: a timer that fires before them waits out the rest, and it
    # is remade only when a due time comes before it.

    def _arm(self, seconds: float) -> None:
        self._deadline_s = seconds
        self._deadline_due = due = self.loop.time() + seconds
        self._wake_by(due)

    def _disarm(self) -> None:
        self._deadline_due = None

    def _unset_keepalive_if_required(self) -> None:
        self._idle_due = None

    def on_response_complete(self) -> None:
        # uvicorn's, but for the keep-alive timer (above).
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        self._idle_due = None
        if self.flow.read_paused:
            self.flow.resume_reading()
        if self.pipeline:
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
        elif self._begun_after is self.cycle:
            # The next request's head began while this one was answered from a task: it is not
            # idle, and its header deadline runs (from its first byte, or from now when that
            # came in the read that brought this request's end, untimed then). Not
            # _head_begun(): a read's bytes are counted before they are parsed, so an answer
            # written at once, within that read, would see its own request's head as begun.
            if self._deadline_due is None:
                self._arm(self.limits.header_timeout_s)
        else:
            self._keep_alive()

    def _head_begun(self) -> bool:
        """Whether a request's head has begun and is not complete: counted, or begun in the
        read that ended the request before it (uncounted, as :meth:`data_received` says)."""
        return bool(self._head_bytes) or (
            self.cycle is not None and self._begun_after is self.cycle
        )

    def _keep_alive(self) -> None:
        """Close the connection unless a request begins within uvicorn's keep-alive time."""
        self._idle_due = due = self.loop.time() + self.timeout_keep_alive
        self._wake_by(due)

    def _wake_by(self, due: float) -> None:
        """Have the timer fire at ``due`` or before."""
        timer = self._timer
        if timer is not None:
            if self._timer_at <= due:
                return
            timer.cancel()
        self._timer_at = due
        self._timer = self.loop.call_at(due, self._wake)

    def _wake(self) -> None:
        self._timer = None
        now = self.loop.time()
        if self._idle_due is not None and now >= self._idle_due:
            self._idle_due = None
            self.timeout_keep_alive_handler()
        if self._deadline_due is not None and now >= self._deadline_due:
            self._deadline_due = None
            self._expired(self._deadline_s)
        dues = [due for due in (self._idle_due, self._deadline_due) if due is not None]
        if dues and not self._gone:
            self._wake_by(min(dues))

    def _expired(self, seconds: float) -> None:
        if self._closing:
            return
        if self.busy():  # pipelined behind a request being answered: uvicorn is not reading
            self._arm(seconds)
            return
        # No answer where there is no request to answer: a connection that never sent a byte,
        # or a request answered already (413) whose unwanted body is still trickling in.
        if self._in_head:
            answer = _TIMEOUT if self._head_begun() else b""
        else:
            answer = b"" if self.cycle.response_complete else _TIMEOUT
        self._close(answer)

    # Closing

    def _close(self, answer: bytes, *, abort: bool = False) -> None:
        """Answer (if anything) and close; a request still arriving learns that its client is
        gone: its ``receive()`` returns ``http.disconnect`` and whatever it sends is dropped."""
        self._cut_off()
        self._closing = True
        self._disarm()
        self._drop_held()
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
        self._linger = self.loop.call_later(_LINGER_S, self.transport.abort)

    def _cut_off(self) -> None:
        """Tell the request being answered, and the newest one read, that the client is gone:
        ``receive()`` returns ``http.disconnect`` and what they send is dropped. (uvicorn tells
        only the newest, so an earlier pipelined request still running wrote to a closed
        transport, and its error went to the log with a traceback.)"""
        for cycle in (self._running, self.cycle):
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.message_event.set()

    def _forget(self) -> None:
        """Leave the pool (once) and stop the timers: the connection is as good as closed."""
        if not self._gone:
            self._gone = True
            self._deadline_due = self._idle_due = None
            for timer in (self._timer, self._linger):
                if timer is not None:
                    timer.cancel()
            self._timer = self._linger = None
            self._pool.closed(self)
