"""Order ids: unique across processes and replicas, sortable, starting with the date.

``20240415070000123`` (UTC date and time to the millisecond) + 6-digit per-process
sequence + 8 hex digits of a random node id drawn at start. Within one process ids are
strictly increasing even if the wall clock steps back; across processes they sort by time.
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, datetime

_SEQ_MOD = 1_000_000


class OrderIdGenerator:
    """Makes order ids from a wall time in epoch milliseconds."""

    def __init__(self, node: str | None = None) -> None:
        self._node = node if node is not None else secrets.token_hex(4)
        self._lock = threading.Lock()
        self._last_ms = 0
        self._seq = 0
        self._second = -1
        self._prefix = ""

    def next_id(self, now_ms: int) -> str:
        """A new id for an order created at ``now_ms``."""
        with self._lock:
            ms = max(now_ms, self._last_ms)
            if ms == self._last_ms:
                self._seq += 1
                if self._seq >= _SEQ_MOD:
                    ms += 1
                    self._seq = 0
            else:
                self._seq = 0
            self._last_ms = ms
            seq = self._seq
            second = ms // 1000
            if second != self._second:  # formatting a date is the slow part: once a second
                self._second = second
                self._prefix = f"{datetime.fromtimestamp(second, tz=UTC):%Y%m%d%H%M%S}"
            prefix = self._prefix
        return f"{prefix}{ms % 1000:03d}{seq:06d}{self._node}"
