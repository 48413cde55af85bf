"""Concurrency over real sockets: 1,000 buyers, 100 units, one and two worker processes."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter

import pytest

from tests.e2e.conftest import StartStore
from tests.e2e.crowd import fire, open_item, users


async def _watch_stock(db: str, sku: str, stop: asyncio.Event, seen: list[int]) -> None:
    """Read the stock from the database file over and over while the burst runs."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        while not stop.is_set():
            row = conn.execute("SELECT stock FROM items WHERE sku_id = ?", (sku,)).fetchone()
            seen.append(row[0])
            await asyncio.sleep(0.002)
    finally:
        conn.close()


@pytest.mark.parametrize("workers", [1, 2])
async def test_thousand_buyers_hundred_units(start_store: StartStore, workers: int) -> None:
    """Exactly 100 × 201 and 900 × 409 sold_out; 100 orders of 100 users; stock 0, never below."""
    store = start_store(workers=workers)
    open_item(store, "eggs", stock=100, limit=1)
    crowd = users(store, 1000)
    stop, seen = asyncio.Event(), list[int]()
    watcher = asyncio.create_task(_watch_stock(str(store.db), "eggs", stop, seen))
    answers = await fire(store.url, crowd, {"sku_id": "eggs", "qty": 1})
    stop.set()
    await watcher

    statuses = Counter((a.status, (a.body or {}).get("error")) for a in answers)
    assert statuses == {(201, None): 100, (409, "sold_out"): 900}
    winners = {a.user for a in answers if a.status == 201}
    with sqlite3.connect(store.db) as conn:
        orders = conn.execute("SELECT username, qty FROM orders WHERE sku_id = 'eggs'").fetchall()
        stock = conn.execute("SELECT stock FROM items WHERE sku_id = 'eggs'").fetchone()[0]
    assert len(orders) == 100
    assert {u for u, _ in orders} == winners
    assert stock == 0
    assert len(seen) > 1
    assert min(seen) >= 0


@pytest.mark.parametrize("workers", [1, 2])
async def test_fifty_replays_make_one_order(start_store: StartStore, workers: int) -> None:
    """50 concurrent copies of one request_id: one order, and every reply carries it."""
    store = start_store(workers=workers)
    open_item(store, "eggs", stock=10, limit=5)
    [(user, token)] = users(store, 1)
    answers = await fire(
        store.url, [(user, token)] * 50, {"sku_id": "eggs", "qty": 1, "request_id": "once-only"}
    )
    assert sorted(a.status or 0 for a in answers) == [200] * 49 + [201]
    bodies = {tuple(sorted((a.body or {}).items())) for a in answers}
    assert len(bodies) == 1
    listed = store.admin("GET", "/admin/orders?sku_id=eggs").json()["orders"]
    assert len(listed) == 1
    assert listed[0] == answers[0].body
