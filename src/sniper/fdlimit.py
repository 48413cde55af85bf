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


#: Files a sending process keeps beside its users' connections: its own (interpreter, standard
#: streams, event loop), the clock's and the admin API's connections, the users file.
FD_RESERVE = 32


def fd_room(connections: int, fd_limit: int) -> str | None:
    """Why ``connections`` connections at once do not fit in a process allowed ``fd_limit``
    open files (None: they do)."""
    need = connections + FD_RESERVE
    if fd_limit == resource.RLIM_INFINITY or need <= fd_limit:
        return None
    return (
        f"users: {connections} connections at once need {need} open files, this process may "
        f"have {fd_limit} (raise the hard limit, ulimit -Hn; or, with --file, split the users "
        "over several processes with --shard K/N)"
    )


def check_fd_room(connections: int) -> None:
    """ConfigError, before anything is sent or made, when this process cannot hold
    ``connections`` connections at once (its soft open-files limit, as raised)."""
    reason = fd_room(connections, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    if reason is not None:
        raise ConfigError(reason)
