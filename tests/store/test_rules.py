"""The reservation rules, as a table."""

from __future__ import annotations

import pytest

from sniper.store.models import Item, Order
from sniper.store.rules import Outcome, decide

START = 1_000_000
ITEM = Item("eggs", "eggs", 100, stock=5, sale_start="", sale_start_ms=START, limit_per_user=2)
ORDER = Order("o1", "eggs", 1, "ann", START + 1, "r1")


@pytest.mark.parametrize(
    ("item", "replay", "bought", "qty", "now", "expected"),
    [
        pytest.param(ITEM, ORDER, 2, 1, START - 1, Outcome.REPLAYED, id="replay-wins-over-all"),
        pytest.param(None, ORDER, 0, 1, START, Outcome.REPLAYED, id="replay-even-if-item-gone"),
        pytest.param(None, None, 0, 1, START, Outcome.NOT_FOUND, id="unknown-item"),
        pytest.param(ITEM, None, 0, 1, START - 1, Outcome.NOT_STARTED, id="one-ms-early"),
        pytest.param(ITEM, None, 0, 1, START, Outcome.CREATED, id="at-the-opening"),
        pytest.param(ITEM, None, 2, 1, START, Outcome.LIMIT_REACHED, id="limit-already-used"),
        pytest.param(ITEM, None, 1, 2, START, Outcome.LIMIT_REACHED, id="qty-past-limit"),
        pytest.param(ITEM, None, 1, 1, START, Outcome.CREATED, id="second-within-limit"),
        pytest.param(
            Item("x", "x", 1, 0, "", START, 1), None, 0, 1, START, Outcome.SOLD_OUT, id="no-stock"
        ),
        pytest.param(
            Item("x", "x", 1, 1, "", START, 5),
            None,
            0,
            2,
            START,
            Outcome.SOLD_OUT,
            id="stock-below-qty",
        ),
        pytest.param(
            Item("x", "x", 1, 0, "", START, 1),
            None,
            1,
            1,
            START,
            Outcome.LIMIT_REACHED,
            id="limit-checked-before-stock",
        ),
        pytest.param(
            Item("x", "x", 1, 0, "", START, 1),
            None,
            0,
            1,
            START - 5,
            Outcome.NOT_STARTED,
            id="not-started-checked-before-stock",
        ),
    ],
)
def test_decide(
    item: Item | None, replay: Order | None, bought: int, qty: int, now: int, expected: Outcome
) -> None:
    """Each case names which check wins."""
    assert decide(item, replay, bought, qty, now) is expected
