"""A shop that makes an order of every request of the burst: the run reports each one."""

from __future__ import annotations

import json
from pathlib import Path

from tests.client.fault_server import FaultServer, Step, ok
from tests.client.test_faults import make_task, snipe


async def test_every_order_of_the_burst_is_counted_and_named(tmp_path: Path) -> None:
    """Three 201s with three order ids (the last 50 ms behind the others): exit 0, and the
    console and the summary log line name all three, so that the user can cancel two."""
    late = Step(**{**ok("A3").__dict__, "delay_s": 0.05})
    async with FaultServer([ok("A1"), ok("A2"), late], repeat_last=False) as server:
        summary, out = await snipe(make_task(server, tmp_path, concurrency=3))
    assert summary.exit_code == 0
    assert sorted(summary.order_ids) == ["A1", "A2", "A3"]
    assert summary.order_id == summary.order_ids[0]
    assert f"! 3 orders were placed, not one: {', '.join(summary.order_ids)}" in out
    assert len(server.orders) == 3  # nothing new was sent after the first success
    last = json.loads((tmp_path / "sniper.log").read_text().splitlines()[-1])
    assert last["event"] == "summary"
    assert (last["result"], last["orders"], sorted(last["order_ids"])) == (
        "ordered", 3, ["A1", "A2", "A3"])


async def test_one_order_is_one(tmp_path: Path) -> None:
    """The store's way (one request id, the same order answered again): one order, no alarm."""
    async with FaultServer([ok("B1")]) as server:
        summary, out = await snipe(make_task(server, tmp_path, concurrency=3))
    assert (summary.exit_code, summary.order_ids) == (0, ("B1",))
    assert "orders were placed" not in out
    last = json.loads((tmp_path / "sniper.log").read_text().splitlines()[-1])
    assert (last["orders"], last["order_ids"]) == (1, ["B1"])
