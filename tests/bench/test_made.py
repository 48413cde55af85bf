"""What a run against our store says it made, removed or kept."""

from __future__ import annotations

import pytest

from sniper.bench.run import Made


@pytest.mark.parametrize(
    ("made", "item", "users", "said"),
    [
        (Made("bench-1", ["a", "b"]), True, None, "item bench-1 and 2 users"),
        (Made("bench-1", ["a"]), True, None, "item bench-1 and 1 user"),
        (Made("bench-1", []), True, None, "item bench-1"),
        (Made(None, ["a", "b"]), True, None, "2 users"),
        (Made("bench-1", ["a", "b"]), False, 2, "2 users"),
        (Made("bench-1", ["a", "b"]), True, 0, "item bench-1"),
        (Made("bench-1", ["a", "b"]), False, 0, ""),
    ],
)
def test_describe(made: Made, item: bool, users: int | None, said: str) -> None:
    """The item when it counts, then the users (all, or as many as given)."""
    assert made.describe(item, users) == said
