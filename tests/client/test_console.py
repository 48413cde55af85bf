"""What the console prints: languages, durations, the quiet wait without a terminal."""

from __future__ import annotations

import io

import pytest

from sniper.client.console import MESSAGES, QUIET_LINE_EVERY_S, WORDS, Console
from sniper.client.outcome import Kind
from sniper.client.policy import Result
from sniper.client.timesync import DATE_LAG_MS, Estimate


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

    @pytest.mark.parametrize(
        "name",
        [
            *(k.value for k in Kind),
            "cancelled",
            "interrupted",
            *(r.name.lower() for r in Result),
            "intersection",
            "lowest-rtt",
            "login",
            "item",
        ],
    )
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
        """An expired or logged-out session: said so, with the store's own message (made
        printable), and no hint about the cookie's format."""
        out = io.StringIO()
        Console("en", out).cookie_hint("store", "session=old", "unknown \x1b[31msession")
        assert lines(out) == [
            "  the store does not know this session (expired or logged out); "
            "the store says: unknown [31msession: log in again with "
            "`sniper login URL USER -o FILE`"
        ]

    def test_store_cookie_with_session_in_chinese(self) -> None:
        """The same in Chinese."""
        out = io.StringIO()
        Console("zh", out).cookie_hint("store", "a=1; session=old")
        assert "商店不认识这个会话" in out.getvalue()
        assert "session=TOKEN" not in out.getvalue()

    def test_other_platforms(self) -> None:
        """Another shop: where to find its cookie."""
        out = io.StringIO()
        Console("en", out).cookie_hint("http", "x=1")
        assert "developer tools" in out.getvalue()


class FakeTerminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


class TestSharedLiveLine:
    """Several tasks on one terminal: any task's line first clears another's countdown."""

    def test_a_line_clears_another_tasks_countdown(self) -> None:
        out = FakeTerminal()
        eggs, milk = Console("en", out, "[eggs] "), Console("en", out, "[milk] ")
        eggs.countdown(seconds=42.0, offset=-0.04, rtt=0.17)
        milk.say("preflight_ok", probes="item, login")
        countdown, line = out.getvalue().rsplit("\r\x1b[2K", 1)
        assert "[eggs] T-42" in countdown
        assert line == "[milk] pre-flight: item, login ok\n"

    def test_separate_streams_do_not_share(self) -> None:
        drawn, other = FakeTerminal(), FakeTerminal()
        Console("en", drawn).countdown(seconds=5.0, offset=0.0, rtt=0.1)
        Console("en", other).say("interrupted")
        assert other.getvalue() == "✗ interrupted\n"


class TestClockMethod:
    """How the offset was found, in words; a Date header's estimate says so."""

    def test_date_header(self) -> None:
        est = Estimate(
            offset=3.0,
            uncertainty=1101.49,
            rtt=0.2,
            method="intersection",
            samples=34,
            lag=DATE_LAG_MS,
        )
        for lang, words in (("en", "Date header"), ("zh", "Date 响应头")):
            out = io.StringIO()
            Console(lang, out).clock(est, 3.0)
            assert words in out.getvalue()
            assert "1.1" in out.getvalue()
            assert WORDS[lang]["intersection"] not in out.getvalue()

    def test_time_endpoint(self) -> None:
        est = Estimate(offset=3.0, uncertainty=0.2, rtt=0.2, method="intersection", samples=8)
        out = io.StringIO()
        Console("en", out).clock(est, 3.0)
        assert out.getvalue().endswith("(the offset all of them allow)\n")
