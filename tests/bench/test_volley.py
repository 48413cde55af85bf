"""The sending path's pure parts: how early the connections open, what is said once they are."""

from __future__ import annotations

import pytest

from sniper.bench.volley import next_sleep_ms, open_lead_ms, open_note
from sniper.fdlimit import fd_room


@pytest.mark.parametrize(
    ("connections", "lead_ms"),
    [
        (1, 1000.4),
        (1000, 1400.0),
        (5000, 3000.0),
        (10_000, 5000.0),
        (20_000, 5000.0),
    ],
)
def test_open_lead_grows_with_the_crowd_up_to_a_bound(connections: int, lead_ms: float) -> None:
    assert open_lead_ms(connections) == pytest.approx(lead_ms)


@pytest.mark.parametrize(
    ("late_ms", "said"),
    [
        (-2500.0, "10000 connections open; firing at the opening (the target's clock is +1.5 ms"),
        (
            -1.0,
            "10000 connections open, 3 could not be opened; firing at the opening",
        ),
        (0.0, "10000 connections open; firing at the opening (the target's clock is +1.5 ms"),
        (
            430.2,
            "10000 connections open 430 ms after the send time: firing now, late "
            "(the target's clock is +1.5 ms",
        ),
    ],
)
def test_open_note_says_when_the_volley_is_late(late_ms: float, said: str) -> None:
    lost = 3 if "could not" in said else 0
    assert open_note(10_000, lost, late_ms, 1.5).startswith(said)


@pytest.mark.parametrize(
    ("connections", "fd_limit", "fits"),
    [(10_000, 20_000, True), (19_968, 20_000, True), (19_969, 20_000, False), (40, 64, False)],
    # An unlimited process has room for any crowd.
)
def test_fd_room_keeps_a_reserve_beside_the_connections(
    connections: int, fd_limit: int, fits: bool
) -> None:
    reason = fd_room(connections, fd_limit)
    assert (reason is None) == fits
    if not fits:
        assert reason is not None
        assert reason.startswith(f"users: {connections} connections at once need")
        assert f"may have {fd_limit}" in reason


@pytest.mark.parametrize(
    ("before_ms", "sleep_ms"),
    [(5000.0, 4897.0), (103.5, 0.5), (103.0, 100.0), (50.0, 47.0), (3.0, 0.0), (-1.0, 0.0)],
)
def test_next_sleep_stops_short_of_the_spin(before_ms: float, sleep_ms: float) -> None:
    send_at = 1_000_000.0
    assert next_sleep_ms(send_at - before_ms, send_at) == pytest.approx(sleep_ms)


@pytest.mark.parametrize("before_ms", [200.0, 1400.0, 5000.0, 60_000.0])
def test_the_spin_starts_before_the_send_even_when_each_sleep_wakes_late(
    before_ms: float,
) -> None:
    """Each sleep woken as late as the kernel may (0.1 % of it, after rounding up to a whole
    millisecond): the sleeps still end before the send, and the spin does the rest."""
    send_at, now, sleeps = 1_000_000.0, 1_000_000.0 - before_ms, 0
    while (pause := next_sleep_ms(now, send_at)) > 0:
        rounded = -(-pause // 1)
        now += rounded + rounded / 1000
        sleeps += 1
    assert now < send_at
    assert sleeps <= 3
