"""Validation shared across the project: one line from a pydantic error, the identifier rule,
and duplicate keys in JSON.

Shared by the task file, the store's settings and the store's request bodies. The value itself
is never repeated (it may be a password or a cookie).
"""

from __future__ import annotations

import difflib
import json
import re
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic

#: ``sku_id`` and user names: 1 to 64 letters, digits, ``-`` and ``_`` (a whole string: always
#: match it with ``fullmatch``, never ``match`` with ``$``, which allows a trailing newline).
IDENTIFIER_PATTERN = r"[A-Za-z0-9_-]{1,64}"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def is_identifier(text: str) -> bool:
    """True if the whole of ``text`` is an identifier."""
    return _IDENTIFIER.fullmatch(text) is not None


def describe(exc: pydantic.ValidationError, model: type[pydantic.BaseModel] | None = None) -> str:
    """``field.path: what is wrong``, for the first error. Given the ``model`` that was
    validated, an unknown key comes first (a typo also makes the field it meant "missing") and
    names the known key it most resembles."""
    errors = exc.errors(include_url=False, include_input=False)
    err = errors[0]
    if model is not None:
        err = next((e for e in errors if e["type"] == "extra_forbidden"), err)
    if err["type"] == "json_invalid":
        return "malformed JSON body"
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"]).removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
        *parents, key = err["loc"]
        close = difflib.get_close_matches(str(key), _keys_at(model, tuple(parents)), n=1)
        if close:
            msg += f" (did you mean {close[0]}?)"
    return f"{loc}: {msg}" if loc else msg


def _keys_at(model: type[pydantic.BaseModel] | None, loc: tuple[int | str, ...]) -> list[str]:
    """The keys (names and aliases) that the mapping at ``loc`` inside ``model`` may have."""
    node: Any = model
    for step in loc:
        node = _step(node, step)
    if not (isinstance(node, type) and issubclass(node, pydantic.BaseModel)):
        return []
    return [key for name, info in node.model_fields.items() for key in (name, info.alias) if key]


def _step(node: Any, step: int | str) -> Any:
    """The type one step down a validation error's location (None when it cannot be told)."""
    while get_origin(node) is Annotated:
        node = get_args(node)[0]
    origin = get_origin(node)
    if origin in (Union, types.UnionType):
        members = [m for m in get_args(node) if m is not type(None)]
        tagged = [m for m in members if _has_tag(m, step)]
        if tagged:  # a discriminated union's location names the member by its tag
            return tagged[0]
        return _step(members[0], step) if len(members) == 1 else None
    if isinstance(node, type) and issubclass(node, pydantic.BaseModel):
        return next(
            (
                info.annotation
                for name, info in node.model_fields.items()
                if step in (name, info.alias)
            ),
            None,
        )
    if (origin is list and isinstance(step, int)) or (origin is dict and isinstance(step, str)):
        return get_args(node)[-1]  # the items' type, or the values'
    return None


def _has_tag(member: Any, tag: int | str) -> bool:
    if not (isinstance(member, type) and issubclass(member, pydantic.BaseModel)):
        return False
    return any(
        get_origin(info.annotation) is Literal and tag in get_args(info.annotation)
        for info in member.model_fields.values()
    )


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
