"""What the console prints: languages, durations, the quiet wait without a terminal."""

from __future__ import annotations

import io

import pytest

from sniper.client.console import MESSAGES, QUIET_LINE_EVERY_S, WORDS, Console
from sniper.client.outcome import Kind
from sniper.client.policy import Result


def lines(out: io.StringIO) -> list[str]:
    """What was printed, line by line."""
    return out.getvalue().splitlines()


class TestQuietWait:
    """Without a terminal, the countdown is a plain line every few minutes."""

    def test_a_line_every_few_minutes(self) -> None:
        """A 20-minute wait ticking once a second prints a line every QUIET_LINE_EVERY_S."""
        out = io.StringIO()
        console = Console("en", out)
        total = 1200
        for left in range(total, 0, -1):
            console.countdown(seconds=float(left), offset=800.0, rtt=0.3)
        printed = lines(out)
        assert len(printed) == int((total - 1) // QUIET_LINE_EVERY_S)
        assert printed[0] == "waiting: firing in 15 min (server clock +800.00 ms from this one)"
        assert "\x1b" not in out.getvalue()

    def test_chinese(self) -> None:
        """The quiet line speaks the console's language."""
        out = io.StringIO()
        console = Console("zh", out)
        for left in (4000.0, 4000.0 - QUIET_LINE_EVERY_S):
            console.countdown(seconds=left, offset=1.0, rtt=0.3)
        assert lines(out) == ["等待中:1 小时 1 分后开抢(服务器时钟比本机 +1.00 ms)"]


class TestWords:
    """Outcomes, results, clock methods and probe labels in the console's language."""

    @pytest.mark.parametrize("name", [*(k.value for k in Kind), "cancelled", "interrupted",
                                      *(r.name.lower() for r in Result), "intersection",
                                      "lowest-rtt", "login", "item"])
    def test_every_word_has_chinese(self, name: str) -> None:
        """No English word is left inside a Chinese line."""
        assert name in WORDS["zh"]
        assert not any(c.isascii() and c.isalpha() for c in WORDS["zh"][name])

    def test_english_words_read_as_words(self) -> None:
        """No snake_case identifiers on an English screen."""
        console = Console("en", io.StringIO())
        assert console.word("not_ordered") == "not ordered"
        assert console.word("ordered") == "ordered"
        assert console.word("my-plugin-probe") == "my-plugin-probe"

    def test_same_keys_in_both_languages(self) -> None:
        """Every message exists in both languages."""
        assert set(MESSAGES["en"]) == set(MESSAGES["zh"])

    def test_waiting_line_in_words(self) -> None:
        """``firing in 1 h 28 min``, not ``5297.7 s``."""
        out = io.StringIO()
        console = Console("en", out)
        console.say("waiting", target="T", wait=console.duration(5297.7))
        assert lines(out) == ["opening at T on the server's clock; firing in 1 h 28 min"]


class TestCookieHint:
    """After a refused login: what a good cookie looks like."""

    def test_store_cookie_without_session(self) -> None:
        """A store cookie without ``session=`` is named as the likely mistake."""
        out = io.StringIO()
        Console("en", out).cookie_hint("store", "abc123")
        assert "session=TOKEN (yours has no session=)" in out.getvalue()
        assert "sniper login" in out.getvalue()

    def test_store_cookie_with_session(self) -> None:
        """An expired session: the hint, without blaming the format."""
        out = io.StringIO()
        Console("en", out).cookie_hint("store", "session=old")
        assert "session=TOKEN" in out.getvalue()
        assert "yours has no" not in out.getvalue()

    def test_other_platforms(self) -> None:
        """Another shop: where to find its cookie."""
        out = io.StringIO()
        Console("en", out).cookie_hint("http", "x=1")
        assert "developer tools" in out.getvalue()
