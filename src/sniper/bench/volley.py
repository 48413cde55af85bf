"""Every user's request written at one instant on the target's clock, each on its own open
keep-alive connection, and every answer read: the part of ``sniper bench`` that sends, for our
store and for any target alike."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from ssl import SSLContext
from urllib.parse import urlsplit

import h11

from sniper.bench.report import Shot
from sniper.client.connection import Connection, ConnectionBroken, HttpCall, Origin, Response
from sniper.client.neterrors import NetKind
from sniper.client.pool import OPEN_AT_ONCE, close_all
from sniper.client.probe import TimeSource, measure, wall_offset
from sniper.client.schedule import SPIN_MS
from sniper.client.timesync import Estimate
from sniper.clock import Clock
from sniper.errors import ClockError

#: Connections are opened this long before the send (plus a little per connection, so that
#: thousands are open in time), well inside a server's header timeout. A connection costs about
#: 0.2 ms to open on a busy two-core machine (10,000 in 1.8 to 2.5 s): twice that is allowed.
OPEN_LEAD_MS, OPEN_LEAD_PER_CONN_MS, OPEN_LEAD_MAX_MS = 1000.0, 0.4, 5000.0


#: The last sleep before the spin is at most this long (ms).
SETTLE_MS = 100.0


def next_sleep_ms(now: float, send_at: float) -> float:
    """The next sleep on the way to ``send_at`` (local ms; 0: spin the rest of the way).

    A sleep of d ms can wake d/1000 ms late (the kernel's timer slack for a wait in epoll is
    0.1 % of it), on top of the millisecond it is rounded up to: seconds of waiting would
    overrun the spin. So a long wait stops :data:`SETTLE_MS` short, and the short sleep after
    it wakes late by little enough for the spin to cover."""
    left = send_at - now - SPIN_MS
    if left <= 0:
        return 0.0
    return left - SETTLE_MS if left > SETTLE_MS else left


def open_lead_ms(connections: int) -> float:
    """How long before the send ``connections`` connections start opening."""
    return min(OPEN_LEAD_MAX_MS, OPEN_LEAD_MS + OPEN_LEAD_PER_CONN_MS * connections)


def shown_url(url: str) -> str:
    """A URL as reports show it: scheme, host, port and path (a query may carry a key)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"


@dataclass(frozen=True, slots=True)
class Answer:
    """One request's fate: when it was written and when its answer (or failure) came, in local
    monotonic ms; the answer, or the transport failure's kind (``timeout``,
    ``connection_error``)."""

    sent_at: float
    done_at: float
    response: Response | None
    failure: str = "connection_error"

    def shot(self, user: str, index: int, est: Estimate, code: Callable[[Response], str]) -> Shot:
        """This answer as a shot: times on the target's clock by ``est`` (sent when the write
        began, done when the answer was in), the answer's ``code``."""
        response = self.response
        status = None if response is None else response.status
        result = self.failure if response is None else code(response)
        sent, done = est.server_time(self.sent_at), est.server_time(self.done_at)
        return Shot(user, sent, done, status, result, index)


async def target_clock(
    origin: Origin,
    source: TimeSource,
    clock: Clock,
    *,
    tls: SSLContext | None,
    timeout_s: float,
) -> Estimate:
    """The target's clock against ours, measured as the sniper measures a shop's, on a
    connection of its own to ``origin``."""
    probe = Connection(origin, clock, tls)
    try:
        await probe.open(timeout_s)
        est, _ = await measure(probe, source, clock, timeout_s=timeout_s)
    except ConnectionBroken as exc:
        raise ConnectionBroken(f"the target's clock: {exc}", exc.kind, exc.failure) from exc
    except ClockError as exc:
        raise ClockError(f"the target's clock: {exc}") from exc
    finally:
        await probe.aclose()
    return est


