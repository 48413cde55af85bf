"""The connection pool's order and bound, and the limits derived from settings (pure logic; the
protocol itself is exercised over real sockets in tests/e2e/test_hostile_clients.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sniper.store.protocol import ConnectionLimits, ConnectionPool, connection_bound
from sniper.store.settings import StoreSettings


@dataclass(eq=False)
class FakeConnection:
    """A connection as the pool sees it: busy or not, and closed when evicted."""

    name: str
    log: list[str]
    answering: bool = False

    def busy(self) -> bool:
        return self.answering

    def evict(self) -> None:
        self.log.append(self.name)


def _open(pool: ConnectionPool, names: str, log: list[str]) -> dict[str, FakeConnection]:
    made = {name: FakeConnection(name, log) for name in names}
    for conn in made.values():
        pool.opened(conn)
    return made


class TestConnectionPool:
    """Past its limit the pool closes the connection quiet the longest, never a busy one."""

    def test_oldest_is_closed_first(self) -> None:
        """Four connections into room for three: the first one goes."""
        log: list[str] = []
        pool = ConnectionPool(3)
        _open(pool, "abcd", log)
        assert log == ["a"]
        assert len(pool.order) == 3

    def test_busy_connections_are_passed_over(self) -> None:
        """A connection being answered is not closed, however old; it goes to the back."""
        log: list[str] = []
        pool = ConnectionPool(3)
        conns = _open(pool, "abc", log)
        conns["a"].answering = True
        _open(pool, "de", log)
        assert log == ["b", "c"]

    def test_bytes_make_a_connection_the_newest(self) -> None:
        """A connection that has just received bytes is the last to go."""
        log: list[str] = []
        pool = ConnectionPool(3)
        conns = _open(pool, "abc", log)
        pool.order.move_to_end(conns["a"])
        _open(pool, "de", log)
        assert log == ["b", "c"]

    def test_new_connection_goes_when_all_others_are_busy(self) -> None:
        """Nothing else may be closed: the newcomer itself is."""
        log: list[str] = []
        pool = ConnectionPool(2)
        for conn in _open(pool, "ab", log).values():
            conn.answering = True
        _open(pool, "c", log)
        assert log == ["c"]
        assert len(pool.order) == 2

    def test_closed_connections_leave(self) -> None:
        """A closed connection no longer counts against the limit."""
        log: list[str] = []
        pool = ConnectionPool(2)
        conns = _open(pool, "ab", log)
        pool.closed(conns["a"])
        _open(pool, "c", log)
        assert log == []


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
