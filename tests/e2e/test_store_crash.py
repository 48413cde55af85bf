"""SIGKILL during a burst: every acknowledged order survives, and stock + orders = initial."""

from __future__ import annotations

import asyncio
import os
import signal

from tests.e2e.conftest import StartStore
from tests.e2e.crowd import Answer, fire, open_item, users

STOCK = 2000


async def test_acknowledged_orders_survive_sigkill(start_store: StartStore) -> None:
    """Kill the store mid-burst; restarted on the same file, every acknowledged order is there."""
    store = start_store()
    open_item(store, "eggs", stock=STOCK, limit=1)
    crowd = users(store, 3000)
    assert store.proc is not None
    pid = store.proc.pid
    acked: list[Answer] = []
    killed = False

    def kill() -> None:
        nonlocal killed
        if not killed:
            killed = True
            os.kill(pid, signal.SIGKILL)

    def on_answer(answer: Answer) -> None:
        if answer.status == 201:
            acked.append(answer)
            if len(acked) == 1:
                asyncio.get_running_loop().call_later(1.0, kill)
            if len(acked) == 300:
                kill()

    # The crowd arrives over two seconds, so that the kill lands in the middle of it: at the
    # 300th order, or a second after the first at the latest (a client that reads its answers
    # late on a busy machine could otherwise hear the 300th only once every request was
    # answered). 3,000 clients and the store share two cores here: each request is bounded,
    # but generously.
    answers = await asyncio.wait_for(
        fire(store.url, crowd, {"sku_id": "eggs"}, on_answer=on_answer, limit_s=40, spread_s=2),
        90,
    )
    assert store.proc.wait(10) == -signal.SIGKILL
    assert acked
    cut_off = [a for a in answers if a.error is not None]
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
