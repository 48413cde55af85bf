"""curl -b FILE: the Cookie header curl makes from a Netscape cookie file."""

from __future__ import annotations

import pytest

from sniper.client.cookiefile import cookie_header
from sniper.errors import ConfigError

NOW = 1_800_000_000

FILE = "\n".join(
    [
        "# Netscape HTTP Cookie File",
        "",
        "shop.example\tFALSE\t/\tFALSE\t0\tsid\ts1",
        ".shop.example\tTRUE\t/\tFALSE\t0\tall\ta1",
        "#HttpOnly_shop.example\tFALSE\t/api\tTRUE\t0\ttoken\tt1",
        "shop.example\tFALSE\t/\tFALSE\t1700000000\told\tgone",
        "shop.example\tFALSE\t/\tFALSE\t1900000000\tlater\tl1",
        "shop.example\tFALSE\t/apix\tFALSE\t0\tnear\tno",
        "m.shop.example\tFALSE\t/\tFALSE\t0\tmobile\tm1",
        "other.example\tTRUE\t/\tFALSE\t0\tother\to1",
    ]
)


@pytest.mark.parametrize(
    ("url", "sent"),
    [
        ("https://shop.example/api/buy", "token=t1; later=l1; all=a1; sid=s1"),
        ("http://shop.example/api/buy", "later=l1; all=a1; sid=s1"),
        ("https://shop.example/apiary", "later=l1; all=a1; sid=s1"),
        ("https://shop.example/api", "token=t1; later=l1; all=a1; sid=s1"),
        ("https://m.shop.example/", "mobile=m1; all=a1"),
        ("https://x.m.shop.example/", "all=a1"),
        ("https://elsewhere.example/", ""),
    ],
)
def test_what_curl_sends(url: str, sent: str) -> None:
    """Host (subdomains only when the file says TRUE), path under the cookie's, secure only
    to https, no expired one; longest path, then domain, then name first, else the file's last
    first (as curl 7.88 sends them to this file, checked with --resolve)."""
    assert cookie_header(FILE, url, now=NOW, where="-b c.txt") == sent


def test_localhost_counts_as_secure() -> None:
    """curl sends a secure cookie to 127.0.0.1 and localhost over plain http."""
    text = "127.0.0.1\tFALSE\t/\tTRUE\t0\ts\t1\nlocalhost\tFALSE\t/\tTRUE\t0\tl\t2"
    assert cookie_header(text, "http://127.0.0.1:8000/", now=NOW, where="-b c") == "s=1"
    assert cookie_header(text, "http://localhost/", now=NOW, where="-b c") == "l=2"


@pytest.mark.parametrize(
    "line", ["Set-Cookie: a=1; Path=/", "shop.example\tFALSE\t/\tFALSE\tsoon\ta\t1", "a=1"]
)
def test_another_form_is_refused(line: str) -> None:
    """A headers file, a bad expiry, a bare string: one line naming the file and the line."""
    with pytest.raises(ConfigError, match=r"^-b c.txt: line 2 is not a Netscape cookie line"):
        cookie_header(f"# x\n{line}\n", "http://shop.example/", now=NOW, where="-b c.txt")
