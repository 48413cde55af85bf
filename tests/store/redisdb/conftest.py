"""Fixtures of the Redis backend's own tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

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
