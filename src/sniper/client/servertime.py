"""A server's own time endpoint, and reading its answer. Pure: no I/O, no clock.

A time endpoint answers JSON with the server's time somewhere in it (``{"now_ms": …}``,
``{"code": 0, "data": {"now": 1733130000.123}}``), as epoch milliseconds or seconds. What a value
says depends on how it is written:

* whole milliseconds, or milliseconds with a fraction: a millisecond tick (read as its start,
  as ``Date.now()`` and ``int(time.time() * 1000)`` give it);
* whole seconds: a one-second tick, like the HTTP ``Date`` header (read as its start, as
  ``int(time.time())`` gives it); the measurement then probes the edges of the second;
* seconds with *d* decimals: a tick of 10^(3−d) ms, which may have been rounded (Python's
  ``round``, JavaScript's ``toFixed``) as well as cut, so the interval holds both.

Numbers are parsed as written (``1733130000.100`` has three decimals), and a string that is
a plain decimal numeral (``"1733130000123"``) is read as that number: some shops send their
time as text.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

from sniper.client.connection import HttpCall, Origin
from sniper.client.jsonpath import MISSING, json_lookup
from sniper.client.timesync import EPOCH_MS_RANGE
from sniper.errors import SniperError

Unit = Literal["ms", "s"]

_NUMERAL = re.compile(r"[0-9]+(?:\.[0-9]+)?")


@dataclass(frozen=True, slots=True)
class TimeEndpoint:
    """Where a server tells its time: the origin to ask, the request, the dotted JSON ``path``
    of the time in its answer, and the time's ``unit``."""

    origin: Origin
    call: HttpCall
    path: str = "now_ms"
    unit: Unit = "ms"

    @classmethod
    def from_url(cls, url: str, path: str, unit: Unit = "ms") -> TimeEndpoint:
        """``GET url`` (its path and query as given, the fragment dropped)."""
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        call = HttpCall("GET", target, (("Accept", "application/json"),))
        return cls(Origin.from_url(url), call, path, unit)

    @classmethod
    def api_time(cls, origin: Origin) -> TimeEndpoint:
        """This project's store: ``GET /api/time`` answering ``{"now_ms": …}``."""
        return cls(origin, HttpCall("GET", "/api/time", (("Accept", "application/json"),)))

    @property
    def name(self) -> str:
        """The endpoint as shown: host, path (not the query: it may carry a key) and JSON path,
        with the unit when it is seconds."""
        path = self.call.target.split("?", 1)[0]
        unit = " (s)" if self.unit == "s" else ""
        return f"{self.origin.host_header}{path} {self.path}{unit}"


@dataclass(frozen=True, slots=True)
class Reading:
    """A server time read from an answer: it lies in ``[lo, hi)`` epoch ms; ``tick`` is the
    resolution it was written with (ms)."""

    lo: float
    hi: float
    tick: float


class Unreadable(SniperError):
    """The answer holds no usable time; the message says what was there."""


def parse(body: bytes) -> object:
    """A JSON body with its numbers as written (decimals kept exactly), or None if it is not
    JSON (or nested past Python's stack)."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError):
        return None


def number(value: object) -> Decimal | None:
    """``value`` as an exact finite number: a JSON number (not a boolean) or a string that is a
    plain decimal numeral; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        value = Decimal(repr(value))  # its shortest form: the digits it was written with
    elif isinstance(value, str) and _NUMERAL.fullmatch(value):
        value = Decimal(value)
    if not isinstance(value, Decimal) or not value.is_finite():
        return None
    return value


def reading(value: object, unit: Unit) -> Reading | None:
    """The server time ``value`` stands for in ``unit``, with its resolution; None unless it is
    a number (see :func:`number`) within :data:`EPOCH_MS_RANGE`."""
    found = number(value)
    if found is None:
        return None
    exponent = found.as_tuple().exponent
    decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    try:
        ms = found * 1000 if unit == "s" else found
        lo, hi = EPOCH_MS_RANGE
        if not lo <= ms < hi:
            return None
        if unit == "ms":
            start = float(int(ms))
            return Reading(start, start + 1.0, 1.0)
    except ArithmeticError:  # a number too large for the decimal context
        return None
    if decimals == 0:
        return Reading(float(ms), float(ms) + 1000.0, 1000.0)
    tick = 10.0 ** (3 - decimals)
    return Reading(float(ms) - tick / 2, float(ms) + tick, tick)


def read(body: bytes, path: str, unit: Unit) -> Reading:
    """The time at ``path`` in a JSON ``body``; :class:`Unreadable` naming the path and what
    was found there."""
    value = json_lookup(parse(body), path)
    found = reading(value, unit)
    if found is None:
        raise Unreadable(f"no usable {path} ({shown(value)})")
    return found


def shown(value: object) -> str:
    """A value as an error may show it (its repr, shortened; a server's bytes are cleaned by
    the caller)."""
    if value is MISSING or value is None:
        return "none"
    if isinstance(value, Decimal):
        return str(value)[:40]
    if isinstance(value, dict | list):
        return "an object" if isinstance(value, dict) else "a list"
    return repr(value)[:40]
