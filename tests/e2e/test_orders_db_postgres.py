"""Redis replicas copying their orders into one PostgreSQL table (``--orders-db postgresql://``):
a replica killed mid-flood leaves its pending entries to the other, and every acknowledged order
is in the table exactly once; a PostgreSQL that is down at start does not stop the store, one
that refuses does (one line, exit 2, the password never shown)."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis

from sniper.store.process import free_port
from sniper.store.redisdb.keys import sku_keys
from sniper.store.redisdb.persister import GROUP
from tests.e2e.conftest import StartStore
from tests.e2e.crowd import Answer, fire, open_item, users
from tests.e2e.test_store_start import _one_line_exit_2, _serve

pytestmark = [pytest.mark.redis, pytest.mark.postgres]

STOCK = 400
#: The persister's batch timeout in the replicas: a batch pending 3 × this is claimed.
BATCH_TIMEOUT_S = 1.0


async def _table(url: str) -> tuple[list[str], int]:
    """The order ids in the PostgreSQL table, and how many ids are there more than once."""
    conn = await asyncpg.connect(url)
    try:
        ids = [r["order_id"] for r in await conn.fetch("SELECT order_id FROM orders")]
        twice = await conn.fetchval(
            "SELECT count(*) FROM (SELECT order_id FROM orders GROUP BY order_id "
            "HAVING count(*) > 1) AS d"
        )
    finally:
        await conn.close()
    return ids, int(twice)


async def _pending_of(client: aioredis.Redis, stream: str, pid: int) -> int:
    """Entries delivered to the consumers of the process ``pid`` and not acknowledged (the
    persister names them ``HOST-PID-XXXX-N``)."""
    mine = re.compile(rf"-{pid}-[0-9a-f]{{4}}-\d+$")
    consumers = await client.xinfo_consumers(stream, GROUP)
    return sum(int(c["pending"]) for c in consumers if mine.search(c["name"]))


async def test_a_replica_killed_mid_flood_leaves_its_entries_to_the_other(
    start_store: StartStore,
    tmp_path: Path,
    redis_url: str,
    pg_empty_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two replicas on one Redis, both copying into one PostgreSQL table. The table is locked
    while the flood starts, so that both persisters hold delivered, unacknowledged entries; a is
    SIGKILLed after its 20th 201, holding some. Then the lock goes: b's persister claims a's
    entries (pending 3 × 1 s), and every order Redis lists, every 201 among them, is in the
    table exactly once; nothing is left pending."""
    monkeypatch.setenv("SNIPER_PERSISTER_BATCH_TIMEOUT_S", str(BATCH_TIMEOUT_S))
    a, b = (
        start_store(
            db=tmp_path / f"replica-{i}.db", store=redis_url, args=("--orders-db", pg_empty_url)
        )
        for i in range(2)
    )
    open_item(a, "eggs", stock=STOCK, limit=1)
    crowd = users(a, 600)
    on_a = {u for u, _ in crowd[::2]}
    assert a.proc is not None
    pid = a.proc.pid
    stream = sku_keys("eggs").stream
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    lock = await asyncpg.connect(pg_empty_url)
    locked = lock.transaction()
    await locked.start()
    await lock.execute("LOCK TABLE orders IN SHARE MODE")  # inserts wait; reads go on
    acked: list[Answer] = []
    held_by_a: list[int] = []
    tasks: list[asyncio.Task[None]] = []

    async def after_the_kill() -> None:
        held_by_a.append(await _pending_of(client, stream, pid))
        await locked.rollback()

    def on_answer(answer: Answer) -> None:
        if answer.status != 201:
            return
        acked.append(answer)
        if answer.user in on_a and len([x for x in acked if x.user in on_a]) == 20:
            os.kill(pid, signal.SIGKILL)
            tasks.append(asyncio.get_running_loop().create_task(after_the_kill()))

    try:
        answers_a, _ = await asyncio.wait_for(
            asyncio.gather(
                fire(a.url, crowd[::2], {"sku_id": "eggs"}, on_answer=on_answer, spread_s=3.0),
                fire(b.url, crowd[1::2], {"sku_id": "eggs"}, on_answer=on_answer, spread_s=3.0),
            ),
            60,
        )
        await asyncio.gather(*tasks)
        assert a.proc.wait(10) == -signal.SIGKILL
        assert any(x.error for x in answers_a), "a was killed after its flood: nothing tested"
        assert held_by_a, "a was never killed"
        assert held_by_a[0] > 0, "a held no pending entry when killed"

        listed = {
            o["order_id"] for o in b.admin("GET", "/admin/orders?sku_id=eggs").json()["orders"]
        }
        deadline = time.monotonic() + 20
        while True:
            ids, twice = await _table(pg_empty_url)
            pending = (await client.xpending(stream, GROUP))["pending"]
            if (len(ids) >= len(listed) and not pending) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert await _pending_of(client, stream, pid) == 0  # claimed by b, copied, acknowledged
        assert pending == 0
        assert await client.xlen(stream) == 0
    finally:
        await lock.close()
        await client.aclose()
    assert twice == 0
    assert len(ids) == len(set(ids))
    assert set(ids) == listed
    assert {x.body["order_id"] for x in acked if x.body} <= set(ids)
    assert b.admin("GET", "/api/items/eggs").json()["stock"] + len(listed) == STOCK


def test_a_postgresql_down_at_start_does_not_stop_the_store(
    start_store: StartStore, redis_url: str
) -> None:
    """Nothing listening at the --orders-db address: the replica starts, says so (the URL
    redacted, no traceback) and sells; its orders wait in Redis (the persister's tests prove
    that they are copied once PostgreSQL answers)."""
    down = f"postgresql://sniper:s3cret-pw@127.0.0.1:{free_port()}/sniper"
    store = start_store(store=redis_url, args=("--orders-db", down))
    open_item(store, "eggs", stock=5)
    [(_, token)] = users(store, 1)
    order = httpx.post(
        f"{store.url}/api/orders",
        json={"sku_id": "eggs"},
        headers={"Cookie": f"session={token}"},
        timeout=30,
    )
    assert order.status_code == 201
    assert store.terminate() == 0
    log = store.log()
    assert "orders_db postgresql://***@127.0.0.1" in log
    assert "not reachable (ConnectionRefusedError)" in log
    assert "s3cret-pw" not in log
    assert "Traceback" not in log


def test_a_postgresql_that_refuses_or_a_foreign_scheme_is_one_line(
    tmp_path: Path, redis_url: str, pg_url: str
) -> None:
    """No such database: one line naming orders_db, exit 2. A scheme that is neither SQLite nor
    PostgreSQL: the same, before anything is opened. The password shown in neither."""
    no_db = pg_url.replace("sniper@", "sniper:s3cret-pw@").rsplit("/", 1)[0] + "/no_such_db"
    refused = _serve(
        tmp_path, "--store", redis_url, "--orders-db", no_db, "--port", str(free_port())
    )
    _one_line_exit_2(refused, "orders_db postgresql://***@", "InvalidCatalogNameError")
    assert "s3cret-pw" not in refused.stderr
    foreign = _serve(
        tmp_path,
        "--store",
        f"redis://127.0.0.1:{free_port()}/0",
        "--orders-db",
        "mysql://shop:s3cret-pw@127.0.0.1/shop",
        "--port",
        str(free_port()),
    )
    _one_line_exit_2(foreign, "orders_db: 'mysql://***@127.0.0.1/shop'")
    assert "s3cret-pw" not in foreign.stderr