async def fire_at(
    origin: Origin,
    tls: SSLContext | None,
    calls: Sequence[HttpCall],
    *,
    opening_ms: float,
    est: Estimate,
    clock: Clock,
    timeout_s: float,
    say: Callable[[str], None],
) -> list[Answer]:
    """One connection per call, opened shortly before the opening (a server closes one that is
    silent past its header timeout); every call sent to arrive at ``opening_ms`` on the
    target's clock by ``est``; one answer per call, in order. A connection that cannot be
    opened is that user's answer (``connection_error``, ``timeout``), not the end of the run:
    at this scale a refused connection is a result."""
    send_at = est.local_time(opening_ms) - est.rtt / 2
    lead = open_lead_ms(len(calls))
    await asyncio.sleep(max(0.0, send_at - lead - clock.monotonic() * 1000) / 1000)
    conns = [Connection(origin, clock, tls) for _ in calls]
    try:
        failed = await _open_all(conns, timeout_s)
        live = [i for i, kind in enumerate(failed) if kind is None]
        late_ms = clock.monotonic() * 1000 - send_at
        say(open_note(len(live), len(calls) - len(live), late_ms, wall_offset(est, clock)))
        sent = await volley(
            [conns[i] for i in live],
            [calls[i] for i in live],
            send_at=send_at,
            clock=clock,
            timeout_s=timeout_s,
        )
    finally:
        await close_all(conns)
    answers = dict(zip(live, sent, strict=True))
    return [
        answers.get(i) or Answer(send_at, send_at, None, kind or "connection_error")
        for i, kind in enumerate(failed)
    ]


async def _open_all(conns: Sequence[Connection], timeout_s: float) -> list[str | None]:
    """Open every connection (a bounded number at a time); per connection, None or the kind of
    its failure."""
    gate = asyncio.Semaphore(OPEN_AT_ONCE)

    async def open_one(conn: Connection) -> str | None:
        async with gate:
            try:
                await conn.open(timeout_s)
            except ConnectionBroken as exc:
                return failure_kind(exc)
            return None

    return list(await asyncio.gather(*(open_one(c) for c in conns)))


def failure_kind(exc: ConnectionBroken) -> str:
    """A transport failure as a shot's code: ``timeout``, ``bad_answer`` (not HTTP), or
    ``connection_error``."""
    if isinstance(exc.__cause__, TimeoutError) or exc.kind is NetKind.TIMEOUT:
        return "timeout"
    if isinstance(exc.__cause__, h11.RemoteProtocolError):
        return "bad_answer"
    return "connection_error"


def open_note(connections: int, lost: int, late_ms: float, offset_ms: float) -> str:
    """What the bench says once its connections are open (``lost``: those that could not be),
    ``late_ms`` after the send time (negative: in time): firing at the opening, or late, and by
    how much."""
    clock = f"the target's clock is {round(offset_ms, 1) + 0.0:+.1f} ms from this machine's"
    opened = f"{connections} connections open" + (f", {lost} could not be opened" if lost else "")
    if late_ms <= 0:
        return f"{opened}; firing at the opening ({clock})"
    return f"{opened} {late_ms:.0f} ms after the send time: firing now, late ({clock})"


async def volley(
    conns: Sequence[Connection],
    calls: Sequence[HttpCall],
    *,
    send_at: float,
    clock: Clock,
    timeout_s: float,
) -> list[Answer]:
    """Prepare every request, wait for ``send_at`` (local monotonic ms), write them all in one
    go, and read every answer (each bounded by ``timeout_s``). One answer per call, in order."""
    for conn, call in zip(conns, calls, strict=True):
        conn.prepare(call)
    for _ in range(4):  # a long sleep, a short one, once more if one woke early
        pause = next_sleep_ms(clock.monotonic() * 1000, send_at)
        if pause <= 0:
            break
        await asyncio.sleep(pause / 1000)
    while clock.monotonic() * 1000 < send_at:
        pass  # the last stretch spun: a sleep's wake-up is late by up to a millisecond
    sent = [conn.fire() for conn in conns]

    async def answer(conn: Connection, sent_at: float) -> Answer:
        try:
            response = await conn.read_response(timeout_s)
        except ConnectionBroken as exc:
            return Answer(sent_at, clock.monotonic() * 1000, None, failure_kind(exc))
        return Answer(sent_at, response.received_at, response)

    return list(await asyncio.gather(*(answer(c, s) for c, s in zip(conns, sent, strict=True))))
