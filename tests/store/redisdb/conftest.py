"""Fixtures of the Redis backend's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sniper.clock import ManualClock
from sniper.store.redisdb.backend import RedisBackend


@pytest.fixture
async def backend(redis_url: str, clock: ManualClock) -> AsyncIterator[RedisBackend]:
    """An opened Redis backend on the private test server (emptied), without a persister."""
    made = RedisBackend(redis_url, clock)
    await made.open()
    try:
        yield made
    finally:
        await made.aclose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def orders_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """``--orders-db`` of each kind in turn: a private SQLite file, then the private PostgreSQL
    server's database (emptied)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'orders.db'}"
    return str(request.getfixturevalue("pg_empty_url"))
