"""One line from a pydantic validation error: the first bad field and what is wrong with it.

Shared by the task file, the store's settings and the store's request bodies. The value itself
is never repeated (it may be a password or a cookie).
"""

from __future__ import annotations

import pydantic


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
