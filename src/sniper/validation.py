"""Validation shared across the project: one line from a pydantic error, the identifier rule,
and duplicate keys in JSON.

Shared by the task file, the store's settings and the store's request bodies. The value itself
is never repeated (it may be a password or a cookie).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pydantic

#: ``sku_id`` and user names: 1 to 64 letters, digits, ``-`` and ``_`` (a whole string: always
#: match it with ``fullmatch``, never ``match`` with ``$``, which allows a trailing newline).
IDENTIFIER_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def is_identifier(text: str) -> bool:
    """True if the whole of ``text`` is an identifier."""
    return _IDENTIFIER.fullmatch(text) is not None


def describe(exc: pydantic.ValidationError) -> str:
    """``field.path: what is wrong``, for the first error."""
    err = exc.errors(include_url=False, include_input=False)[0]
    if err["type"] == "json_invalid":
        return "malformed JSON body"
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    return f"{loc}: {msg}" if loc else msg


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def duplicate_key(raw: bytes) -> str | None:
    """The first key that some object of the JSON document ``raw`` holds twice, or None (also
    for a document that is not JSON: its parser says what is wrong with it)."""
    try:
        json.loads(raw, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as dup:
        return dup.key
    except (ValueError, RecursionError):  # malformed, not UTF-8, or nested past the stack
        return None
    return None
