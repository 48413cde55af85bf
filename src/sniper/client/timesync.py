"""Where the server's clock stands against ours, from timed samples. Pure: no I/O, no clock.

A sample is one request: sent at local monotonic ``t0``, answered at ``t1``, carrying a server
time known to lie in ``[server_lo, server_hi)`` (a millisecond tick from ``/api/time``, or a whole
second from the HTTP ``Date`` header). The server read its clock somewhere between ``t0`` and
``t1``, so the offset (server − local) lies in ``[server_lo − t1, server_hi − t0]``.

Two estimators, as the design asks:

* NTP-style: the lowest-RTT sample wins; offset = server midpoint − local midpoint, uncertain by
  half its RTT plus half the server's resolution;
* interval intersection: every sample's interval must hold the true offset, so their intersection
  does too. Samples read at different phases of the server's tick narrow it well below one tick,
  which is how a one-second ``Date`` header still gives milliseconds once samples straddle its edge.

:func:`estimate` uses the intersection when the samples agree and falls back to the lowest-RTT
sample when they do not (a clock step during sampling).
All times here are milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed request: local send/receive times and the server time interval it reported;
    ``lag``: how far behind the server's clock that report may be (a cached ``Date``)."""

    t0: float
    t1: float
    server_lo: float
    server_hi: float
    lag: float = 0.0

    @property
    def rtt(self) -> float:
        """Round-trip time."""
        return self.t1 - self.t0

    @property
    def bounds(self) -> tuple[float, float]:
        """The offsets (server − local) this sample allows."""
        return self.server_lo - self.t1, self.server_hi - self.t0


#: The epoch milliseconds a server's clock may read: from 2001 to 2200. Outside, its answer is
#: nonsense (a JSON ``true``, a Date of 1970), not a time to plan by.
EPOCH_MS_RANGE = (978_307_200_000, 7_258_118_400_000)
#: A server whose clock is further than this from this machine's is broken (or this one is):
#: a plan made from it would wait for days or fire at once.
MAX_OFFSET_MS = 86_400_000.0


#: How far a ``Date`` header may trail the server's clock. Many servers cache it: uvicorn
#: refreshes its copy from a timer once a second, at whatever phase the server started,
#: nginx when its event loop wakes. So it may be a whole refresh period old (a second, plus
#: the timer's slack), and no sampling can tell that lag from an offset.
DATE_LAG_MS = 1100.0


def epoch_ms(value: object) -> int | None:
    """``value`` as whole epoch milliseconds, or None unless it is a JSON number (not a
    boolean, not a string) inside :data:`EPOCH_MS_RANGE`."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    lo, hi = EPOCH_MS_RANGE
    if not lo <= value < hi:  # also refuses NaN
        return None
    return int(value)


def implausible(
    sample: Sample, wall_minus_mono_ms: float, bound_ms: float = MAX_OFFSET_MS
) -> str | None:
    """Why ``sample`` is no reading of a working clock, or None: its server time is further
    than ``bound_ms`` from this machine's wall clock (``wall_minus_mono_ms`` maps the sample's
    monotonic times to it)."""
    apart = sample.server_lo - (sample.t1 + wall_minus_mono_ms)
    if abs(apart) <= bound_ms:
        return None
    days = abs(apart) / 86_400_000
    side = "ahead of" if apart > 0 else "behind"
    return f"its clock is {days:,.1f} days {side} this machine's"


def ms_tick_sample(t0: float, t1: float, server_ms: int) -> Sample:
    """A sample from an integer-millisecond server clock."""
    return Sample(t0, t1, float(server_ms), float(server_ms) + 1.0)


def date_header_sample(t0: float, t1: float, server_second_ms: int) -> Sample:
    """A sample from an HTTP ``Date`` header (whole seconds, as epoch ms of that second),
    which may lag the server's clock by up to :data:`DATE_LAG_MS`."""
    return Sample(t0, t1, float(server_second_ms), float(server_second_ms) + 1000.0, DATE_LAG_MS)


