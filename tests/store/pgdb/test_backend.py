"""The PostgreSQL backend's own parts: reservations grouped into one call, a bad one failing
alone, and the schema made and migrated once however many replicas start together."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from sniper.clock import ManualClock
from sniper.errors import OutcomeUnknown, StoreError, Unavailable
from sniper.store.models import Item
from sniper.store.pgdb.backend import PostgresBackend
from sniper.store.pgdb.schema import MIGRATIONS, STORE_PARTS, migrate
from sniper.store.rules import Outcome, Reservation
from tests.conftest import T0_MS
from tests.pg_servers import PgServer, pg_server

pytestmark = pytest.mark.postgres


@pytest.fixture
async def backend(pg_empty_url: str, clock: ManualClock) -> AsyncIterator[PostgresBackend]:
    made = PostgresBackend(pg_empty_url, clock)
    await made.open()
    try:
        yield made
    finally:
        await made.aclose()


async def test_reservations_arriving_together_are_one_call(backend: PostgresBackend) -> None:
    """200 reservations of one item sent at once go in one or two calls, and each is decided:
    50 created, 150 sold out, stock 0."""
    await backend.put_item(Item("hot", "hot", 1, 50, "2023-11-14T22:13:20+00:00", T0_MS, 1))
    results = await asyncio.gather(
        *(backend.reserve(Reservation(f"u{n}", "hot", 1, f"r{n}")) for n in range(200))
    )
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.CREATED) == 50
    assert outcomes.count(Outcome.SOLD_OUT) == 150
    assert backend._reserve.carried == 200
    assert backend._reserve.batches <= 2
    item = await backend.get_item("hot")
    assert item is not None
    assert item.stock == 0


async def test_a_reservation_the_server_refuses_fails_alone(backend: PostgresBackend) -> None:
    """A value PostgreSQL cannot store (a NUL) refuses the whole call: its batch is sent again
    one by one, the others are decided, only it fails, with a store error."""
    await backend.put_item(Item("eggs", "eggs", 1, 10, "2023-11-14T22:13:20+00:00", T0_MS, 1))
    good = [backend.reserve(Reservation(f"u{n}", "eggs", 1)) for n in range(5)]
    bad = backend.reserve(Reservation("u9", "eggs\x00", 1))
    *results, failed = await asyncio.gather(*good, bad, return_exceptions=True)
    assert [getattr(r, "outcome", r) for r in results] == [Outcome.CREATED] * 5
    assert isinstance(failed, StoreError)
    assert failed.status == 503
    assert len(await backend.list_orders("eggs")) == 5


async def test_replicas_starting_together_make_the_schema_once(pg_empty_url: str) -> None:
    """Four connections migrate at once: one applies every migration, the others none; a
    database migrated by a newer release is left as it is."""
    conns = [await asyncpg.connect(pg_empty_url) for _ in range(4)]
    try:
        applied = await asyncio.gather(*(migrate(c, STORE_PARTS) for c in conns))
        expected = [name for part in STORE_PARTS for name in MIGRATIONS[part]]
        assert sorted(applied, key=len) == [[], [], [], expected]
        rows = await conns[0].fetch("SELECT part, version FROM schema_versions")
        versions = {r["part"]: r["version"] for r in rows}
        assert versions == {part: len(MIGRATIONS[part]) for part in STORE_PARTS}
        await conns[0].execute("UPDATE schema_versions SET version = 99 WHERE part = 'store'")
        assert await migrate(conns[1], STORE_PARTS) == []
    finally:
        for conn in conns:
            await conn.close()


async def test_an_order_table_alone_grows_into_a_store(pg_empty_url: str) -> None:
    """A database that held only the order table (a Redis store's) becomes a whole store: the
    store's part is applied, the orders kept."""
    conn = await asyncpg.connect(pg_empty_url)
    try:
        assert await migrate(conn, ("orders",)) == list(MIGRATIONS["orders"])
        await conn.execute("INSERT INTO orders VALUES ('o1', 'eggs', 1, 'ann', $1, NULL)", T0_MS)
        assert await migrate(conn, STORE_PARTS) == list(MIGRATIONS["store"])
        assert await conn.fetchval("SELECT count(*) FROM orders") == 1
    finally:
        await conn.close()


def _server_processes(server: PgServer) -> list[int]:
    """The postmaster and its children (the backends serving our connections)."""
    assert server.proc is not None
    pid = server.proc.pid
    kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(kid) for kid in kids)]


