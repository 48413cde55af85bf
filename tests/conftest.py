"""Fixtures shared by the whole suite."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from sniper.clock import ManualClock
from sniper.store.app import create_app
from sniper.store.service import StoreService
from sniper.store.settings import StoreSettings
from tests.pg_servers import empty, pg_server
from tests.redis_servers import flush, redis_cluster, redis_server
from tests.store_backends import BACKENDS, Snapshot

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
#: 2023-11-14T22:13:20Z, where every ManualClock starts.
T0_MS = 1_700_000_000_000


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when a test moves it."""
    return ManualClock(wall=T0_MS / 1000)


@pytest.fixture
def store_backend(request: pytest.FixtureRequest) -> str:
    """The backend behind ``settings``: SQLite, or each of ``tests.store_backends.BACKENDS`` in
    turn where a test is marked ``every_backend``."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def settings(request: pytest.FixtureRequest, store_backend: str, tmp_path: Path) -> StoreSettings:
    """Store settings on a private, empty store of ``store_backend``, with an admin token (a
    Redis store copies its orders into a private file too, never into the working directory)."""
    return StoreSettings(
        store=BACKENDS[store_backend].url(request, tmp_path),
        admin_token=ADMIN_TOKEN,
        orders_db=f"sqlite:///{tmp_path / 'orders.db'}",
    )


@pytest.fixture
def store_snapshot(store_backend: str, settings: StoreSettings) -> Callable[[], Snapshot]:
    """Reads everything the ``settings`` store holds, to prove that a request changed nothing."""
    read = BACKENDS[store_backend].snapshot
    return lambda: read(settings.store)


@contextlib.asynccontextmanager
async def in_process(
    settings: StoreSettings, clock: ManualClock
) -> AsyncIterator[tuple[httpx.AsyncClient, StoreService]]:
    """A store app in-process (lifespan run), an httpx client bound to it, and its service."""
    app = create_app(settings, clock=clock)
    async with app.lifespan():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://store") as client:
            yield client, app.state.service


@pytest.fixture
async def store(
    settings: StoreSettings, clock: ManualClock
) -> AsyncIterator[tuple[httpx.AsyncClient, StoreService]]:
    """The store in-process with the default test settings."""
    async with in_process(settings, clock) as pair:
        yield pair


@pytest.fixture
def db_path(settings: StoreSettings) -> Path:
    """The SQLite file behind the ``store`` fixture (a test that reads it is SQLite-only)."""
    assert settings.store.startswith("sqlite:///"), "db_path is the SQLite backend's file"
    return Path(settings.store.removeprefix("sqlite:///"))


__all__ = ["ADMIN", "ADMIN_TOKEN", "T0_MS", "in_process"]


@pytest.fixture(scope="session")
def redis_server_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """One private Redis server for the whole run (tests flush it before use)."""
    with redis_server(tmp_path_factory.mktemp("redis")) as (port, _):
        yield port


@pytest.fixture(scope="session")
def redis_cluster_ports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[int]]:
    """One private 3-master Redis Cluster for the whole run."""
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as ports:
        yield ports


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """``postgresql://`` of one private PostgreSQL server for the whole run, stopped at its end."""
    with pg_server() as server:
        yield server.url


@pytest.fixture
def pg_empty_url(pg_url: str) -> str:
    """``postgresql://`` of the private server's database, emptied for this test."""
    empty(pg_url)
    return pg_url


@pytest.fixture
def redis_url(redis_server_port: int) -> str:
    """``redis://`` of the private server, emptied for this test."""
    flush([redis_server_port])
    return f"redis://127.0.0.1:{redis_server_port}/0"


@pytest.fixture
def cluster_url(redis_cluster_ports: list[int]) -> str:
    """``redis+cluster://`` of the private cluster, emptied for this test."""
    flush(redis_cluster_ports)
    return f"redis+cluster://127.0.0.1:{redis_cluster_ports[0]}"
