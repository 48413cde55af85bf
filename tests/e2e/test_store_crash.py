"""SIGKILL during a burst: every acknowledged order survives, and stock + orders = initial."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

from tests.e2e.conftest import StartStore
from tests.e2e.crowd import fire, open_item, users

STOCK = 2000


def _kill_when_orders_reach(db: Path, pid: int, count: int, deadline_s: float) -> None:
    """Watch the database file; SIGKILL ``pid`` as soon as ``count`` orders are committed."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if conn.execute("SELECT count(*) FROM orders").fetchone()[0] >= count:
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.0005)
    finally:
        conn.close()


async def test_acknowledged_orders_survive_sigkill(start_store: StartStore) -> None:
    """Kill the store mid-burst; restarted on the same file, every acknowledged order is there."""
    store = start_store()
    open_item(store, "eggs", stock=STOCK, limit=1)
    crowd = users(store, 3000)
    assert store.proc is not None
    killer = threading.Thread(
        target=_kill_when_orders_reach, args=(store.db, store.proc.pid, 300, 60), daemon=True
    )
    killer.start()
    answers = await asyncio.wait_for(fire(store.url, crowd, {"sku_id": "eggs"}, timeout=20), 60)
    killer.join(5)
    assert store.proc.wait(10) == -signal.SIGKILL
    acked = [a for a in answers if a.status == 201]
    cut_off = [a for a in answers if a.error is not None]
    assert acked, "nothing was acknowledged before the kill"
    assert cut_off, "the kill came after the burst had finished: nothing was tested"

    again = start_store(db=store.db)
    orders = again.admin("GET", "/admin/orders?sku_id=eggs").json()["orders"]
    stored = {o["order_id"]: o for o in orders}
    for answer in acked:
        assert answer.body is not None
        assert stored.get(answer.body["order_id"]) == answer.body
    item = again.admin("GET", "/api/items/eggs").json()
    assert item["stock"] + sum(o["qty"] for o in orders) == STOCK
    assert len({o["user"] for o in orders}) == len(orders)
