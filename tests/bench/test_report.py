"""The report of an opening: counts, the checks, fairness, latency, timing and the exit code."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sniper.bench.report import Shot, exit_code, summarize, to_json
from tests.bench.target_fixture import DESIGN_KEYS

OPENING = 1_800_000_000_000
STATUS = {"ok": 201, "sold_out": 409, "limit_reached": 409, "http_503": 503}


def shot(
    index: int,
    code: str = "ok",
    *,
    sent: float = 0.0,
    took: float = 5.0,
    user: str | None = None,
) -> Shot:
    """A shot sent ``sent`` ms after the opening, answered ``took`` ms later."""
    status = None if code in ("timeout", "connection_error") else STATUS.get(code, 400)
    name = f"u{index}" if user is None else user
    return Shot(name, OPENING + sent, OPENING + sent + took, status, code, index)


def outcome(codes: str, stock: int, **kwargs: Any) -> dict[str, Any]:
    """The report of shots whose codes are the letters of ``codes`` (o ok, s sold_out,
    t timeout, c connection_error, r rejected, e http_503), sent in that order, one ms apart."""
    names = {
        "o": "ok",
        "s": "sold_out",
        "t": "timeout",
        "c": "connection_error",
        "r": "rejected",
        "e": "http_503",
    }
    shots = [shot(i, names[c], sent=float(i)) for i, c in enumerate(codes)]
    return summarize(shots, stock=stock, opening_ms=OPENING, **kwargs)


def test_counts_and_errors_by_kind() -> None:
    codes = ["ok", "sold_out", "sold_out", "timeout", "http_503", "connection_error", "timeout"]
    report = summarize([shot(i, c) for i, c in enumerate(codes)], stock=1, opening_ms=OPENING)
    assert (report["requests"], report["ok"], report["sold_out"]) == (7, 1, 2)
    assert report["errors"] == {"connection_error": 1, "http_503": 1, "timeout": 2}
    assert list(report["errors"]) == sorted(report["errors"])


@pytest.mark.parametrize(
    ("codes", "stock", "kwargs", "oversold"),
    [
        ("ooo", 3, {}, False),  # exactly the stock
        ("oooo", 3, {}, True),
        ("oo", 3, {"server_count": 4}, True),  # the server counts more than we saw
        ("oooo", 3, {"server_count": 2}, True),  # we saw more than the server counts
        ("oo", 3, {"server_count": 3}, False),
        # Our store's order list: more units listed than stock, or a buyer past the limit.
        ("oo", 3, {"orders": [{"user": "a", "qty": 2}, {"user": "b", "qty": 2}], "limit": 2}, True),
        ("oo", 3, {"orders": [{"user": "a", "qty": 2}], "limit": 1}, True),
        ("oo", 3, {"orders": [{"user": "a", "qty": 1}, {"user": "a", "qty": 1}]}, True),
        (
            "oo",
            3,
            {"orders": [{"user": "a", "qty": 2}, {"user": "b", "qty": 1}], "limit": 2},
            False,
        ),
        ("", 0, {"orders": []}, False),
    ],
)
def test_oversold(codes: str, stock: int, kwargs: dict[str, Any], oversold: bool) -> None:
    assert outcome(codes, stock, **kwargs)["oversold"] is oversold


@pytest.mark.parametrize(
    ("codes", "stock", "kwargs", "undersold"),
    [
        ("ooss", 2, {}, False),  # sold out after the stock went
        ("osss", 2, {}, True),  # told sold out with one left
        ("ott", 2, {}, False),  # one left, but nobody was told sold out
        ("osss", 2, {"server_count": 2}, False),  # the server sold the other (our answer lost)
        ("ooss", 2, {"server_count": 1}, True),  # the server's count is the truth when given
        ("sss", 0, {}, False),  # nothing to sell
        ("ssss", 3, {}, True),
        # A request with no known outcome may have bought the unit left: unknown.
        ("ots", 2, {}, None),
        ("ocs", 2, {}, None),
        ("ors", 2, {}, None),
        ("otss", 3, {}, True),  # even if the timeout bought one, one is left
        ("oes", 2, {}, True),  # an HTTP 503 is a known refusal
        ("ots", 2, {"server_count": 1}, True),  # the server's count decides
        ("ots", 2, {"server_count": 2}, False),
        # One shard without the server's count: the other shards' sales are not known.
        ("oss", 4, {"shard": "1/2"}, None),
        ("oo", 4, {"shard": "1/2"}, None),
        ("", 4, {"shard": "2/2"}, None),
        ("oss", 4, {"shard": "1/2", "server_count": 4}, False),
        ("oss", 4, {"shard": "1/2", "server_count": 3}, True),
    ],
)
def test_undersold(codes: str, stock: int, kwargs: dict[str, Any], undersold: bool | None) -> None:
    report = outcome(codes, stock, **kwargs)
    assert report["undersold"] is undersold
    assert exit_code(report) == (1 if undersold else 0)


def test_the_units_sold_and_the_unknown_outcomes() -> None:
    report = outcome("ootcrse", 5)
    assert (report["sold"], report["unknown_outcomes"]) == (2, 3)
    assert outcome("ootcrse", 5, server_count=4)["sold"] == 4


@pytest.mark.parametrize(
    ("wins", "duplicates"),
    [
        (["a", "b", "c"], 0),
        (["a", "b", "a"], 1),  # one buyer, two sessions, two units
        (["a", "a", "a", "b", "b", "c"], 2),
        ([], 0),
    ],
)
def test_duplicates(wins: list[str], duplicates: int) -> None:
    shots = [shot(i, user=u) for i, u in enumerate(wins)]
    shots.append(shot(len(wins), "sold_out", user="c"))  # a refusal is not an order
    report = summarize(shots, stock=10, opening_ms=OPENING)
    assert report["duplicates"] == duplicates


def test_sold_out_after_is_the_last_success() -> None:
    shots = [
        shot(0, sent=1.0, took=3.0),
        shot(1, sent=0.5, took=12.25),
        shot(2, "sold_out", sent=0.2, took=40.0),
    ]
    assert summarize(shots, stock=2, opening_ms=OPENING)["sold_out_after_ms"] == 12.75
    assert outcome("sss", 2)["sold_out_after_ms"] is None


@pytest.mark.parametrize(
    ("codes", "stock", "kwargs", "after"),
    [
        ("oo", 50, {}, None),  # two of fifty sold: never sold out
        ("oo", 50, {"server_count": 49}, None),
        ("oo", 50, {"server_count": 50}, 6.0),  # the server sold the rest
        ("oo", 2, {"server_count": 1}, None),  # the server's count is the truth when given
        ("oos", 2, {}, 6.0),
        ("oo", 4, {"shard": "1/2"}, None),  # a shard's own sales are not the sale's
    ],
)
def test_sold_out_after_only_when_sold_out(
    codes: str, stock: int, kwargs: dict[str, Any], after: float | None
) -> None:
    assert outcome(codes, stock, **kwargs)["sold_out_after_ms"] == after


def test_an_empty_shard() -> None:
    """A shard with no user in it (shard 4/4 of three users): a report, nothing judged."""
    report = summarize([], stock=2, opening_ms=OPENING, shard="4/4")
    assert (report["requests"], report["ok"], report["sold_out"], report["errors"]) == (0, 0, 0, {})
    assert (report["oversold"], report["undersold"], report["duplicates"]) == (False, None, 0)
    assert report["sold_out_after_ms"] is None
    assert report["fairness"]["kendall_tau"] is None
    assert set(report["latency_ms"].values()) == {None}
    assert (report["first_send_server_ms"], report["shots"], report["shard"]) == (None, [], "4/4")
    assert exit_code(report) == 0
    assert json.loads(to_json(report)) == report


def test_fairness() -> None:
    """First come first served: tau is its ceiling; first_n is the stock unless given."""
    report = outcome("oossss", 2)
    fair = report["fairness"]
    assert fair["kendall_tau"] == fair["kendall_tau_max"] == pytest.approx(0.7303, abs=1e-4)
    assert (fair["winners_in_first_n"], fair["first_n"]) == (2, 2)
    later = outcome("ssssoo", 2, first_n=3)["fairness"]
    assert later["kendall_tau"] == pytest.approx(-0.7303, abs=1e-4)
    assert later["kendall_tau_max"] == pytest.approx(0.7303, abs=1e-4)
    assert (later["winners_in_first_n"], later["first_n"]) == (0, 3)
    assert outcome("ssss", 2)["fairness"]["kendall_tau"] is None
    assert outcome("oo", 2)["fairness"]["kendall_tau"] is None


def test_a_request_that_got_no_answer_did_not_win() -> None:
    assert outcome("tto", 1)["fairness"]["kendall_tau"] == pytest.approx(-0.8165, abs=1e-4)


def test_latency_of_answered_shots() -> None:
    shots = [shot(i, "sold_out", took=float(i + 1)) for i in range(100)]
    shots.append(shot(100, "timeout", took=30_000.0))  # no answer: not a latency
    latency = summarize(shots, stock=0, opening_ms=OPENING)["latency_ms"]
    assert latency == {
        "p50": pytest.approx(50.0, rel=1e-3),
        "p90": pytest.approx(90.0, rel=1e-3),
        "p99": pytest.approx(99.0, rel=1e-3),
        "max": pytest.approx(100.0, rel=1e-3),
    }
    nothing = summarize([shot(0, "timeout")], stock=1, opening_ms=OPENING)["latency_ms"]
    assert nothing == {"p50": None, "p90": None, "p99": None, "max": None}


def test_timing() -> None:
    shots = [shot(0, sent=-1.5, took=10.0), shot(1, sent=2.5, took=498.5), shot(2, sent=0.0)]
    report = summarize(shots, stock=3, opening_ms=OPENING)
    assert report["spread_ms"] == 4.0
    assert report["first_send_server_ms"] == OPENING - 1.5
    assert report["throughput_rps"] == pytest.approx(3 / 0.5025, abs=0.1)


def test_nothing_sent() -> None:
    report = summarize([], stock=5, opening_ms=OPENING)
    assert (report["requests"], report["spread_ms"], report["first_send_server_ms"]) == (
        0,
        0.0,
        None,
    )
    assert (report["oversold"], report["undersold"], report["duplicates"]) == (False, False, 0)
    assert exit_code(report) == 0


def test_echoes_and_shots() -> None:
    """The shots by the users file's order, times to a microsecond; what a merge needs."""
    shots = [
        Shot("b", OPENING + 0.1234567, OPENING + 7.0000004, 409, "sold_out", 4),
        Shot("a", OPENING + 0.5, OPENING + 3.0, None, "timeout", 1),
    ]
    report = summarize(shots, stock=7, opening_ms=OPENING, server_count=0, shard="2/3")
    assert report["shots"] == [
        [1, "a", OPENING + 0.5, OPENING + 3.0, None, "timeout"],
        [4, "b", round(OPENING + 0.1234567, 3), round(OPENING + 7.0000004, 3), 409, "sold_out"],
    ]
    assert (report["stock"], report["opening_ms"], report["server_count"], report["shard"]) == (
        7,
        OPENING,
        0,
        "2/3",
    )
    assert json.loads(to_json(report)) == report  # one JSON object, every value as it is


