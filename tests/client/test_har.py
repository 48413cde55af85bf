"""Reading a HAR as Chrome and Firefox write it: its exchanges, the listing, the picks."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from sniper.client.har import Exchange, listing, pick, read_har
from sniper.errors import ConfigError

HARS = Path(__file__).parent / "har"


def chrome() -> list[Exchange]:
    """The Chrome export (HTTP/2, lowercase names, pseudo-headers, a base64 answer)."""
    return read_har((HARS / "chrome.har").read_bytes())


def firefox() -> list[Exchange]:
    """The Firefox export (names in their case, params beside text, a missing answer text)."""
    return read_har((HARS / "firefox.har").read_bytes())


def har_of(*entries: dict[str, Any]) -> bytes:
    """A HAR file holding ``entries``."""
    return json.dumps({"log": {"version": "1.2", "entries": list(entries)}}).encode()


def entry(post: dict[str, Any] | None = None, **response: Any) -> dict[str, Any]:
    """A POST entry with ``post`` as its postData and ``response`` as its answer."""
    request: dict[str, Any] = {"method": "post", "url": "http://127.0.0.1:9/api/x", "headers": []}
    if post is not None:
        request["postData"] = post
    return {"request": request, "response": response}


class TestRead:
    """What is kept of each entry."""

    def test_chrome_export(self) -> None:
        """Every entry, in order; an answer in base64 decoded; a binary one has no text."""
        exchanges = chrome()
        assert [ex.method for ex in exchanges] == ["GET", "GET", "GET", "GET", "POST", "POST"]
        token = exchanges[4]
        assert token.response_text == '{"code":0,"data":{"token":"tk_8Hq2ZpL0x9wV"}}'
        assert token.header(":authority") == "shop.example.com"
        assert token.body == '{"sku":"100234567"}'
        assert exchanges[2].response_text is None  # the PNG
        assert exchanges[3].set_cookies == (("csrf", "c5rf-9f8e7d6c5b4a"),)

    def test_firefox_export(self) -> None:
        """The form's text is the body, byte for byte (not its decoded params); an answer the
        HAR kept no text of is None with its size."""
        exchanges = firefox()
        assert exchanges[2].body == (
            "addressId=A-5521&cartId=C20240415-77a1&note=leave+at+the+door&city=%E4%B8%8A%E6%B5%B7"
        )
        assert exchanges[3].response_text is None
        assert exchanges[3].response_size == 57
        assert exchanges[1].set_cookies == (("csrf", "c5rf-9f8e7d6c5b4a"),)
        assert exchanges[1].header("cookie") == "session=s3ss10n-abcdef123456"

    @pytest.mark.parametrize(
        ("post", "body"),
        [
            ({"mimeType": "text/plain", "text": "a b"}, "a b"),
            ({"mimeType": "text/plain", "text": ""}, ""),
            (
                {"text": base64.b64encode('{"k":"价"}'.encode()).decode(), "encoding": "base64"},
                '{"k":"价"}',
            ),
            # Params as Chrome writes them (as sent): joined as they are.
            (
                {"params": [{"name": "a", "value": "%7B%22x%22%7D"}, {"name": "b", "value": "1"}]},
                "a=%7B%22x%22%7D&b=1",
            ),
            # Params written decoded: encoded as a browser's form is.
            (
                {"params": [{"name": "note", "value": "a b&c"}, {"name": "city", "value": "上海"}]},
                "note=a+b%26c&city=%E4%B8%8A%E6%B5%B7",
            ),
            ({"mimeType": "application/json"}, None),
        ],
    )
    def test_request_bodies(self, post: dict[str, Any], body: str | None) -> None:
        """The body as sent, from text, base64 text or params alone."""
        assert read_har(har_of(entry(post)))[0].body == body

    def test_set_cookie_headers_joined_by_chrome(self) -> None:
        """Chrome may join several Set-Cookie values with a line break: each is a cookie."""
        headers = [{"name": "set-cookie", "value": "a=1111; Path=/\nb=2222; HttpOnly"}]
        (ex,) = read_har(har_of(entry(headers=headers)))
        assert ex.set_cookies == (("a", "1111"), ("b", "2222"))

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"<html>", "har: not JSON"),
            (b"\xff\xfe{", "har: the file is not UTF-8 text"),
            (b"[]", "har: not a HAR file (no log.entries)"),
            (b'{"log": {"entries": {}}}', "har: not a HAR file (no log.entries)"),
            (b'{"log": {"entries": [{"response": {}}]}}', "har: entry 1: no request"),
            (b'{"log": {"entries": [{"request": {"url": "x"}}]}}', "har: entry 1: the request"),
            (
                har_of(entry({"text": base64.b64encode(b"\xff").decode(), "encoding": "base64"})),
                "har: entry 1: the body is base64 but not UTF-8 text",
            ),
        ],
    )
    def test_bad_files(self, data: bytes, message: str) -> None:
        """One line naming what is wrong."""
        with pytest.raises(ConfigError) as caught:
            read_har(data)
        assert str(caught.value).startswith(message)


class TestListing:
    """What ``import-har FILE`` prints."""

    def test_chrome(self) -> None:
        """Number, method, status, URL; what the page loads for itself is marked static."""
        assert listing(chrome()) == [
            "1  GET     200  https://shop.example.com/item/100234567",
            "2  GET     200  https://shop.example.com/static/app.3f9c1e.js  (static)",
            "3  GET     200  https://shop.example.com/static/logo.png  (static)",
            "4  GET     200  https://shop.example.com/api/cart?sku=100234567&src=pc",
            "5  POST    200  https://shop.example.com/api/seckill/token",
            "6  POST    200  https://shop.example.com/api/order/submit?v=2",
        ]

    def test_firefox_static_by_type(self) -> None:
        """Firefox has no resource type: the answer's type says static."""
        lines = listing(firefox())
        assert lines[0].endswith("/static/logo.png  (static)")
        assert [line.endswith("(static)") for line in lines[1:]] == [False] * 5

    @pytest.mark.parametrize(
        ("url", "shown"),
        [
            ("http://h/a?token=abcdef&x=1", "http://h/a?token=…&x=1"),
            ("http://h/a?sign=ab12cd&sid=998877&n=12345", "http://h/a?sign=…&sid=…&n=12345"),
            ("http://h/a?token=abc", "http://h/a?token=abc"),
            ("http://h/a\x1b[2J?q=1", "http://h/a[2J?q=1"),
        ],
    )
    def test_secret_query_values_hidden(self, url: str, shown: str) -> None:
        """Tokens and signatures in a URL are not printed; nor are terminal controls."""
        har = har_of({"request": {"method": "GET", "url": url}, "response": {"status": 200}})
        assert listing(read_har(har)) == [f"1  GET     200  {shown}"]

    def test_numbers_aligned(self) -> None:
        """Numbers from 1, right-aligned; an entry with no answer shows ---."""
        request = {"method": "GET", "url": "http://h/x"}
        lines = listing(read_har(har_of(*[{"request": request}] * 10)))
        assert lines[0] == " 1  GET     ---  http://h/x"
        assert lines[9].startswith("10  ")


class TestPick:
    """``--pick N|TEXT``."""

    @pytest.mark.parametrize(
        ("picks", "chosen"),
        [
            (["4", "5", "6"], [3, 4, 5]),
            (["cart", "token", "submit"], [3, 4, 5]),
            (["shop.example.com"], [0]),  # the first whose URL contains it
            (["6", "1"], [5, 0]),  # in the order given
        ],
    )
    def test_picks(self, picks: list[str], chosen: list[int]) -> None:
        """By number (from 1) or by text of the URL."""
        assert pick(chrome(), picks) == chosen

    @pytest.mark.parametrize(
        ("given", "message"),
        [
            ("0", "--pick 0: no request number 0 (the HAR has 6)"),
            ("7", "--pick 7: no request number 7 (the HAR has 6)"),
            ("/api/nowhere", "--pick /api/nowhere: no request's URL contains it"),
        ],
    )
    def test_bad_picks(self, given: str, message: str) -> None:
        """A pick that names nothing."""
        with pytest.raises(ConfigError) as caught:
            pick(chrome(), [given])
        assert str(caught.value) == message
