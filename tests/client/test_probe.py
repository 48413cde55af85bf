"""Reading a time out of an answer: a table of what servers send."""

from __future__ import annotations

import pytest

from sniper.client.connection import Origin, Response
from sniper.client.probe import ClockError, sample_from
from sniper.client.servertime import TimeEndpoint

API_TIME = TimeEndpoint.api_time(Origin("http", "127.0.0.1", 8000))


def answer(body: bytes = b"", date: str | None = None) -> Response:
    """An answer received at local 100 ms."""
    headers = (("date", date),) if date else ()
    return Response(200, headers, body, 100.0)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"now_ms": true}', "no usable now_ms (True)"),
        (b'{"now_ms": "1764633600000 "}', "no usable now_ms ('1764633600000 ')"),
        (b'{"now_ms": -99999999999999}', "no usable now_ms (-99999999999999)"),
        (b'{"now_ms": 1e999}', "no usable now_ms (1E+999)"),
        (b'{"now_ms": null}', "no usable now_ms (none)"),
        (b'{"time": 1764633600000}', "no usable now_ms (none)"),
        (b"[1764633600000]", "no usable now_ms (none)"),
        (b"[" * 100_000, "no usable now_ms (none)"),  # nested past Python's stack
        (b'{"now_ms": "\\u001b]0;x\\u0007"}', r"no usable now_ms ('\x1b]0;x\x07')"),
    ],
)
def test_time_endpoint_nonsense(body: bytes, message: str) -> None:
    """Booleans, strings that are not plain numerals, times before 2001: one clear error,
    no sample."""
    with pytest.raises(ClockError) as caught:
        sample_from(answer(body), 99.0, API_TIME)
    assert message in str(caught.value)
    assert "\x1b" not in str(caught.value)


@pytest.mark.parametrize(
    "date",
    [
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Mon, 01 Jan 1990 00:00:00 GMT",
        "Fri, 01 Jan 2999 00:00:00 GMT",
    ],
)
def test_date_header_nonsense(date: str) -> None:
    """A Date of 1970 or 1990 is no time to plan by."""
    with pytest.raises(ClockError, match="is no time to plan by"):
        sample_from(answer(date=date), 99.0, None)


def test_good_answers() -> None:
    """A millisecond tick, and a Date second (with its possible lag)."""
    tick = sample_from(answer(b'{"now_ms": 1764633600123}'), 99.0, API_TIME)
    assert (tick.server_lo, tick.lag) == (1764633600123.0, 0.0)
    date = sample_from(answer(date="Tue, 02 Dec 2025 00:00:00 GMT"), 99.0, None)
    assert (date.server_lo, date.server_hi) == (1764633600000.0, 1764633601000.0)
    assert date.lag > 1000.0


SHOP = TimeEndpoint.from_url("https://api.shop.example/api/serverTime?x=1", "data.now", "s")


def test_a_shop_clock_in_seconds() -> None:
    """A shop's endpoint: the time at its path, in its unit, the sample as wide as its tick."""
    body = b'{"code": 0, "data": {"now": 1764633600.123}}'
    sample = sample_from(answer(body), 99.0, SHOP)
    assert (sample.server_lo, sample.server_hi) == (1764633600122.5, 1764633600124.0)
    assert (sample.t0, sample.t1, sample.lag) == (99.0, 100.0, 0.0)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (Response(200, (), b'{"code": 0, "data": {}}', 100.0), "no usable data.now (none)"),
        (
            Response(404, (), b"<html>not here</html>", 100.0),
            "no usable data.now (none) (HTTP 404)",
        ),
        (Response(200, (), b'{"data": {"now": "soon"}}', 100.0), "no usable data.now ('soon')"),
    ],
)
def test_a_shop_clock_that_gives_no_time(response: Response, message: str) -> None:
    """The path and what was there (and a status that was not 2xx) are named."""
    with pytest.raises(ClockError) as caught:
        sample_from(response, 99.0, SHOP)
    assert str(caught.value) == f"the time endpoint gave {message}"
