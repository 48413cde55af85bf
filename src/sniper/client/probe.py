"""Clock samples over a real connection: ``/api/time`` where there is one, else ``Date``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Protocol

from sniper.client.connection import Connection, ConnectionBroken, HttpCall, Response
from sniper.client.timesync import (
    Estimate,
    Sample,
    date_header_sample,
    edge_probe_times,
    estimate,
    ms_tick_sample,
)
from sniper.clock import Clock


def wall_offset(est: Estimate, clock: Clock) -> float:
    """An estimate's offset against this machine's wall clock (what people compare), in ms.

    Estimates relate the server to our *monotonic* clock, so that a wall-clock step cannot move
    a plan; people compare wall clocks."""
    return est.offset - (clock.time() - clock.monotonic()) * 1000


class ClockError(Exception):
    """The server's answers carry no usable time."""


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
    """A sample from an answer sent at ``t0``."""
    t1 = response.received_at
    if from_time_endpoint:
        try:
            return ms_tick_sample(t0, t1, int(json.loads(response.body)["now_ms"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise ClockError("the time endpoint gave no now_ms") from exc
    date = response.header("date")
    if date is None:
        raise ClockError("the server sends no Date header")
    try:
        second_ms = int(parsedate_to_datetime(date).timestamp() * 1000)
    except (TypeError, ValueError) as exc:
        raise ClockError(f"unreadable Date header {date!r}") from exc
    return date_header_sample(t0, t1, second_ms)


async def take_sample(conn: Connection, source: TimeSource, timeout_s: float) -> Sample:
    """One timed request on ``conn``."""
    call = source.time_call()
    await conn.ensure_open(timeout_s)
    conn.prepare(call or source.warm_call())
    t0 = conn.fire()
    response = await conn.read_response(timeout_s)
    return sample_from(response, t0, call is not None)


async def measure(
    conn: Connection, source: TimeSource, clock: Clock, *, count: int = 8,
    timeout_s: float = 5.0, earlier: list[Sample] | None = None, edge_rounds: int = 6,
    probes_per_edge: int = 8, good_enough_ms: float = 1.0,
    must_end: Callable[[Estimate], float] | None = None,
) -> tuple[Estimate, list[Sample]]:
    """Take ``count`` samples. For a ``Date``-only server, also probe the edges of its second
    (up to ``edge_rounds`` seconds, ``probes_per_edge`` probes each) until the offset is known to
    ``good_enough_ms``, or until ``must_end(estimate)`` (local ms) is less than a second away;
    ``earlier`` samples of the same server count too."""
    samples = [*(earlier or []), *[await take_sample(conn, source, timeout_s)
                                   for _ in range(count)]]
    if source.time_call() is None:
        for _ in range(edge_rounds):
            current = estimate(samples)
            now = clock.monotonic() * 1000
            out_of_time = must_end is not None and must_end(current) - now < 1000.0
            if current.uncertainty < good_enough_ms or out_of_time:
                break
            for send_at in edge_probe_times(current, now, probes_per_edge):
                delay = send_at - clock.monotonic() * 1000
                if delay < 0:
                    continue  # an answer took longer than the spacing: skip this phase
                await asyncio.sleep(delay / 1000)
                samples.append(await take_sample(conn, source, timeout_s))
    return estimate(samples), samples[-256:]


__all__ = ["ClockError", "ConnectionBroken", "TimeProbe", "TimeSource", "measure", "sample_from",
           "take_sample"]
