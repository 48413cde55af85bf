"""Times written as text: RFC 3339 with an explicit offset, the one form a user, a task file or
the store's API may give an instant in. Shared by the sniper (``target_time``, ``sale_start``
read back) and the store (``sale_start`` written), so that both read a time alike.
"""

from __future__ import annotations

import re
from datetime import datetime

#: How an instant is written (the form; the date itself means nothing).
TIME_EXAMPLE = "2024-04-15T07:00:00+08:00"

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def parse_rfc3339(text: str) -> datetime:
    """Parse an RFC 3339 time with an explicit offset; anything else is :class:`ValueError`."""
    if not _RFC3339.fullmatch(text):
        raise ValueError(f"must be RFC 3339 with an offset, e.g. {TIME_EXAMPLE}")
    head, dot, rest = text.upper().partition(".")
    if dot:  # fromisoformat takes at most 6 fraction digits
        digits = re.match(r"\d+", rest)
        assert digits is not None
        frac = digits.group(0)
        text = f"{head}.{frac[:6].ljust(6, '0')}{rest[len(frac) :]}"
    return datetime.fromisoformat(text.upper())
