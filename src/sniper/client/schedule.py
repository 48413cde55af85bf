"""The fire plan: when, on our monotonic clock, to do each thing. Pure.

The opening is an instant on the server's clock. Requests must *arrive* then, so they leave half
a round trip earlier. Connections open ``preheat_ms`` before, and are warmed (one small request
each, which also gives fresh clock samples) shortly before the send, because a connection idle
since preheat pays extra on its first write. Waiting is a coarse sleep to ``spin_ms`` before the
send, then a spin on the clock: sleeps wake late by up to a couple of milliseconds, a spin does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sniper.client.timesync import Estimate

#: Connections are warmed this long before the send (after preheat, before the spin).
WARM_LEAD_MS = 60.0
#: The last stretch before the send is spun, not slept.
SPIN_MS = 3.0
#: The clock is measured again this long before the send...
REMEASURE_BEFORE_MS = (60_000.0, 5_000.0)
#: ...and this often while the opening is further away.
REMEASURE_EVERY_MS = 600_000.0
#: Kept for the plan's own record: the last re-measure before preheat.
REMEASURE_LEAD_MS = 5_000.0


@dataclass(frozen=True, slots=True)
class FirePlan:
    """Local monotonic milliseconds of each step, and the clock estimate they were derived
    from (which also maps the run's local times to the server's)."""

    remeasure_at: float
    preheat_at: float
    warm_at: float
    send_at: float
    arrive_at: float
    clock: Estimate


def plan(target_server_ms: float, clock: Estimate, preheat_ms: float) -> FirePlan:
    """The plan for one opening, from the latest clock estimate."""
    arrive = clock.local_time(target_server_ms)
    send = arrive - clock.rtt / 2
    preheat = send - preheat_ms
    warm = max(preheat, send - WARM_LEAD_MS)
    return FirePlan(
        remeasure_at=send - REMEASURE_LEAD_MS,
        preheat_at=preheat,
        warm_at=warm,
        send_at=send,
        arrive_at=arrive,
        clock=clock,
    )


def past_target(target: datetime, server_now_ms: float, window_s: float) -> str | None:
    """Why a one-off opening is too far past to run, or None. A run may start up to the retry
    window after the opening (it was started at the opening, or a moment late: the window is
    still open); past that no try could be sent, so the time is surely a mistake."""
    if server_now_ms - target.timestamp() * 1000 <= window_s * 1000:
        return None
    now = datetime.fromtimestamp(server_now_ms / 1000, tz=target.tzinfo)
    return (
        f"target_time: {target.isoformat()} is in the past (the server's clock says "
        f"{now.isoformat(timespec='seconds')}): give a future time; a run may start at "
        f"most retry.window_s ({window_s:g} s) after it"
    )


def coarse_sleep_ms(now: float, until: float, spin_ms: float = SPIN_MS) -> float:
    """How long to sleep before spinning the rest of the way to ``until`` (0 = spin now)."""
    return max(0.0, until - now - spin_ms)


def next_checkpoint(
    fire: FirePlan, now: float, measured_at: float, preflight_ms: float, preflighted: bool
) -> tuple[float, str] | None:
    """The next thing to do while waiting, or None: ``preflight`` once, at ``preflight_ms``
    before the send (at once if that has passed); ``measure`` ``REMEASURE_EVERY_MS`` after the
    last measurement (``measured_at``) and at each of ``REMEASURE_BEFORE_MS`` not yet passed
    by one. Measures at or after preheat are left out (preheat re-measures).

    Only the next point is worked out, never a list of them: an opening centuries away (or a
    server clock that says so) costs nothing to wait for."""
    points = [] if preflighted else [(max(now, fire.send_at - preflight_ms), "preflight")]
    periodic = measured_at + REMEASURE_EVERY_MS
    if periodic < fire.send_at - max(REMEASURE_BEFORE_MS):
        points.append((periodic, "measure"))
    points += [
        (fire.send_at - lead, "measure")
        for lead in REMEASURE_BEFORE_MS
        if measured_at < fire.send_at - lead < fire.preheat_at
    ]
    return min(points, default=None)


#: A change of (wall − monotonic) larger than this means the machine slept or its clock stepped.
JUMP_MS = 100.0


def clock_jumped(
    baseline_ms: float, wall_ms: float, mono_ms: float, tolerance_ms: float = JUMP_MS
) -> bool:
    """True when wall − monotonic has moved since ``baseline_ms``: a suspended laptop (the
    monotonic clock stood still) or a stepped wall clock. Plans made before are then suspect."""
    return abs((wall_ms - mono_ms) - baseline_ms) > tolerance_ms
