"""Sessions end everywhere: across ``--workers`` on SQLite and across replicas on one Redis, a
revoked session is refused by every process once ``--cache-ttl`` has passed; a login flood over
real sockets gets 429s, per user and per client, shared by the replicas of one Redis."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import StartStore
from tests.e2e.store_process import StoreProcess

TTL_S = 0.5
ROUND = 24  # requests per check, each on a fresh connection (they land on any worker)


def _session(store: StoreProcess, user: str, password: str) -> str:
    made = store.admin("POST", "/admin/users", json={"user": user, "password": password})
    assert made.status_code == 201, made.text
    token: str = made.json()["users"][0]["session"]
    return token


def _statuses(stores: list[StoreProcess], token: str) -> Counter[int]:
    """``ROUND`` requests that need the session, spread over the stores and their workers."""
    close = {"Cookie": f"session={token}", "Connection": "close"}
    return Counter(
        httpx.get(
            f"{stores[i % len(stores)].url}/api/orders", headers=close, timeout=30
        ).status_code
        for i in range(ROUND)
    )


def _check_revocations(stores: list[StoreProcess]) -> None:
    """Logout, a replaced user and an admin revoke through the first store: once every process
    has used the sessions (and cached them), and --cache-ttl later, all of them refuse them."""
    first = stores[0]
    ann = _session(first, "ann", "pw-ann")
    bob = _session(first, "bob", "pw-bob")
    cyd = _session(first, "cyd", "pw-cyd")
    for token in (ann, bob, cyd):
        assert _statuses(stores, token) == {200: ROUND}
    out = httpx.post(f"{first.url}/api/logout", headers={"Cookie": f"session={ann}"})
    assert out.status_code == 200
    _session(first, "bob", "pw-bob-2")  # bob replaced
    revoked = first.admin("DELETE", "/admin/users/cyd/sessions")
    assert revoked.json() == {"user": "cyd", "revoked": 1}
    time.sleep(TTL_S + 0.2)
    for token in (ann, bob, cyd):
        assert _statuses(stores, token) == {401: ROUND}


def test_a_revoked_session_stops_on_every_worker(start_store: StartStore) -> None:
    """Two workers on one SQLite file."""
    store = start_store(workers=2, args=("--cache-ttl", str(TTL_S)))
    _check_revocations([store])


@pytest.mark.redis
def test_a_revoked_session_stops_on_every_replica(
    start_store: StartStore, tmp_path: Path, redis_url: str
) -> None:
    """Two replicas on one Redis, the requests alternating between them."""
    orders_db = f"sqlite:///{tmp_path / 'orders.db'}"
    replicas = [
        start_store(
            db=tmp_path / f"replica-{i}.db",
            store=redis_url,
            args=("--orders-db", orders_db, "--cache-ttl", str(TTL_S)),
        )
        for i in range(2)
    ]
    _check_revocations(replicas)


async def _flood(urls: list[str], bodies: list[dict[str, str]]) -> list[httpx.Response]:
    """Every login at once, spread over ``urls``, on real sockets."""
    async with httpx.AsyncClient(timeout=60) as client:
        return await asyncio.gather(
            *(
                client.post(f"{urls[i % len(urls)]}/api/login", json=body)
                for i, body in enumerate(bodies)
            )
        )


def _tally(answers: list[httpx.Response]) -> Counter[int]:
    for answer in answers:
        if answer.status_code == 429:
            assert answer.json()["error"] == "rate_limited"
            assert int(answer.headers["retry-after"]) >= 1
    return Counter(a.status_code for a in answers)


async def test_a_login_flood_gets_429(start_store: StartStore) -> None:
    """40 wrong guesses at one user at once: at most the (user, client) burst (5) are checked,
    the rest 429; they took the client's burst (20, at 1/s: its bucket is taken first). Then 40
    guesses at 40 users from this one address: only what the client's bucket refilled since is
    checked, the rest 429."""
    store = start_store()
    _session(store, "ann", "pw-ann")
    started = time.monotonic()
    one_user = _tally(
        await _flood([store.url], [{"user": "ann", "password": f"guess{i}"} for i in range(40)])
    )
    assert set(one_user) == {401, 429}
    assert one_user[401] <= 5 + 1  # one token may trickle back (1 per 20 s)
    many_users = _tally(
        await _flood([store.url], [{"user": f"u{i}", "password": "guess"} for i in range(40)])
    )
    elapsed = time.monotonic() - started
    assert many_users[429] >= 40 - elapsed - 1
    assert set(many_users) <= {401, 429}


@pytest.mark.redis
async def test_the_login_limit_holds_across_replicas(
    start_store: StartStore, tmp_path: Path, redis_url: str
) -> None:
    """Guesses at one user alternating between two replicas: 5 checked in all, not 5 each."""
    orders_db = f"sqlite:///{tmp_path / 'orders.db'}"
    a, b = (
        start_store(
            db=tmp_path / f"replica-{i}.db", store=redis_url, args=("--orders-db", orders_db)
        )
        for i in range(2)
    )
    _session(a, "ann", "pw-ann")
    tally = _tally(
        await _flood([a.url, b.url], [{"user": "ann", "password": f"guess{i}"} for i in range(20)])
    )
    assert tally[401] <= 5 + 1
    assert tally[429] >= 14


async def _spoofed(store: StoreProcess, count: int) -> Counter[int]:
    """``count`` wrong logins at once from this address, each naming another client in
    ``X-Forwarded-For``."""
    async with httpx.AsyncClient(timeout=60) as client:
        return Counter(
            r.status_code
            for r in await asyncio.gather(
                *(
                    client.post(
                        f"{store.url}/api/login",
                        json={"user": f"u{i}", "password": "guess"},
                        headers={"X-Forwarded-For": f"10.1.0.{i}"},
                    )
                    for i in range(count)
                )
            )
        )


async def test_x_forwarded_for_is_trusted_only_from_named_proxies(
    start_store: StartStore, tmp_path: Path
) -> None:
    """By default the TCP peer is the client, whatever X-Forwarded-For says: 30 guesses at
    once, past the client's burst (20, 1/s), 429. Behind a proxy the operator names, each
    forwarded address has its own bucket."""
    store = start_store(db=tmp_path / "direct.db")
    started = time.monotonic()
    tally = await _spoofed(store, 30)
    assert tally[401] <= 20 + (time.monotonic() - started) + 1
    assert tally[429] >= 1
    proxied = start_store(db=tmp_path / "proxied.db", args=("--forwarded-allow-ips", "127.0.0.1"))
    assert await _spoofed(proxied, 30) == {401: 30}
