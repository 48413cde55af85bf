"""What one opening's answers show of the shop: arrivals on the server's clock, by answer."""

from __future__ import annotations

from sniper.client.connection import Response
from sniper.client.runlog import Attempt
from sniper.client.sighting import Sighting


def _attempt(sent: float, latency: float | None, outcome: str) -> Attempt:
    response = None if latency is None else Response(200, (), b"", 0.0)
    return Attempt(1, 1, "", sent, latency, response, outcome, None, "")


def test_the_shop_closed_then_open() -> None:
    seen = Sighting(one_way_ms=0.5)
    for sent, latency, outcome in [
        (1000.0, 1.0, "not_started"),
        (1100.0, 1.0, "not_started"),
        (1150.0, 9.0, "ordered"),  # committed to a disk: a slow answer, arrived one leg after
        (1152.0, 1.0, "sold_out"),
        (1153.0, None, "retry"),  # no answer: sent, but says nothing
        (1154.0, None, "cancelled"),  # never counted
    ]:
        seen.add(_attempt(sent, latency, outcome))
    assert (seen.first_arrival, seen.first_not_started, seen.last_not_started) == (
        1000.5,
        1000.5,
        1100.5,
    )
    assert (seen.first_open, seen.first_accepted, seen.sold_out) == (1150.5, 1150.5, 1152.5)
    assert seen.requests == 5


def test_before_the_clock_is_known_half_the_answer_time_is_the_leg() -> None:
    seen = Sighting()
    seen.add(_attempt(2000.0, 4.0, "limit_reached"))
    assert seen.first_open == 2002.0
    assert seen.first_accepted is None


def test_answers_out_of_order_keep_the_earliest_and_latest() -> None:
    seen = Sighting(one_way_ms=0.0)
    for sent, outcome in [(30.0, "not_started"), (10.0, "not_started"), (50.0, "ordered")]:
        seen.add(_attempt(sent, 1.0, outcome))
    seen.add(_attempt(40.0, 1.0, "ordered"))
    assert (seen.first_not_started, seen.last_not_started) == (10.0, 30.0)
    assert (seen.first_open, seen.first_accepted) == (40.0, 40.0)
