"""Clock samples over a real connection: a time endpoint where there is one, else ``Date``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from sniper.client.connection import Connection, ConnectionBroken, HttpCall, Response
from sniper.client.scrub import printable
from sniper.client.servertime import TimeEndpoint, Unreadable, read
from sniper.client.timesync import (
    Estimate,
    Sample,
    date_header_sample,
    edge_probe_times,
    epoch_ms,
    estimate,
    implausible,
    whole_seconds,
)
from sniper.clock import Clock
from sniper.errors import ClockError


def wall_offset(est: Estimate, clock: Clock) -> float:
    """An estimate's offset against this machine's wall clock (what people compare), in ms.

    Estimates relate the server to our *monotonic* clock, so that a wall-clock step cannot move
    a plan; people compare wall clocks."""
    return est.offset - (clock.time() - clock.monotonic()) * 1000


_HEAD = HttpCall("HEAD", "/")


@dataclass(frozen=True, slots=True)
class TimeSource:
    """What a measurement reads: a time ``endpoint``'s answer, or, without one, the ``Date``
    header of the answer to ``date_call``."""

    endpoint: TimeEndpoint | None
    date_call: HttpCall = _HEAD

    @property
    def call(self) -> HttpCall:
        """The request each sample sends."""
        return self.endpoint.call if self.endpoint is not None else self.date_call


def sample_from(response: Response, t0: float, endpoint: TimeEndpoint | None) -> Sample:
    """A sample from an answer sent at ``t0``: the time at ``endpoint``'s path, or (None) the
    ``Date`` header; ClockError unless it holds a time."""
    t1 = response.received_at
    if endpoint is not None:
        try:
            found = read(response.body, endpoint.path, endpoint.unit)
        except Unreadable as exc:
            status = "" if 200 <= response.status < 300 else f" (HTTP {response.status})"
            raise ClockError(f"the time endpoint gave {printable(str(exc))}{status}") from None
        return Sample(t0, t1, found.lo, found.hi)
    date = response.header("date")
    if date is None:
        raise ClockError("the server sends no Date header")
    shown = printable(repr(date))[:60]
    try:
        second_ms = epoch_ms(parsedate_to_datetime(date).timestamp() * 1000)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ClockError(f"unreadable Date header {shown}") from exc
    if second_ms is None:
        raise ClockError(f"Date header {shown} is no time to plan by")
    return date_header_sample(t0, t1, second_ms)


async def take_sample(conn: Connection, source: TimeSource, timeout_s: float) -> Sample:
    """One timed request on ``conn``; ClockError naming the server unless its answer holds a
    time within :data:`~sniper.client.timesync.MAX_OFFSET_MS` of this machine's clock."""
    await conn.ensure_open(timeout_s)
    conn.prepare(source.call)
    t0 = conn.fire()
    response = await conn.read_response(timeout_s)
    where = conn.origin.host_header
    try:
        sample = sample_from(response, t0, source.endpoint)
    except ClockError as exc:
        raise ClockError(f"server {where}: {exc}") from None
    wall_minus_mono = (conn.clock.time() - conn.clock.monotonic()) * 1000
    problem = implausible(sample, wall_minus_mono)
    if problem is not None:
        raise ClockError(f"server {where}: {problem}: not a clock to plan by")
    return sample


async def measure(
    conn: Connection,
    source: TimeSource,
    clock: Clock,
    *,
    count: int = 8,
    timeout_s: float = 5.0,
    earlier: list[Sample] | None = None,
    edge_rounds: int = 6,
    probes_per_edge: int = 8,
    good_enough_ms: float = 1.0,
    must_end: Callable[[Estimate], float] | None = None,
) -> tuple[Estimate, list[Sample]]:
    """Take ``count`` samples. For a clock read in whole seconds (a ``Date`` header, a time
    endpoint in seconds), also probe the edges of its second
    (up to ``edge_rounds`` seconds, ``probes_per_edge`` probes each) until the offset is known to
    ``good_enough_ms``, or until ``must_end(estimate)`` (local ms) is less than a second away;
    ``earlier`` samples of the same server count too. (Known to ``good_enough_ms`` as far
    as samples can tell: a ``Date`` header's possible lag stays in the uncertainty.)"""
    samples = [
        *(earlier or []),
        *[await take_sample(conn, source, timeout_s) for _ in range(count)],
    ]
    if whole_seconds(samples):
        for _ in range(edge_rounds):
            current = estimate(samples)
            now = clock.monotonic() * 1000
            out_of_time = must_end is not None and must_end(current) - now < 1000.0
            if current.precision < good_enough_ms or out_of_time:
                break
            for send_at in edge_probe_times(current, now, probes_per_edge):
                delay = send_at - clock.monotonic() * 1000
                if delay < 0:
                    continue  # an answer took longer than the spacing: skip this phase
                await asyncio.sleep(delay / 1000)
                samples.append(await take_sample(conn, source, timeout_s))
    return estimate(samples), samples[-256:]


__all__ = [
    "ClockError",
    "ConnectionBroken",
    "TimeSource",
    "measure",
    "sample_from",
    "take_sample",
]