def test_the_keys_promised() -> None:
    report = outcome("os", 1)
    assert set(report) >= DESIGN_KEYS | {
        "throughput_rps",
        "stock",
        "opening_ms",
        "server_count",
        "shard",
        "shots",
    }
    assert set(report["fairness"]) == {
        "kendall_tau",
        "kendall_tau_max",
        "winners_in_first_n",
        "first_n",
    }


def _report(
    ok: int,
    errors: dict[str, int],
    *,
    oversold: bool = False,
    undersold: bool = False,
    duplicates: int = 0,
) -> dict[str, Any]:
    return {
        "ok": ok,
        "errors": errors,
        "oversold": oversold,
        "undersold": undersold,
        "duplicates": duplicates,
    }


@pytest.mark.parametrize(
    ("report", "code"),
    [
        (_report(0, {"connection_error": 10}), 1),  # nothing succeeded, everything failed
        (_report(0, {}), 0),  # stock 0: every answer sold_out, as it should be
        (_report(3, {"timeout": 2}), 0),  # some succeeded: the figures tell the rest
        (_report(30, {}, oversold=True), 1),
        (_report(10, {}, undersold=True), 1),
        (_report(30, {}, duplicates=1), 1),
        (_report(30, {}), 0),
    ],
)
def test_exit_code(report: dict[str, Any], code: int) -> None:
    assert exit_code(report) == code
