"""What a server supplies, made safe to print and to log: tables."""

from __future__ import annotations

import json

import pytest

from sniper.client.scrub import HIDDEN, Secrets, log_line, printable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A1", "A1"),
        ("\x1b]0;pwned\x07A1", "]0;pwnedA1"),  # retitle the terminal
        ("A1\x1b[2J\x1b[H", "A1[2J[H"),  # clear the screen
        ("A1\r✗ sold out", "A1✗ sold out"),  # overwrite the line
        ("A\n1\t", "A1"),
        ("\x9b2J", "2J"),  # C1 CSI
        ("abc\u202edcba", "abcdcba"),  # bidi override
        ("下单成功", "下单成功"),
    ],
)
def test_printable(text: str, expected: str) -> None:
    """Control characters go; everything else stays."""
    assert printable(text) == expected


def test_log_line_escapes_what_json_leaves_raw() -> None:
    """C1 and bidi characters become \\u escapes: the same JSON value, safe to cat."""
    record = {"order_id": "A\x9b1\u202e", "zh": "售罄", "esc": "\x1b"}
    line = log_line(json.dumps(record, ensure_ascii=False))
    assert json.loads(line) == record
    assert not {"\x9b", "\u202e", "\x1b"} & set(line)
    assert "售罄" in line


@pytest.mark.parametrize(
    ("cookie", "text", "expected"),
    [
        ("session=abcdef123", "echo: session=abcdef123", f"echo: {HIDDEN}"),
        ("session=abcdef123", "token abcdef123 seen", f"token {HIDDEN} seen"),
        ("a=longvalue1; b=other-secret", "b=other-secret", HIDDEN),
        ("a=longvalue1; b=other-secret", "x other-secret y longvalue1", f"x {HIDDEN} y {HIDDEN}"),
        ("lang=1; sid=s3cr3tvalue", "lang 1 page 1", "lang 1 page 1"),  # too short to hide
    ],
)
def test_secrets_hide_the_cookie_and_every_value(cookie: str, text: str, expected: str) -> None:
    """The header and each cookie's value are hidden wherever they appear."""
    assert Secrets.of_cookie(cookie).hide(text) == expected


def test_scrub_walks_records() -> None:
    """Keys, values, lists, nested mappings; other values untouched."""
    secrets = Secrets.of_cookie("sid=topsecret")
    record = {
        "headers": {"x-echo": "sid=topsecret", "topsecret": 1},
        "list": ["topsecret", 2, None],
        "n": 3.5,
    }
    assert secrets.scrub(record) == {
        "headers": {"x-echo": HIDDEN, HIDDEN: 1},
        "list": [HIDDEN, 2, None],
        "n": 3.5,
    }
