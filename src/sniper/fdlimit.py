"""The open-files limit. An opening is thousands of connections at once, on both sides: the store
(``sniper serve``) accepts them and the load generator (``sniper bench``) opens them."""

from __future__ import annotations

import contextlib
import resource


def raise_fd_limit() -> None:
    """Allow this process (and the children it starts) as many open files as the system does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
