"""One line from a pydantic validation error: the first bad field and what is wrong with it.

Shared by the task file, the store's settings and the store's request bodies. The value itself
is never repeated (it may be a password or a cookie).
"""

from __future__ import annotations

import difflib
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pydantic


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
        return next((info.annotation for name, info in node.model_fields.items()
                     if step in (name, info.alias)), None)
    if (origin is list and isinstance(step, int)) or (origin is dict and isinstance(step, str)):
        return get_args(node)[-1]  # the items' type, or the values'
    return None


def _has_tag(member: Any, tag: int | str) -> bool:
    if not (isinstance(member, type) and issubclass(member, pydantic.BaseModel)):
        return False
    return any(get_origin(info.annotation) is Literal and tag in get_args(info.annotation)
               for info in member.model_fields.values())
