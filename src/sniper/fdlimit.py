"""The open-files limit. An opening is thousands of connections at once, on both sides: the store
(``sniper serve``) accepts them and the load generator (``sniper bench``) opens them."""

from __future__ import annotations

import contextlib
import resource

from sniper.errors import ConfigError


def raise_fd_limit() -> None:
    """Allow this process (and the children it starts) as many open files as the system does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


#: Files a process needs beside its connections (the clock probe, logs, an admin client).
FD_RESERVE = 64


def check_fd_room(connections: int) -> None:
    """ConfigError unless this process may open ``connections`` sockets and its own files:
    found before anything is sent, not as a refused connection mid-run."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    need = connections + FD_RESERVE
    if soft != resource.RLIM_INFINITY and need > soft:
        raise ConfigError(
            f"{connections} connections need {need} open files and this process may open "
            f"{soft}: raise the limit (ulimit -n {need}) or use --shard on several machines"
        )
