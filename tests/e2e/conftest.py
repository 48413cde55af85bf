"""Fixtures for end-to-end tests over real sockets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.store_process import StoreProcess

StartStore = Callable[..., StoreProcess]


@pytest.fixture
def start_store(tmp_path: Path) -> Iterator[StartStore]:
    """Start real stores (``start_store(workers=2, args=(...))``, ``store=`` a backend URL;
    ``ready=False`` returns at once, for several to start together: ``wait_ready()`` each);
    all are stopped afterwards."""
    started: list[StoreProcess] = []

    def start(
        *,
        db: Path | None = None,
        workers: int = 1,
        args: tuple[str, ...] = (),
        store: str | None = None,
        ready: bool = True,
    ) -> StoreProcess:
        store_process = StoreProcess(
            db or tmp_path / "store.db", workers=workers, args=args, store=store
        )
        started.append(store_process)
        if not ready:
            store_process.start_async()
            return store_process
        return store_process.start()

    yield start
    for store in started:
        store.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e carries the ``e2e`` marker."""
    for item in items:
        if "/e2e/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
