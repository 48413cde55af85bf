"""What one answer means for the run. Pure.

Each platform turns a response into a :class:`Verdict`; the :mod:`~sniper.client.policy` decides
what to do next from it. Transport failures (timeouts, broken connections) are verdicts too.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass

from sniper.client.connection import Response


class Kind(enum.Enum):
    """The kinds of answer the run reacts to."""

    ORDERED = "ordered"
    NOT_STARTED = "not_started"
    RATE_LIMITED = "rate_limited"
    RETRY = "retry"  # 5xx, timeouts, connection errors
    UNKNOWN = "outcome_unknown"  # the order may exist: retry with the same request id, look up
    AUTH = "auth_failed"
    SOLD_OUT = "sold_out"
    LIMIT_REACHED = "limit_reached"
    FATAL = "fatal"  # an answer that more tries cannot change (400, 404, ...)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A kind, the order id when ordered, ``Retry-After`` seconds when given, and a detail."""

    kind: Kind
    order_id: str | None = None
    retry_after_s: float | None = None
    detail: str = ""


def json_body(response: Response) -> object:
    """The answer's body as JSON, or None if it is not JSON (or nested past Python's stack)."""
    try:
        return json.loads(response.body)
    except (ValueError, RecursionError):
        return None


def error_message(response: Response) -> str:
    """The ``message`` of a JSON error body (``{"error", "message"}``), or ""."""
    body = json_body(response)
    message = body.get("message") if isinstance(body, dict) else None
    return message if isinstance(message, str) else ""


#: Longer is no order id but a server's noise.
MAX_ORDER_ID_CHARS = 128


def order_id(value: object) -> str | None:
    """``value`` as an order id, or None: only a non-empty string or a finite number is one
    (not null, ``""``, a boolean, an object or a list), at most ``MAX_ORDER_ID_CHARS`` long."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int | float):
        text = str(value)
    else:
        return None
    return text if 0 < len(text) <= MAX_ORDER_ID_CHARS else None


def retry_after(response: Response) -> float | None:
    """``Retry-After`` in seconds (delta form; an HTTP date is read as one second)."""
    value = response.header("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return 1.0


def by_status(response: Response) -> Verdict | None:
    """The verdicts that HTTP status alone decides, or None."""
    status = response.status
    if status in (401, 403):
        return Verdict(Kind.AUTH, detail=f"HTTP {status}")
    if status == 429:
        return Verdict(Kind.RATE_LIMITED, retry_after_s=retry_after(response), detail="HTTP 429")
    if status == 425:
        return Verdict(Kind.NOT_STARTED, detail="HTTP 425")
    if status >= 500 or status == 408:
        return Verdict(Kind.RETRY, retry_after_s=retry_after(response), detail=f"HTTP {status}")
    return None


def failure(detail: str) -> Verdict:
    """A transport failure: worth another try."""
    return Verdict(Kind.RETRY, detail=detail)
