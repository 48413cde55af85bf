"""Placeholders in a captured request: ``{sku_id}``, ``{request_id}``, a saved ``{token}``. Pure.

A placeholder is ``{NAME}`` where NAME is a known name (a built-in or a value some step saves);
any other brace is the request's own text and stays as it is (a JSON body is full of them). A
known name without a value when the request is built is an error, never an empty string sent.

How a value is written depends on where it stands, so that the request stays well formed: in a
URL it is percent-encoded (unless it is the whole URL), inside a JSON string JSON-escaped, outside
one written as JSON (``"price":{price}`` stays a number), in a form body form-encoded, in a header
as it is (and checked: no line breaks).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from enum import Enum
from urllib.parse import quote, quote_plus

from sniper.errors import SniperError

#: Names every flow has; a step may not save under them.
BUILTINS = ("sku_id", "qty", "request_id", "now_ms")

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class Where(Enum):
    """Where a template stands in a request: how a value is written there."""

    URL = "url"
    HEADER = "header"
    BODY = "body"  # as it is
    JSON = "json"  # a JSON body: escaped inside strings, JSON outside them
    FORM = "form"  # an application/x-www-form-urlencoded body


class MissingValue(SniperError):
    """A known placeholder has no value yet."""

    def __init__(self, name: str) -> None:
        super().__init__(f"{{{name}}} has no value")
        self.name = name


def names_in(template: str, known: Iterable[str]) -> list[str]:
    """The known names ``template`` uses, in order of first use."""
    wanted = set(known)
    found = [m.group(1) for m in _PLACEHOLDER.finditer(template)]
    return list(dict.fromkeys(n for n in found if n in wanted))


def body_kind(content_type: str | None) -> Where:
    """How a body with this Content-Type takes values."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        return Where.FORM
    if kind == "application/json" or kind.endswith("+json"):
        return Where.JSON
    return Where.BODY


def as_text(value: object) -> str:
    """A saved value as text: strings as they are, everything else as JSON (``12.5``,
    ``true``, ``[1,2]``)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def fill(template: str, values: Mapping[str, object], known: Iterable[str], where: Where) -> str:
    """``template`` with every known placeholder replaced by its value written for ``where``;
    :class:`MissingValue` for the first known name without one."""
    wanted = set(known)
    if where is Where.JSON:
        return _fill_json(template, values, wanted)
    whole = where is Where.URL and _PLACEHOLDER.fullmatch(template) is not None

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in wanted:
            return match.group(0)
        text = as_text(_value(values, name))
        if where is Where.URL and not whole:
            return quote(text, safe="")
        if where is Where.FORM:
            return quote_plus(text, safe="")
        return text

    return _PLACEHOLDER.sub(one, template)


def _value(values: Mapping[str, object], name: str) -> object:
    value = values.get(name)
    if value is None:
        raise MissingValue(name)
    return value


def _fill_json(template: str, values: Mapping[str, object], wanted: set[str]) -> str:
    """A JSON body: a placeholder inside a string gets the value's text JSON-escaped; outside
    a string, the value as JSON (a string that reads as a number stays a number: it was
    written there bare, as in ``"price":{price}``)."""
    out: list[str] = []
    in_string, escaped, i = False, False, 0
    while i < len(template):
        char = template[i]
        match = _PLACEHOLDER.match(template, i) if char == "{" else None
        if match is not None and match.group(1) in wanted:
            value = _value(values, match.group(1))
            text = as_text(value)
            if in_string:
                out.append(json.dumps(text, ensure_ascii=False)[1:-1])
            else:
                out.append(text)
            i = match.end()
            continue
        out.append(char)
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        i += 1
    return "".join(out)
