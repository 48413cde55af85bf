"""Console logging set-up shared by the commands."""

from __future__ import annotations

import logging


def setup_logging(level: str = "info") -> None:
    """Plain ``time level name: message`` lines on stderr."""
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