def whole_seconds(samples: Sequence[Sample]) -> bool:
    """Whether a sample reads the server's clock in whole seconds (a ``Date`` header, a time
    endpoint in seconds): only probes at the edges of its second then narrow the offset to
    milliseconds."""
    return any(s.server_hi - s.server_lo >= 1000.0 for s in samples)


@dataclass(frozen=True, slots=True)
class Estimate:
    """Offset (server − local, ms), its half-width of uncertainty, and the best RTT seen.

    ``uncertainty`` holds whatever the server's reports: it includes ``lag``, the most they may
    trail its clock. The offset itself is the one for a server whose reports do not trail."""

    offset: float
    uncertainty: float
    rtt: float
    method: str
    samples: int
    lag: float = 0.0

    @property
    def precision(self) -> float:
        """The uncertainty were the server's reports exact: what more samples can narrow."""
        return self.uncertainty - self.lag

    def server_time(self, local: float) -> float:
        """Our local time ``local`` on the server's clock."""
        return local + self.offset

    def local_time(self, server: float) -> float:
        """The server's time ``server`` on our local clock."""
        return server - self.offset


def lowest_rtt(samples: Sequence[Sample]) -> Estimate:
    """NTP-style: the sample with the lowest RTT; offset = server midpoint − local midpoint."""
    if not samples:
        raise ValueError("no samples")
    best = min(samples, key=lambda s: s.rtt)
    server_mid = (best.server_lo + best.server_hi) / 2
    resolution = best.server_hi - best.server_lo
    lag = max(s.lag for s in samples)
    return Estimate(
        offset=server_mid - (best.t0 + best.t1) / 2,
        uncertainty=best.rtt / 2 + resolution / 2 + lag,
        rtt=best.rtt,
        method="lowest-rtt",
        samples=len(samples),
        lag=lag,
    )


def intersect(samples: Sequence[Sample]) -> tuple[float, float] | None:
    """The offsets every sample allows, or None if they disagree."""
    if not samples:
        raise ValueError("no samples")
    lo = max(s.bounds[0] for s in samples)
    hi = min(s.bounds[1] for s in samples)
    return (lo, hi) if lo <= hi else None


def estimate(samples: Sequence[Sample]) -> Estimate:
    """The intersection's midpoint when the samples agree and it beats the lowest-RTT sample;
    otherwise the lowest-RTT sample. Either way the uncertainty allows for the samples' lag.

    A lag cannot be told from an offset: a ``Date`` cached by a timer at phase φ changes at
    φ past each second, exactly as an exact ``Date`` of a clock φ behind would. The edges
    still pin *when the header changes* to a millisecond; that the clock is up to a lag
    ahead of it is all an honest bound can say."""
    fallback = lowest_rtt(samples)
    both = intersect(samples)
    if both is None:
        return fallback
    lo, hi = both
    if (hi - lo) / 2 >= fallback.precision:
        return fallback
    return Estimate(
        (lo + hi) / 2,
        (hi - lo) / 2 + fallback.lag,
        fallback.rtt,
        "intersection",
        len(samples),
        fallback.lag,
    )


def next_edge_probe(current: Estimate, now: float, rtt: float, period: float = 1000.0) -> float:
    """When to send a ``Date``-header probe so that it reaches the server right at the next
    predicted edge of the server's second, which splits the remaining uncertainty.

    Returns a local time after ``now``.
    """
    arrive_server = current.server_time(now + rtt / 2)
    next_edge = (arrive_server // period + 1) * period
    send = current.local_time(next_edge) - rtt / 2
    while send <= now:
        send += period
    return send


def edge_probe_times(
    current: Estimate, now: float, probes: int, period: float = 1000.0
) -> list[float]:
    """Send times for ``probes`` probes spread evenly across the uncertainty around the next
    edge of the server's second: once the edge has passed, each answer says on which side its
    probe landed, so one second narrows the uncertainty ``probes + 1`` times."""
    center = next_edge_probe(current, now + current.precision, current.rtt, period)
    half = min(current.precision, period / 2)
    step = 2 * half / (probes + 1)
    return [center - half + step * (j + 1) for j in range(probes)]
