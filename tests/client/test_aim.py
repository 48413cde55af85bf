"""``aim: learned``: the aim from the last openings of a shop and item (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from sniper.client.aim import LEARN_FROM, learned, point
from sniper.client.history import Opening


def _opening(**fields: Any) -> Opening:
    base: dict[str, Any] = {
        "task": "t",
        "shop": "shop:80",
        "sku_id": "eggs",
        "opening": "2024-04-15T07:00:00+08:00",
        "opening_ms": 1_713_135_600_000,
        "aim_ms": 0.0,
        "result": "ordered",
    }
    return Opening(**(base | fields))


def _late(closed: float, opened: float, aimed: float = 0.0) -> Opening:
    return _opening(last_not_started_ms=closed, first_open_ms=opened, aim_ms=aimed)


def _aim(records: list[Opening], window_ms: float = 10_000.0) -> float:
    return learned(records, shop="shop:80", sku_id="eggs", window_ms=window_ms).offset_ms


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (_late(148.0, 151.0), 151.0),  # closed at +148, open at +151: open by +151
        (_opening(first_open_ms=0.6), 0.0),  # open at our first arrival: by the aim (0)
        (_opening(first_open_ms=150.4, aim_ms=150.0), 150.0),
        # Open at our first arrival, aimed late, and no order: we may have come too late.
        (_opening(first_open_ms=150.4, aim_ms=150.0, result="not_ordered"), 0.0),
        (_opening(first_not_started_ms=1.0, last_not_started_ms=9000.0), None),  # never open
        (_opening(), None),
    ],
)
def test_where_one_opening_puts_the_shop(record: Opening, expected: float | None) -> None:
    assert point(record) == expected


def test_nothing_to_learn_from_is_the_published_time() -> None:
    assert _aim([]) == 0.0
    assert _aim([_opening(first_open_ms=0.8) for _ in range(5)]) == 0.0  # a punctual shop
    # Closed only before the published time (our clock was off), open just after it.
    assert _aim([_late(-2.0, 0.5)]) == 0.5


def test_a_shop_that_opens_150_ms_late_is_aimed_at_then() -> None:
    records = [_late(145.0, 151.0)]
    assert _aim(records) == 151.0
    # Aimed at +151 since, and open at our first arrival each time: the aim holds.
    records += [_opening(first_open_ms=151.3, aim_ms=151.0) for _ in range(2)]
    assert _aim(records) == 151.0


def test_a_wandering_opening_is_aimed_at_earlier_by_its_spread() -> None:
    records = [_late(o - 5, o) for o in (140.0, 150.0, 160.0, 150.0, 155.0)]
    found = learned(records, shop="shop:80", sku_id="eggs", window_ms=10_000.0)
    assert found.center_ms == 150.0
    assert found.margin_ms == 10.0  # twice the median distance from the median (5 ms)
    assert found.offset_ms == 140.0
    assert len(found.openings) == 5


def test_one_odd_day_barely_moves_it() -> None:
    records = [_late(145.0, 150.0) for _ in range(5)] + [_late(2900.0, 3000.0)]
    assert _aim(records) == 150.0


def test_only_the_last_openings_of_this_shop_and_item_count() -> None:
    old = [_late(495.0, 500.0) for _ in range(LEARN_FROM)]
    others = [_opening(shop="other:80", last_not_started_ms=900.0, first_open_ms=901.0)]
    others += [_opening(sku_id="milk", last_not_started_ms=900.0, first_open_ms=901.0)]
    recent = [_late(145.0, 150.0) for _ in range(LEARN_FROM)]
    assert _aim(old + others + recent) == 150.0


def test_a_shop_that_stays_late_keeps_its_aim() -> None:
    """Openings aimed late that order at once confirm the aim, long after the opening that
    first saw the shop closed has left the last seven."""
    records = [_late(145.0, 150.0)] + [
        _opening(first_open_ms=150.2, aim_ms=150.0) for _ in range(3 * LEARN_FROM)
    ]
    assert _aim(records) == 150.0


def test_a_shop_that_became_punctual_and_sells_out_is_found_out() -> None:
    """Aimed late, the shop already sold out at our first arrival: those openings pull the
    aim back to the published time once they are most of the last seven."""
    records = [_opening(first_open_ms=150.2, aim_ms=150.0) for _ in range(LEARN_FROM)]
    sold_out = _opening(first_open_ms=150.3, aim_ms=150.0, result="not_ordered")
    for _ in range(3):
        records.append(sold_out)
        assert _aim(records) == 150.0
    records.append(sold_out)
    assert _aim(records) == 0.0


def test_never_before_the_opening_nor_past_the_window() -> None:
    assert _aim([_late(-30.0, -20.0), _late(1.0, 2.0)]) >= 0.0
    assert _aim([_late(59_000.0, 60_000.0)], window_ms=10_000.0) == 10_000.0
