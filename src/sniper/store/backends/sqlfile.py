"""One SQLite file as the store opens it: the SQLite backend's own file and the Redis backend's
copy of its orders (``--orders-db``). The connection and its PRAGMAs, the schema made once
(safely from many processes), the ``orders`` table, and what SQLite's errors mean to a caller."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path

from sniper.errors import ConfigError, OutcomeUnknown, StoreError, Unavailable
from sniper.files import create_private
from sniper.store.backends.base import StorageErrors

#: The ``orders`` table (one definition, for both files).
ORDERS_SQL = "orders.sql"
#: The rest of the SQLite backend's tables and indexes.
STORE_SQL = "schema.sql"
#: The Redis backend's copy's own index.
COPY_SQL = "orders_copy.sql"

#: How long a process starting waits, at least, for another that is making or upgrading the schema:
#: an index built over a big file takes a while (2 s a million orders), longer than a busy timeout.
SCHEMA_WAIT_MS = 300_000

#: Error codes of a COMMIT that never wrote its commit record (the primary code, of the low byte).
_NOT_WRITTEN = frozenset({sqlite3.SQLITE_FULL, sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})


def path_from_url(url: str) -> Path:
    """``sqlite:///relative.db`` or ``sqlite:////absolute.db`` to a file path."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or len(url) == len(prefix):
        raise ConfigError(f"store: {url!r} is not sqlite:///PATH")
    path = url[len(prefix) :]
    if path == ":memory:":
        raise ConfigError("store: SQLite needs a file that every worker can open, not :memory:")
    return Path(path)


def connect(path: Path, *, synchronous: str = "FULL", busy_timeout_ms: int) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), usable from any thread,
    waiting up to ``busy_timeout_ms`` for another process's lock. ``synchronous=FULL`` syncs
    every commit to disk; ``NORMAL`` survives a crash of the process, not of the machine."""
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def create(
    path: Path,
    scripts: Iterable[str],
    *,
    busy_timeout_ms: int,
    upgrade: Callable[[sqlite3.Connection], None] | None = None,
) -> None:
    """Create the file (private to this user, with its directory), switch it to WAL and run
    ``upgrade`` (what a script cannot decide for a file made by an older release) and the named
    schema scripts (files beside this module) in one transaction: processes starting together
    make it once, the others waiting for it (:data:`SCHEMA_WAIT_MS` at least)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    create_private(path)
    conn = connect(path, busy_timeout_ms=max(busy_timeout_ms, SCHEMA_WAIT_MS))
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        if upgrade is not None:
            upgrade(conn)
        for name in scripts:
            script = resources.files(__package__).joinpath(name).read_text("utf-8")
            for statement in script.split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute("COMMIT")
    finally:
        conn.close()


class SqliteErrors(StorageErrors):
    """SQLite's errors as the store's."""

    kinds = (sqlite3.Error,)

    def unavailable(self, exc: BaseException) -> StoreError:
        """Nothing happened: try again."""
        return Unavailable("storage is unavailable, try again")

    def unknown(self, exc: BaseException) -> StoreError:
        """A failure once the COMMIT ran. Disk full, a failed write or a busy lock mean the commit
        record never reached the log (nothing happened); anything else (a failed fsync above
        all) may leave a commit that comes back after a crash: the outcome is unknown."""
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None and (code & 0xFF in _NOT_WRITTEN or code == sqlite3.SQLITE_IOERR_WRITE):
            return Unavailable("storage is full or failing, nothing was written; try again")
        return OutcomeUnknown("storage failed while committing: the change may or may not be there")


SQLITE_ERRORS = SqliteErrors()
