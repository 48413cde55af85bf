"""What the target's answers say: each user's order answer as a code, and the server's own count.
Pure.

An order answer is read exactly as the ``http`` platform reads its last step
(:func:`sniper.client.answers.classify`: an order first, then the body rules' refusals, then the
status alone), and its verdict said as a bench code: ``ok``, ``sold_out``, ``limit_reached``,
``not_started`` (the rules, or 425), ``rate_limited`` (429), ``unauthorized`` (401, 403),
``rejected`` (a success status or other 2xx that no rule recognises) or ``http_<status>``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sniper.client import answers
from sniper.client.config import HttpRules
from sniper.client.connection import Response
from sniper.client.jsonpath import MISSING, json_lookup
from sniper.client.outcome import Kind
from sniper.errors import SniperError

_CODES = {
    Kind.ORDERED: "ok",
    Kind.SOLD_OUT: "sold_out",
    Kind.LIMIT_REACHED: "limit_reached",
    Kind.NOT_STARTED: "not_started",
    Kind.RATE_LIMITED: "rate_limited",
    Kind.AUTH: "unauthorized",
}


class CountError(SniperError):
    """The count endpoint's answer holds no count."""


def classify(rules: HttpRules, status: int, headers: Sequence[tuple[str, str]], body: bytes) -> str:
    """The code of one order answer (``headers``: names in lower case, as a
    :class:`~sniper.client.connection.Response` holds them)."""
    verdict = answers.classify(rules, Response(status, tuple(headers), body, 0.0))
    code = _CODES.get(verdict.kind)
    if code is not None:
        return code
    if 200 <= status < 300 or status in rules.success_status:
        return "rejected"
    return f"http_{status}"


def count_from(body: bytes, json_path: str) -> int:
    """The count at ``json_path`` of the count endpoint's JSON answer; :class:`CountError`
    unless it is a JSON integer ≥ 0."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise CountError("count: the answer is not JSON") from None
    value = json_lookup(data, json_path)
    if value is MISSING:
        raise CountError(f"count: the answer has no {json_path}")
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CountError(f"count: {json_path} is not an integer ≥ 0 (it is {_said(value)})")
    return value


def _said(value: object) -> str:
    """A JSON value as a message says it: a number as itself, anything else by its kind."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"
