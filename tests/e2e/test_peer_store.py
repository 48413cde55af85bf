"""The textbook store the flood benchmark compares with (benchmarks/peer_store.py), served by
uvicorn on a private Redis: the answers its comparison relies on, and the benchmark's refusal of
``--peer`` without Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from sniper.store.process import free_port

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
PREFIX = "peer-test:"

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


@pytest.fixture
def peer(redis_url: str) -> Iterator[str]:
    """The peer on a free port, two sessions and two items seeded; its base URL."""
    with redis.Redis.from_url(redis_url) as client:
        client.mset(
            {
                f"{PREFIX}session:tok-a": "alice",
                f"{PREFIX}session:tok-b": "bob",
                f"{PREFIX}session:tok-c": "carol",
                f"{PREFIX}stock:one": 1,
                f"{PREFIX}stock:none": 0,
            }
        )
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "peer_store:app",
        "--app-dir",
        str(BENCHMARKS),
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    env = {**os.environ, "PEER_REDIS_URL": redis_url, "PEER_PREFIX": PREFIX}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):  # bounded: 200 tries, 50 ms apart
            try:
                httpx.get(f"{base}/docs", timeout=0.5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, "the peer exited"
                time.sleep(0.05)
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def _order(base: str, token: str, sku: str) -> httpx.Response:
    return httpx.post(
        f"{base}/api/orders",
        json={"sku_id": sku, "qty": 1},
        cookies={"session": token},
        timeout=5,
    )


def test_one_per_buyer_and_no_oversell(peer: str, redis_url: str) -> None:
    """The first buyer gets the last unit; that buyer again: limit_reached; another buyer:
    sold_out; the stock ends at 0, never below."""
    first = _order(peer, "tok-a", "one")
    assert first.status_code == 201
    assert first.json()["order_id"]
    again = _order(peer, "tok-a", "one")
    assert (again.status_code, again.json()["detail"]) == (409, "limit_reached")
    other = _order(peer, "tok-b", "one")
    assert (other.status_code, other.json()["detail"]) == (409, "sold_out")
    with redis.Redis.from_url(redis_url) as client:
        assert client.get(f"{PREFIX}stock:one") == b"0"
        assert client.smembers(f"{PREFIX}buyers:one") == {b"alice"}


def test_sold_out_and_no_session(peer: str) -> None:
    """An item without stock refuses; an unknown session and a missing cookie are 401."""
    gone = _order(peer, "tok-c", "none")
    assert (gone.status_code, gone.json()["detail"]) == (409, "sold_out")
    assert _order(peer, "no-such-token", "one").status_code == 401
    bare = httpx.post(f"{peer}/api/orders", json={"sku_id": "one", "qty": 1}, timeout=5)
    assert bare.status_code == 401


def test_flood_refuses_peer_without_redis() -> None:
    """``--peer`` on SQLite: one line naming the option, exit 2, nothing started."""
    run = subprocess.run(
        [sys.executable, str(BENCHMARKS / "store_flood.py"), "--peer"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2
    assert "--peer: needs --store redis" in run.stderr.strip().splitlines()[-1]
