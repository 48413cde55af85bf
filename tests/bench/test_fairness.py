"""Kendall tau-b between send order and winning: the fast count against the pairwise definition."""

from __future__ import annotations

import math
import random

import pytest

from sniper.bench.fairness import kendall_tau, kendall_tau_max, winners_in_first


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def brute_tau(sent: list[float], won: list[bool]) -> float | None:
    """Tau-b by its definition over every pair; the send rank is "earlier is higher"."""
    n = len(sent)
    concordant = discordant = tied_x = tied_y = 0
    for i in range(n):
        for j in range(i + 1, n):
            dx = -_sign(sent[j] - sent[i])
            dy = _sign(int(won[j]) - int(won[i]))
            tied_x += dx == 0
            tied_y += dy == 0
            concordant += dx * dy > 0
            discordant += dx * dy < 0
    pairs = n * (n - 1) // 2
    denominator = math.sqrt((pairs - tied_x) * (pairs - tied_y))
    return None if denominator == 0 else (concordant - discordant) / denominator


def test_matches_the_pairwise_definition_on_random_data() -> None:
    """Random sends with many ties (a coarse clock) and random winners, 0 to 80 requests."""
    rng = random.Random(17)
    for trial in range(400):
        n = rng.randint(0, 80)
        grain = rng.choice([1, 3, 20, 1000])  # few distinct send times down to almost none tied
        sent = [float(rng.randrange(grain)) for _ in range(n)]
        p = rng.random()
        won = [rng.random() < p for _ in range(n)]
        fast, slow = kendall_tau(sent, won), brute_tau(sent, won)
        if slow is None:
            assert fast is None, trial
        else:
            assert fast == pytest.approx(slow, abs=1e-12), trial


@pytest.mark.parametrize(
    ("sent", "won", "tau"),
    [
        ([1.0, 2.0], [True, False], 1.0),  # two requests: the first won
        ([1.0, 2.0], [False, True], -1.0),
        ([1.0, 2.0, 3.0], [True, False, False], math.sqrt(2 / 3)),  # binary: below 1 even so
        ([1.0, 1.0, 2.0], [True, False, False], 1 / math.sqrt(2 * 2)),  # a tie: one pair counts
        ([1.0, 2.0], [True, True], None),  # no loser
        ([1.0, 2.0], [False, False], None),  # no winner
        ([5.0, 5.0, 5.0], [True, False, False], None),  # all sent at one instant
        ([], [], None),
    ],
)
def test_known_values(sent: list[float], won: list[bool], tau: float | None) -> None:
    got = kendall_tau(sent, won)
    assert got == (None if tau is None else pytest.approx(tau))


def test_different_lengths_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="length"):
        kendall_tau([1.0], [True, False])


def test_twenty_thousand_requests() -> None:
    """First come first served over 20,000 distinct sends: tau is its ceiling, sqrt(W·L/n0);
    last come first served the opposite."""
    n, winners = 20_000, 100
    sent = [float(i) for i in range(n)]
    fcfs = [i < winners for i in range(n)]
    ceiling = math.sqrt(winners * (n - winners) / (n * (n - 1) / 2))
    assert kendall_tau(sent, fcfs) == pytest.approx(ceiling)
    assert kendall_tau_max(sent, winners) == pytest.approx(ceiling)
    assert kendall_tau(sent, fcfs[::-1]) == pytest.approx(-ceiling)


def test_the_ceiling_is_what_first_come_first_served_gives_with_these_ties() -> None:
    """Random tied sends: the W earliest winning gives kendall_tau_max, and no other outcome
    with W winners gives more."""
    rng = random.Random(3)
    for _ in range(50):
        sent = [float(rng.randrange(6)) for _ in range(12)]
        winners = rng.randint(1, 11)
        best = kendall_tau_max(sent, winners)
        assert best is not None
        for _ in range(30):
            chosen = set(rng.sample(range(12), winners))
            tau = kendall_tau(sent, [i in chosen for i in range(12)])
            assert tau is None or tau <= best + 1e-12
        order = sorted(range(12), key=lambda i: sent[i])
        first = set(order[:winners])
        assert kendall_tau(sent, [i in first for i in range(12)]) == pytest.approx(best)


@pytest.mark.parametrize(
    ("n", "winners"),
    [(0, 0), (1, 0), (2, 1), (3, 1), (4, 2), (10, 2)],
)
def test_winners_in_first(n: int, winners: int) -> None:
    """Sends (ms, index, won): a tie in time goes by the users file's order."""
    sent = [(5.0, 3, True), (1.0, 9, False), (5.0, 2, False), (2.0, 0, True)]
    # Sent order: index 9 (1 ms), 0 (2 ms), then at 5 ms index 2 before 3.
    assert winners_in_first(sent, n) == winners
