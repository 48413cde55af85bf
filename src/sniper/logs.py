"""Console logging set-up shared by the commands, and a throttle for repeated failures."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable


def setup_logging(level: str = "info") -> None:
    """Plain ``time level name: message`` lines on stderr."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


class ThrottledLog:
    """At most one line per ``every_s`` (an outage must not flood the log); the next line that
    gets through says how many were held back since the last."""

    def __init__(
        self,
        logger: logging.Logger,
        level: int,
        every_s: float,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger, self._level, self._every_s, self._now = logger, level, every_s, now
        self._last = -math.inf
        self._held = 0

    def __call__(self, message: str, *args: object) -> None:
        """Log ``message % args`` unless a line went out less than ``every_s`` ago."""
        now = self._now()
        if now - self._last < self._every_s:
            self._held += 1
            return
        held, self._last, self._held = self._held, now, 0
        self._logger.log(
            self._level, message + (f" ({held} more since the last)" if held else ""), *args
        )
