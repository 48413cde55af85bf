"""What a replay of a captured request (``import-curl``, ``import-har``) keeps of it. Pure.

The sniper sends a captured request's own bytes, but some headers are not the request's to
carry: the connection's (hop-by-hop, HTTP/2 pseudo-headers), the ones the sniper computes
itself (``Host``, ``Content-Length``, ``Expect``), the cookie (it lives in its own file) and
``Accept-Encoding`` (the sniper reads answers uncompressed).
"""

from __future__ import annotations

from sniper.rfc3339 import TIME_EXAMPLE

#: A task's ``target_time`` until the user gives one.
FILL_TARGET = (
    f"FILL-ME: the opening, RFC 3339 with offset, in the future (the form: {TIME_EXAMPLE})"
)

_DROPPED = frozenset(
    {
        "accept-encoding",
        "connection",
        "content-length",
        "cookie",
        "expect",
        "host",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


def kept_header(name: str) -> bool:
    """Whether a replay sends the captured header ``name`` as it was."""
    lowered = name.strip().lower()
    return not (lowered in _DROPPED or lowered.startswith((":", "proxy-")))
