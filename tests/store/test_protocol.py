"""The connection pool's order and bound, and the limits derived from settings (pure logic; the
protocol itself is exercised over real sockets in tests/e2e/test_hostile_clients.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from sniper.store.protocol import ConnectionLimits, ConnectionPool, connection_bound
from sniper.store.settings import StoreSettings


@dataclass(eq=False)
class FakeConnection:
    """Closes itself the way a real one does: it leaves the pool's count."""

    name: str
    pool: ConnectionPool
    evicted: list[str] = field(default_factory=list)

    def evict(self) -> None:
        self.evicted.append(self.name)
        self.pool.closed()


def _connections(pool: ConnectionPool, names: str, log: list[str]) -> dict[str, FakeConnection]:
    made = {name: FakeConnection(name, pool, log) for name in names}
    for conn in made.values():
        pool.opened(conn)
    return made


class TestConnectionPool:
    """Past its limit the pool closes the connection closable the longest, never a busy one."""

    def test_oldest_is_closed_first(self) -> None:
        """Four connections into room for three: the first one goes."""
        log: list[str] = []
        pool = ConnectionPool(3)
        _connections(pool, "abcd", log)
        assert log == ["a"]
        assert pool.open == 3

    def test_busy_connections_are_skipped(self) -> None:
        """A connection being answered is not closed, however old."""
        log: list[str] = []
        pool = ConnectionPool(3)
        conns = _connections(pool, "abc", log)
        pool.busy(conns["a"])
        _connections(pool, "d", log)
        assert log == ["b"]

    def test_closable_again_counts_as_newest(self) -> None:
        """Answered and idle again (or a new request begun): it moves to the back."""
        log: list[str] = []
        pool = ConnectionPool(3)
        conns = _connections(pool, "abc", log)
        pool.busy(conns["a"])
        pool.closable(conns["a"], fresh=True)
        _connections(pool, "de", log)
        assert log == ["b", "c"]

    def test_new_connection_goes_when_all_others_are_busy(self) -> None:
        """Nothing else may be closed: the newcomer itself is."""
        log: list[str] = []
        pool = ConnectionPool(2)
        conns = _connections(pool, "ab", log)
        for conn in conns.values():
            pool.busy(conn)
        _connections(pool, "c", log)
        assert log == ["c"]
        assert pool.open == 2


@pytest.mark.parametrize(
    ("fd_limit", "bound"),
    [(1024, 922), (20_000, 18_000), (1_048_576, 943_719), (100, 36), (10, 1)],
)
def test_connection_bound_leaves_a_reserve(fd_limit: int, bound: int) -> None:
    """A tenth of the files (at least 64) stay for the process's own use."""
    assert connection_bound(fd_limit) == bound


@pytest.mark.parametrize(("given", "bound"), [(0, 18_000), (500, 500)])
def test_limits_from_settings(given: int, bound: int) -> None:
    """The bound is the one given, or derived from the file limit."""
    settings = StoreSettings(max_connections=given, header_timeout_s=3, max_header_bytes=8192)
    limits = ConnectionLimits.from_settings(settings, fd_limit=20_000)
    assert limits == ConnectionLimits(3.0, 10.0, 8192, bound)
