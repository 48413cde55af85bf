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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class Template:
    """A template cut once into its text and its placeholders (each with how its value is
    written there), so that filling it when a request must leave is a join."""

    pieces: tuple[str, ...]  # the text around the slots: one more than there are slots
    slots: tuple[tuple[str, _Write], ...]

    @classmethod
    def of(cls, template: str, known: Iterable[str], where: Where) -> Template:
        """``template`` as it stands in ``where``, its known names as slots."""
        wanted = set(known)
        pieces, slots, start = [], [], 0
        whole = where is Where.URL and _PLACEHOLDER.fullmatch(template) is not None
        strings = _json_strings(template) if where is Where.JSON else ()
        for match in _PLACEHOLDER.finditer(template):
            name = match.group(1)
            if name not in wanted:
                continue
            pieces.append(template[start : match.start()])
            slots.append((name, _writer(where, whole, match.start() in strings)))
            start = match.end()
        pieces.append(template[start:])
        return cls(tuple(pieces), tuple(slots))

    def fill(self, values: Mapping[str, object]) -> str:
        """The text with every slot's value written in; :class:`MissingValue` for the first
        name without one."""
        if not self.slots:
            return self.pieces[0]
        out = [self.pieces[0]]
        for (name, write), piece in zip(self.slots, self.pieces[1:], strict=True):
            out.append(write(_value(values, name)))
            out.append(piece)
        return "".join(out)


_Write = Callable[[object], str]
#: A JSON scalar written bare: a number, true, false, null.
_JSON_SCALAR = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null")


def _as_is(value: object) -> str:
    return as_text(value)


def _url_value(value: object) -> str:
    return quote(as_text(value), safe="")


def _form_value(value: object) -> str:
    return quote_plus(as_text(value), safe="")


def _json_string_value(value: object) -> str:
    return json.dumps(as_text(value), ensure_ascii=False)[1:-1]


def _json_value(value: object) -> str:
    """A value outside a JSON string: itself as JSON. Text that reads as a number (or true,
    false, null) stays bare, as a template writes ``"price":{price}``; any other text is a JSON
    string, so that a value can never add members of its own."""
    if isinstance(value, str) and not _JSON_SCALAR.fullmatch(value):
        return json.dumps(value, ensure_ascii=False)
    return as_text(value)


def _writer(where: Where, whole_url: bool, in_json_string: bool) -> _Write:
    if where is Where.URL and not whole_url:
        return _url_value
    if where is Where.FORM:
        return _form_value
    if where is Where.JSON:
        return _json_string_value if in_json_string else _json_value
    return _as_is


def _json_strings(template: str) -> frozenset[int]:
    """The offsets in ``template`` that stand inside a JSON string (the placeholders there get
    their values JSON-escaped)."""
    inside: set[int] = set()
    in_string, escaped = False, False
    for index, char in enumerate(template):
        if in_string:
            inside.add(index)
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
    return frozenset(inside)


def fill(template: str, values: Mapping[str, object], known: Iterable[str], where: Where) -> str:
    """``template`` with every known placeholder replaced by its value written for ``where``;
    :class:`MissingValue` for the first known name without one."""
    return Template.of(template, known, where).fill(values)


def _value(values: Mapping[str, object], name: str) -> object:
    value = values.get(name)
    if value is None:
        raise MissingValue(name)
    return value
