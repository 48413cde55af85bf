"""A shop that makes an order of every request of the burst: the run reports each one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

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
        "ordered",
        3,
        ["A1", "A2", "A3"],
    )


async def test_one_order_is_one(tmp_path: Path) -> None:
    """The store's way (one request id, the same order answered again): one order, no alarm."""
    async with FaultServer([ok("B1")]) as server:
        summary, out = await snipe(make_task(server, tmp_path, concurrency=3))
    assert (summary.exit_code, summary.order_ids) == (0, ("B1",))
    assert "orders were placed" not in out
    last = json.loads((tmp_path / "sniper.log").read_text().splitlines()[-1])
    assert (last["orders"], last["order_ids"]) == (1, ["B1"])


@pytest.mark.parametrize(
    ("lang", "carrier"), [("en", "header"), ("zh", "header"), ("en", "body"), ("zh", "body")]
)
async def test_a_shops_request_id_is_sent_and_not_promised(
    tmp_path: Path, lang: str, carrier: str
) -> None:
    """An http task with {request_id} in its Idempotency-Key header (or its body): every
    request of the burst sends the run's id there, no warning, and the burst line says they
    share it, not that the shop (someone else's server) makes one order of them."""
    request: dict[str, object] = {"method": "POST", "body": '{"rid":"{request_id}"}'}
    if carrier == "header":
        request = {"method": "POST", "body": "{}", "headers": {"Idempotency-Key": "{request_id}"}}
    async with FaultServer([ok("C1")], dated=True) as server:  # its clock: the Date header
        summary, out = await snipe(
            make_task(
                server,
                tmp_path,
                3.0,
                concurrency=3,
                lang=lang,
                platform="http",
                request={**request, "url": f"{server.url}/api/orders"},
            )
        )
    assert summary.exit_code == 0
    [key] = {
        seen.headers["idempotency-key"] if carrier == "header" else json.loads(seen.body)["rid"]
        for seen in server.orders
    }
    assert key.startswith("snp-")
    shared = {
        "en": f"seq 1-3 share request id {key}: a shop that dedupes by it makes one order",
        "zh": f"seq 1-3 使用同一个请求号 {key}:按请求号去重的商家只会为它们创建一个订单",
    }
    assert shared[lang] in out
    assert "the store makes one order" not in out
    assert "商店只为它们创建一个订单" not in out
    assert "{request_id}" not in out


async def test_the_store_platform_promises_one_order(tmp_path: Path) -> None:
    """The store platform's burst line keeps its word: this project's store makes one order."""
    async with FaultServer([ok("D1")]) as server:
        summary, out = await snipe(make_task(server, tmp_path, concurrency=3))
    assert summary.exit_code == 0
    assert ": the store makes one order of them (201: the order" in out
