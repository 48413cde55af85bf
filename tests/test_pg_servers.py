"""The tests' private PostgreSQL: it answers through the store's driver, runs unprivileged, keeps
a committed row across an immediate stop, and leaves neither process nor directory behind."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from tests.pg_servers import pg_server

pytestmark = pytest.mark.postgres


def _owner(pid: int) -> int:
    """The real uid of a running process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for pid {pid}")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_starts_answers_and_leaves_nothing_behind() -> None:
    with pg_server() as server:
        root = server.root
        assert server.proc is not None
        pid = server.proc.pid
        assert server.url.startswith("postgresql://sniper@127.0.0.1:")
        conn = await asyncpg.connect(server.url)
        try:
            assert await conn.fetchval("SELECT 1") == 1
            assert await conn.fetchval("SELECT current_database()") == "sniper"
            assert await conn.fetchval("SHOW fsync") == "on"
            assert await conn.fetchval("SHOW max_connections") == "200"
        finally:
            await conn.close()
        assert root.exists()
        if os.geteuid() == 0:
            assert _owner(pid) != 0, "PostgreSQL runs as an unprivileged account"
    assert not root.exists()
    assert not _running(pid)


async def test_a_committed_row_survives_an_immediate_stop() -> None:
    with pg_server() as server:
        conn = await asyncpg.connect(server.url)
        await conn.execute("CREATE TABLE kept (id int PRIMARY KEY)")
        await conn.execute("INSERT INTO kept VALUES (1)")
        await conn.close()
        server.stop("immediate")
        server.start()
        conn = await asyncpg.connect(server.url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM kept") == 1
        finally:
            await conn.close()


async def test_session_server(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()
