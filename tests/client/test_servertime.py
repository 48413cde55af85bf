"""Reading a shop's time endpoint: where the time is, in which unit, and how fine its tick."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sniper.client.connection import HttpCall, Origin
from sniper.client.jsonpath import json_lookup
from sniper.client.servertime import (
    Reading,
    TimeEndpoint,
    Unit,
    Unreadable,
    number,
    parse,
    read,
    reading,
)

#: 2025-12-02T00:00:00Z.
MS = 1_764_633_600_000


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        # Milliseconds: a 1 ms tick, read as its start, whatever the fraction.
        (MS + 123, "ms", Reading(MS + 123, MS + 124, 1.0)),
        (Decimal(f"{MS + 123}.9"), "ms", Reading(MS + 123, MS + 124, 1.0)),
        (f"{MS + 123}", "ms", Reading(MS + 123, MS + 124, 1.0)),
        (float(MS + 5), "ms", Reading(MS + 5, MS + 6, 1.0)),
        # Whole seconds: a one-second tick, as the Date header.
        (MS // 1000, "s", Reading(MS, MS + 1000, 1000.0)),
        (str(MS // 1000), "s", Reading(MS, MS + 1000, 1000.0)),
        (Decimal(f"{MS // 1000}"), "s", Reading(MS, MS + 1000, 1000.0)),
        # Seconds with decimals: a tick of their last digit, which may have been rounded.
        (Decimal(f"{MS // 1000}.1"), "s", Reading(MS + 50, MS + 200, 100.0)),
        (Decimal(f"{MS // 1000}.12"), "s", Reading(MS + 115, MS + 130, 10.0)),
        (Decimal(f"{MS // 1000}.123"), "s", Reading(MS + 122.5, MS + 124, 1.0)),
        (Decimal(f"{MS // 1000}.100"), "s", Reading(MS + 99.5, MS + 101, 1.0)),
        (f"{MS // 1000}.250", "s", Reading(MS + 249.5, MS + 251, 1.0)),
        (Decimal(f"{MS // 1000}.123456"), "s", Reading(MS + 123.4555, MS + 123.457, 0.001)),
        (MS / 1000 + 0.5, "s", Reading(MS + 450, MS + 600, 100.0)),  # a float: as written
        (Decimal("1.7646336001E+9"), "s", Reading(MS + 50, MS + 200, 100.0)),
        (Decimal("1.764633600E+9"), "s", Reading(MS, MS + 1000, 1000.0)),
    ],
)
def test_what_a_time_says(value: object, unit: Unit, expected: Reading) -> None:
    """Each way of writing a time, with the interval it allows."""
    got = reading(value, unit)
    assert got is not None
    assert got.tick == pytest.approx(expected.tick)
    assert got.lo == pytest.approx(expected.lo)
    assert got.hi == pytest.approx(expected.hi)


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (True, "ms"),
        (None, "ms"),
        ("soon", "ms"),
        ("", "s"),
        (" 1764633600", "s"),  # a numeral, and only a numeral
        ("1764633600.", "s"),
        ("-1764633600", "s"),
        ("1.7646336e9", "s"),
        ("１７６４６３３６００", "s"),  # full-width digits are not a server's numbers
        (MS, "s"),  # milliseconds read as seconds: the year 57 000
        (MS // 1000, "ms"),  # seconds read as milliseconds: January 1970
        (0, "ms"),
        (Decimal("1E+999"), "ms"),
        (Decimal("1E+999999"), "s"),
        (float("inf"), "ms"),
        (float("nan"), "s"),
        ([MS], "ms"),
        ({"now": MS}, "ms"),
    ],
)
def test_what_is_no_time(value: object, unit: Unit) -> None:
    """Booleans, text that is not a plain numeral, a time outside 2001–2200 (a unit mixed up)."""
    assert reading(value, unit) is None


@pytest.mark.parametrize(
    ("data", "path", "expected"),
    [
        ({"now_ms": 5}, "now_ms", 5),
        ({"data": {"now": 5}}, "data.now", 5),
        ({"data": [{"t": 1}, {"t": 2}]}, "data.1.t", 2),
        ([[0, [7]]], "0.1.0", 7),
        ({"data": {"0": 3}}, "data.0", 3),  # a key that looks like an index is still a key
    ],
)
def test_lookup(data: object, path: str, expected: object) -> None:
    """Dotted paths through objects and lists."""
    assert json_lookup(data, path) == expected


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"data": {}}, "data.now"),
        ({"data": [1]}, "data.1"),
        ({"data": [1]}, "data.x"),
        ({"data": 5}, "data.now"),
        (None, "now_ms"),
    ],
)
def test_lookup_missing(data: object, path: str) -> None:
    """A missing step is not a value."""
    assert reading(json_lookup(data, path), "ms") is None


@pytest.mark.parametrize(
    ("body", "path", "unit", "message"),
    [
        (b'{"data": {}}', "data.now", "s", "no usable data.now (none)"),
        (b'{"data": {"now": null}}', "data.now", "s", "no usable data.now (none)"),
        (b'{"data": {"now": {"s": 1}}}', "data.now", "s", "no usable data.now (an object)"),
        (b'{"data": {"now": [1]}}', "data.now", "s", "no usable data.now (a list)"),
        (b'{"data": {"now": "x"}}', "data.now", "s", "no usable data.now ('x')"),
        (b'{"data": {"now": 1764633600123}}', "data.now", "s", "(1764633600123)"),
        (b"not json", "now_ms", "ms", "no usable now_ms (none)"),
        (b"[" * 100_000, "now_ms", "ms", "no usable now_ms (none)"),
        (b'{"t": 1e999}', "t", "ms", "no usable t (1E+999)"),
    ],
)
def test_read_names_the_path(body: bytes, path: str, unit: Unit, message: str) -> None:
    """An answer without a usable time: the path, and what was found there."""
    with pytest.raises(Unreadable) as caught:
        read(body, path, unit)
    assert message in str(caught.value)


def test_read_keeps_decimals_as_written() -> None:
    """``…600.100`` has a 1 ms tick, not the 100 ms a float's shortest form would say."""
    body = b'{"code":0,"data":{"now":1764633600.100}}'
    assert read(body, "data.now", "s").tick == pytest.approx(1.0)
    assert parse(body) == {"code": 0, "data": {"now": Decimal("1764633600.100")}}


def test_numbers() -> None:
    """Exact numbers from JSON numbers and plain numerals only."""
    assert number("0012") == Decimal(12)
    assert number(0.1) == Decimal("0.1")
    assert number(False) is None
    assert number("1e3") is None


@pytest.mark.parametrize(
    ("url", "origin", "target", "name"),
    [
        (
            "https://api.shop.example/time?api=ts&key=s3cret#frag",
            Origin("https", "api.shop.example", 443),
            "/time?api=ts&key=s3cret",
            "api.shop.example/time data.t (s)",
        ),
        (
            "http://127.0.0.1:8123",
            Origin("http", "127.0.0.1", 8123),
            "/",
            "127.0.0.1:8123/ data.t (s)",
        ),
    ],
)
def test_endpoint_from_url(url: str, origin: Origin, target: str, name: str) -> None:
    """The URL's origin and target (query as given); its name leaves out the query."""
    endpoint = TimeEndpoint.from_url(url, "data.t", "s")
    assert endpoint.origin == origin
    assert endpoint.call == HttpCall("GET", target, (("Accept", "application/json"),))
    assert endpoint.name == name
