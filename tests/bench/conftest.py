"""Fixtures for the bench's tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.bench.target_fixture import SeckillTarget

StartTarget = Callable[..., SeckillTarget]


@pytest.fixture
def start_target(tmp_path: Path) -> Iterator[StartTarget]:
    """Start seckill targets (``start_target(mode="oversell", stock=50, users=200,
    duplicate_buyers=20)``), each answering once returned; all are stopped afterwards."""
    started: list[SeckillTarget] = []

    def start(**options: Any) -> SeckillTarget:
        target = SeckillTarget(tmp_path, **options)
        started.append(target)
        return target.start()

    yield start
    for target in started:
        target.stop()
