"""Clock samples over a real connection: ``/api/time`` where there is one, else ``Date``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Protocol

from sniper.client.connection import Connection, ConnectionBroken, HttpCall, Response
from sniper.client.outcome import json_body
from sniper.client.scrub import printable
from sniper.client.timesync import (
    Estimate,
    Sample,
    date_header_sample,
    edge_probe_times,
    epoch_ms,
    estimate,
    implausible,
    ms_tick_sample,
)
from sniper.clock import Clock
from sniper.errors import ClockError


def wall_offset(est: Estimate, clock: Clock) -> float:
    """An estimate's offset against this machine's wall clock (what people compare), in ms.

    Estimates relate the server to our *monotonic* clock, so that a wall-clock step cannot move
    a plan; people compare wall clocks."""
    return est.offset - (clock.time() - clock.monotonic()) * 1000


class TimeSource(Protocol):
    """What a measurement asks: a time request (``{"now_ms"}``), or None and a request whose
    ``Date`` header is read instead. Every platform is one."""

    def time_call(self) -> HttpCall | None:
        """The time request, if the server has one."""
        ...

    def warm_call(self) -> HttpCall:
        """A cheap request (its ``Date`` header is read when there is no time request)."""
        ...


class TimeProbe:
    """A time source for a bare URL: ``GET /api/time`` if the server has it, else ``Date``."""

    def __init__(self, has_time_endpoint: bool) -> None:
        self.has_time_endpoint = has_time_endpoint

    def time_call(self) -> HttpCall | None:
        """``GET /api/time`` when the server has it."""
        return HttpCall("GET", "/api/time") if self.has_time_endpoint else None

    def warm_call(self) -> HttpCall:
        """``HEAD /``."""
        return HttpCall("HEAD", "/")


def sample_from(response: Response, t0: float, from_time_endpoint: bool) -> Sample:
    """A sample from an answer sent at ``t0``; ClockError unless it holds a time."""
    t1 = response.received_at
    if from_time_endpoint:
        body = json_body(response)
        value = body.get("now_ms") if isinstance(body, dict) else None
        server_ms = epoch_ms(value)
        if server_ms is None:
            shown = "none" if value is None else printable(repr(value))[:40]
            raise ClockError(f"the time endpoint gave no usable now_ms ({shown})")
        return ms_tick_sample(t0, t1, server_ms)
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
    call = source.time_call()
    await conn.ensure_open(timeout_s)
    conn.prepare(call or source.warm_call())
    t0 = conn.fire()
    response = await conn.read_response(timeout_s)
    where = conn.origin.host_header
    try:
        sample = sample_from(response, t0, call is not None)
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
    """Take ``count`` samples. For a ``Date``-only server, also probe the edges of its second
    (up to ``edge_rounds`` seconds, ``probes_per_edge`` probes each) until the offset is known to
    ``good_enough_ms``, or until ``must_end(estimate)`` (local ms) is less than a second away;
    ``earlier`` samples of the same server count too. (Known to ``good_enough_ms`` as far
    as samples can tell: a ``Date`` header's possible lag stays in the uncertainty.)"""
    samples = [
        *(earlier or []),
        *[await take_sample(conn, source, timeout_s) for _ in range(count)],
    ]
    if source.time_call() is None:
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
    "TimeProbe",
    "TimeSource",
    "measure",
    "sample_from",
    "take_sample",
]
