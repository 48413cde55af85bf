"""Clock samples over a real connection: ``/api/time`` where there is one, else ``Date``."""

from __future__ import annotations

import asyncio
import json
from email.utils import parsedate_to_datetime
from typing import Protocol

from sniper.client.connection import Connection, ConnectionBroken, HttpCall, Response
from sniper.client.timesync import (
    Estimate,
    Sample,
    date_header_sample,
    estimate,
    ms_tick_sample,
    next_edge_probe,
)
from sniper.clock import Clock


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
    conn.prepare(call or source.warm_call())
    t0 = conn.fire()
    response = await conn.read_response(timeout_s)
    return sample_from(response, t0, call is not None)


async def measure(
    conn: Connection, source: TimeSource, clock: Clock, *, count: int = 8,
    timeout_s: float = 5.0, edge_probes: int = 12,
) -> tuple[Estimate, list[Sample]]:
    """Take ``count`` samples; for a ``Date``-only server, then probe the second's edges
    (``edge_probes`` more samples, about one a second) to narrow one second to milliseconds."""
    samples = [await take_sample(conn, source, timeout_s) for _ in range(count)]
    if source.time_call() is None:
        for _ in range(edge_probes):
            current = estimate(samples)
            if current.uncertainty < 1.0:
                break
            now = clock.monotonic() * 1000
            send_at = next_edge_probe(current, now, current.rtt)
            await asyncio.sleep(max(0.0, send_at - clock.monotonic() * 1000) / 1000)
            samples.append(await take_sample(conn, source, timeout_s))
    return estimate(samples), samples


__all__ = ["ClockError", "ConnectionBroken", "TimeProbe", "TimeSource", "measure", "sample_from",
           "take_sample"]
