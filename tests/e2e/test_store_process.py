"""The store as a process: graceful SIGTERM, clock skew, the demo, bad flags."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN
from tests.e2e.conftest import StartStore
from tests.e2e.crowd import open_item


@pytest.mark.parametrize("workers", [1, 2])
async def test_sigterm_finishes_in_flight_requests(start_store: StartStore, workers: int) -> None:
    """Requests in flight when SIGTERM lands are answered; exit 0; the database is closed."""
    store = start_store(workers=workers)
    names = [f"u{i}" for i in range(4)]  # two logins each: within the per-user login limit
    for name in names:
        created = store.admin("POST", "/admin/users", json={"user": name, "password": "pw-1"})
        assert created.status_code == 201
    async with httpx.AsyncClient(base_url=store.url, timeout=30) as client:
        # Logins are slow on purpose (scrypt): 8 of them keep the store busy for a while.
        logins = [
            asyncio.create_task(client.post("/api/login", json={"user": name, "password": "pw-1"}))
            for name in names * 2
        ]
        await asyncio.sleep(0.15)
        assert not all(t.done() for t in logins), "nothing was in flight at SIGTERM"
        code = await asyncio.to_thread(store.terminate)
        answers = await asyncio.gather(*logins)
    assert code == 0
    assert [a.status_code for a in answers] == [200] * 8
    # A cleanly closed SQLite database in WAL mode leaves no -wal file behind.
    assert not await asyncio.to_thread(Path(f"{store.db}-wal").exists)
    async with httpx.AsyncClient(base_url=store.url, timeout=2) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("/healthz")


@pytest.mark.parametrize("skew_ms", [1500, -800])
def test_clock_skew_shifts_time_and_sale_checks(start_store: StartStore, skew_ms: int) -> None:
    """/api/time, the opening check and created_ms all use the shifted clock."""
    store = start_store(args=("--clock-skew-ms", str(skew_ms)))
    before = time.time() * 1000
    server = httpx.get(f"{store.url}/api/time").json()["now_ms"]
    after = time.time() * 1000
    assert before + skew_ms - 50 <= server <= after + skew_ms + 50
    open_item(store, "eggs", stock=5, opens_in_s=0.3)  # 0.3 s ahead on the store's clock
    token = store.admin("POST", "/admin/users", json={"count": 1}).json()["users"][0]["session"]
    cookie = {"Cookie": f"session={token}"}
    early = httpx.post(f"{store.url}/api/orders", json={"sku_id": "eggs"}, headers=cookie)
    assert early.status_code == 425
    time.sleep(0.4)
    order = httpx.post(f"{store.url}/api/orders", json={"sku_id": "eggs"}, headers=cookie)
    assert order.status_code == 201
    assert abs(order.json()["created_ms"] - (time.time() * 1000 + skew_ms)) < 1000


def test_demo_seeds_an_item_and_a_user(start_store: StartStore) -> None:
    """--demo: the item exists, demo/demo logs in, and the generated token is printed."""
    store = start_store(args=("--demo",))
    item = httpx.get(f"{store.url}/api/items/demo-eggs").json()
    assert (item["stock"], item["status"]) == (10, "upcoming")
    login = httpx.post(f"{store.url}/api/login", json={"user": "demo", "password": "demo"})
    assert login.status_code == 200
    assert "admin token: (the one you gave)" in store.log()
    assert ADMIN["Authorization"].split()[1] not in store.log()


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["--port", "70000"], "port"),
        (["--workers", "0"], "workers"),
        (["--store", "mysql://db"], "store"),
        (["--user-rate", "-1"], "user_rate_per_s"),
    ],
)
def test_bad_flags_exit_2_with_one_line(tmp_path: Path, args: list[str], names: str) -> None:
    """A bad value: exit 2, one line naming it, no traceback, nothing started; named even
    when the port is taken too (the settings are checked before the port is bound)."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            [sys.executable, "-m", "sniper", "serve", "--port", port, *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            check=False,
        )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"sniper: {names}")
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "store.db").exists()


def test_metrics_add_up_over_workers(start_store: StartStore) -> None:
    """With two workers, /metrics on either one counts the requests of both."""
    store = start_store(workers=2)
    close = {"Connection": "close"}  # fresh connections land on either worker
    with httpx.Client(base_url=store.url) as client:
        for _ in range(40):
            client.get("/api/time", headers=close)
        scrapes = [client.get("/metrics", headers=close).text for _ in range(10)]
    for text in scrapes:  # whichever worker answers the scrape, the sum is the same
        line = next(
            ln
            for ln in text.splitlines()
            if ln.startswith("http_requests_total{") and 'route="/api/time"' in ln
        )
        assert float(line.rsplit(" ", 1)[1]) == 40
        assert "http_requests_in_flight" in text
