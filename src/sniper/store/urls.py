"""Storage URLs as the store may show them: with their secrets hidden."""

from __future__ import annotations

import re

_SECRET_PARAM = re.compile(r"(?i)((?:password|pass|pwd|token)=)[^&#]*")


def redact_url(url: str) -> str:
    """The URL with its user part and any ``password=`` replaced by ``***`` (for logs and
    errors). Plain text work, not a URL parser: a password holding ``/``, ``#`` or ``@`` must not
    fool it."""
    scheme, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if at >= 0:
        rest = "***@" + rest[at + 1 :]
    return scheme + sep + _SECRET_PARAM.sub(r"\1***", rest)
