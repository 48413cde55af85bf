"""Making what a server supplies safe to print and to log. Pure.

A server's answer is the attacker's text: an order id or an error code holding ESC, BEL or CR
can retitle a terminal, clear it, or overwrite the line that says whether an order was placed;
a server that echoes the request's cookie in a header would put it in the log. So every string
bound for the console goes through :func:`printable`, and every logged record through
:class:`Secrets` (and :func:`log_line`, which escapes what JSON leaves raw).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

# C0 and C1 controls, DEL, bidi overrides and isolates, line and paragraph separators.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069]"
)
#: Shorter cookie values are not hidden: they would blot out unrelated text, and a secret
#: that short guards nothing anyway.
MIN_SECRET_CHARS = 4
HIDDEN = "[redacted]"


def _longest_first(values: Iterable[str]) -> list[str]:
    """The values long enough to hide, longest first, so that a value inside another is not
    hidden piecemeal."""
    return sorted({v for v in values if len(v) >= MIN_SECRET_CHARS}, key=len, reverse=True)


def printable(text: str) -> str:
    """``text`` without control characters (a terminal would obey them)."""
    return _UNPRINTABLE.sub("", text)


def log_line(line: str) -> str:
    """A JSON text with the controls that ``json.dumps(ensure_ascii=False)`` leaves raw (C1,
    bidi) written as ``\\uXXXX`` escapes: the same JSON, safe to ``cat``."""
    return _UNPRINTABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


class Secrets:
    """Values never to be logged: the cookie header and each of its cookies' values, and those
    that ``more`` answers at the time (what a shop handed out during the run: saved tokens, the
    cookies it set)."""

    def __init__(
        self, values: Iterable[str] = (), *, more: Callable[[], Iterable[str]] | None = None
    ) -> None:
        self.values = _longest_first(values)
        self._more = more

    @classmethod
    def of_cookie(cls, cookie: str, *, more: Callable[[], Iterable[str]] | None = None) -> Secrets:
        """The cookie header ``a=1; b=2`` and every value in it."""
        parts = [p.strip() for p in cookie.split(";")]
        values = [p.partition("=")[2].strip() for p in parts]
        return cls([cookie.strip(), *parts, *values], more=more)

    def hide(self, text: str) -> str:
        """``text`` with every secret replaced."""
        values = (
            self.values if self._more is None else _longest_first([*self.values, *self._more()])
        )
        for value in values:
            if value in text:
                text = text.replace(value, HIDDEN)
        return text

    def scrub(self, record: Any) -> Any:
        """A JSON-like record with every secret hidden, in keys and values, at any depth."""
        if isinstance(record, str):
            return self.hide(record)
        if isinstance(record, dict):
            return {self.scrub(k): self.scrub(v) for k, v in record.items()}
        if isinstance(record, list | tuple):
            return [self.scrub(v) for v in record]
        return record