async def test_a_stalled_server_is_an_answer_within_the_timeout(clock: ManualClock) -> None:
    """PostgreSQL frozen mid-sale: a reservation sent is "outcome unknown" and a read is
    "unavailable", each within the timeout (never a hang); once it runs again the same backend
    takes orders without being reopened."""
    with pg_server() as server:
        backend = PostgresBackend(server.url, clock, timeout_s=0.5)
        await backend.open()
        try:
            await backend.put_item(Item("hot", "hot", 1, 9, "2023-11-14T22:13:20+00:00", T0_MS, 9))
            assert (await backend.reserve(Reservation("ann", "hot", 1))).outcome is Outcome.CREATED
            frozen = _server_processes(server)
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)
            try:
                async with asyncio.timeout(5):  # the proof of "no hang": 0.5 s each is expected
                    with pytest.raises(OutcomeUnknown):
                        await backend.reserve(Reservation("ann", "hot", 1, "r1"))
                    with pytest.raises(Unavailable):
                        await backend.get_item("hot")
            finally:
                for pid in frozen:
                    os.kill(pid, signal.SIGCONT)
            replay = await backend.reserve(Reservation("ann", "hot", 1, "r1"))
            assert replay.outcome in (Outcome.CREATED, Outcome.REPLAYED)
            item = await backend.get_item("hot")
            assert item is not None
            assert item.stock == 7
        finally:
            await backend.aclose()


async def test_a_batch_refused_for_a_lock_is_one_answer_not_one_call_each(
    backend: PostgresBackend, pg_empty_url: str
) -> None:
    """A refusal no single reservation caused (the item's row locked past ``lock_timeout``)
    answers the whole batch "unavailable" after one call, instead of trying each again alone
    (each waiting for the same lock), and orders are taken again once the lock is gone."""
    await backend.put_item(Item("hot", "hot", 1, 50, "2023-11-14T22:13:20+00:00", T0_MS, 1))
    calls = 0
    call = backend._reserve._call

    async def counted(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return await call(*args)

    backend._reserve._call = counted  # type: ignore[method-assign,assignment]
    holder = await asyncpg.connect(pg_empty_url)
    try:
        await holder.execute("ALTER DATABASE sniper SET lock_timeout = '200ms'")
        await backend._pool().expire_connections()  # new connections read the setting
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM items WHERE sku_id = 'hot' FOR UPDATE")
            results = await asyncio.gather(
                *(backend.reserve(Reservation(f"u{n}", "hot", 1)) for n in range(20)),
                return_exceptions=True,
            )
        assert all(isinstance(r, Unavailable) for r in results), results
        assert "55P03" in str(results[0])
        assert calls == 1
        after = await backend.reserve(Reservation("ann", "hot", 1))
        assert after.outcome is Outcome.CREATED
    finally:
        await holder.execute("ALTER DATABASE sniper RESET lock_timeout")
        await holder.close()


async def test_orders_arriving_while_the_server_is_frozen_are_each_answered(
    clock: ManualClock,
) -> None:
    """Orders keep arriving at a frozen PostgreSQL, one batch out at a time: each is answered
    (sent: "outcome unknown"; still queued when its batch's deadline ran out: "unavailable"),
    none left waiting (each within two timeouts: the batch ahead, then its own)."""
    with pg_server() as server:
        backend = PostgresBackend(server.url, clock, timeout_s=0.3)
        await backend.open()
        try:
            await backend.put_item(Item("hot", "hot", 1, 9, "2023-11-14T22:13:20+00:00", T0_MS, 9))
            frozen = _server_processes(server)
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)
            try:

                async def order(n: int) -> StoreError:
                    await asyncio.sleep(n * 0.1)
                    with pytest.raises((OutcomeUnknown, Unavailable)) as caught:
                        await backend.reserve(Reservation("ann", "hot", 1, f"r{n}"))
                    return caught.value

                # The hang guard: 8 orders over 0.7 s, each answered within 0.6 s, end by ~1.3 s.
                async with asyncio.timeout(10):
                    answers = await asyncio.gather(*(order(n) for n in range(8)))
            finally:
                for pid in frozen:
                    os.kill(pid, signal.SIGCONT)
            assert len(answers) == 8
            assert OutcomeUnknown in {type(a) for a in answers}  # a batch was out when frozen
        finally:
            await backend.aclose()
