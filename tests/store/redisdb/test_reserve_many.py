"""One script call per SKU and batch: every outcome in one batch, each caller its own answer, a
resent batch taking stock once, a failing group failing only its own callers."""

from __future__ import annotations

import asyncio

import pytest
from redis.exceptions import NoScriptError, ResponseError

from sniper.errors import OutcomeUnknown
from sniper.store.models import Item
from sniper.store.redisdb.backend import RedisBackend
from sniper.store.redisdb.keys import sku_keys
from sniper.store.rules import Outcome, Reservation
from tests.conftest import T0_MS

pytestmark = pytest.mark.redis


def _item(sku: str, stock: int, *, limit: int = 1, opens_ms: int = T0_MS) -> Item:
    return Item(sku, sku, 100, stock, "2023-11-14T22:13:20+00:00", opens_ms, limit)


async def _evalsha_calls(backend: RedisBackend) -> int:
    info = await backend.client.info("commandstats")
    return int(info.get("cmdstat_evalsha", {}).get("calls", 0))


async def test_every_outcome_in_one_batch_in_arrival_order(backend: RedisBackend) -> None:
    """One call decides, in order: an order, its replay by request id, the limit, two more
    orders that empty the stock, sold out; and a not-started item and an unknown one in the
    same turn, each in its own call."""
    await backend.put_item(_item("eggs", stock=3))
    await backend.put_item(_item("milk", stock=5, opens_ms=T0_MS + 60_000))
    calls_before = await _evalsha_calls(backend)
    asked = [
        Reservation("ann", "eggs", 1, "r1"),
        Reservation("ann", "eggs", 1, "r1"),  # the same request again: the same order
        Reservation("ann", "eggs", 1, "r2"),  # a second order: over the limit of 1
        Reservation("bob", "eggs", 1),
        Reservation("cyd", "eggs", 1),  # the last unit
        Reservation("dan", "eggs", 1),  # sold out mid-batch
        Reservation("eve", "milk", 1),  # not started
        Reservation("fay", "nope", 1),  # no such item
    ]
    results = await asyncio.gather(*(backend.reserve(r) for r in asked))
    assert [r.outcome for r in results] == [
        Outcome.CREATED,
        Outcome.REPLAYED,
        Outcome.LIMIT_REACHED,
        Outcome.CREATED,
        Outcome.CREATED,
        Outcome.SOLD_OUT,
        Outcome.NOT_STARTED,
        Outcome.NOT_FOUND,
    ]
    first, replay = results[0].order, results[1].order
    assert first is not None
    assert replay is not None
    assert replay.order_id == first.order_id
    assert [r.stock_left for r in results[:6]] == [2, None, 2, 1, 0, 0]
    assert results[5].item is not None
    assert results[5].item.stock == 0
    assert results[6].item is not None
    assert results[6].item.sku_id == "milk"
    assert await _evalsha_calls(backend) - calls_before == 3  # one per SKU
    keys = sku_keys("eggs")
    assert await backend.client.hget(keys.item, "stock") == "0"
    assert await backend.client.hlen(keys.orders) == 3
    assert await backend.client.xlen(keys.stream) == 3


async def test_a_whole_batch_resent_takes_stock_once(backend: RedisBackend) -> None:
    """A batch sent again after its reply was lost (the same order ids): every reservation is
    answered as it was, and nothing is taken or recorded twice."""
    await backend.put_item(_item("eggs", stock=2, limit=5))
    keys = sku_keys("eggs")
    args = [
        ["ann", 1, "", T0_MS, "order-1", '{"order_id": "order-1"}'],
        ["bob", 1, "", T0_MS, "order-2", '{"order_id": "order-2"}'],
        ["cyd", 1, "", T0_MS, "order-3", '{"order_id": "order-3"}'],
    ]
    first = await asyncio.gather(*(backend._reserve("eggs", a) for a in args))
    again = await asyncio.gather(*(backend._reserve("eggs", a) for a in args))
    assert [own[0] for own, _ in first] == ["created", "created", "sold_out"]
    assert [own[0] for own, _ in again] == ["created", "created", "sold_out"]
    assert await backend.client.hget(keys.item, "stock") == "0"
    assert await backend.client.hlen(keys.orders) == 2
    assert await backend.client.xlen(keys.stream) == 2
    assert await backend.client.hget(keys.bought, "ann") == "1"


async def test_a_crowd_of_one_item_is_a_few_script_calls(backend: RedisBackend) -> None:
    """400 reservations at once: exactly the stock is sold, by far fewer calls than orders."""
    await backend.put_item(_item("eggs", stock=150))
    calls_before = await _evalsha_calls(backend)
    results = await asyncio.gather(
        *(backend.reserve(Reservation(f"u{i}", "eggs", 1)) for i in range(400))
    )
    assert sum(r.outcome is Outcome.CREATED for r in results) == 150
    assert sum(r.outcome is Outcome.SOLD_OUT for r in results) == 250
    assert len({r.order.order_id for r in results if r.order}) == 150
    assert await _evalsha_calls(backend) - calls_before <= 20


async def test_a_failing_group_fails_only_its_own_callers(
    backend: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two items in one pipeline: one item's call answers an error, the other's decides."""
    await backend.put_item(_item("eggs", stock=5))
    await backend.put_item(_item("milk", stock=5))
    batcher = backend._reserve
    real = batcher._pipeline

    async def eggs_fails(groups: dict[str, object]) -> list[object]:
        replies = await real(groups)  # type: ignore[arg-type]
        return [
            ResponseError("OOM") if sku == "eggs" else reply
            for sku, reply in zip(groups, replies, strict=True)
        ]

    monkeypatch.setattr(batcher, "_pipeline", eggs_fails)
    results = await asyncio.gather(
        backend.reserve(Reservation("ann", "eggs", 1)),
        backend.reserve(Reservation("bob", "milk", 1)),
        backend.reserve(Reservation("cyd", "eggs", 1)),
        return_exceptions=True,
    )
    assert isinstance(results[0], OutcomeUnknown)
    assert isinstance(results[2], OutcomeUnknown)
    assert not isinstance(results[1], BaseException)
    assert results[1].outcome is Outcome.CREATED


async def test_a_reloaded_group_keeps_the_others_answered(
    backend: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One item's node forgot the script: that group is loaded and sent again while the other
    item's callers already have their answers; both end decided, stock taken once."""
    await backend.put_item(_item("eggs", stock=5))
    await backend.put_item(_item("milk", stock=5))
    batcher = backend._reserve
    real = batcher._pipeline
    reloading = asyncio.Event()
    answered: list[str] = []

    async def eggs_forgotten(groups: dict[str, object]) -> list[object]:
        replies = await real(groups)  # type: ignore[arg-type]
        await backend.client.delete(*sku_keys("eggs").reserve()[1:])  # as if never run
        await backend.client.hset(sku_keys("eggs").item, "stock", 5)
        return [
            NoScriptError("NOSCRIPT") if sku == "eggs" else reply
            for sku, reply in zip(groups, replies, strict=True)
        ]

    real_alone = batcher._alone

    async def alone(group: list[object]) -> None:
        reloading.set()
        assert answered == ["milk"]  # the decided group was answered first
        await real_alone(group)  # type: ignore[arg-type]

    monkeypatch.setattr(batcher, "_pipeline", eggs_forgotten)
    monkeypatch.setattr(batcher, "_alone", alone)

    async def reserve(user: str, sku: str) -> Outcome:
        result = await backend.reserve(Reservation(user, sku, 1))
        answered.append(sku)
        return result.outcome

    results = await asyncio.gather(reserve("ann", "eggs"), reserve("bob", "milk"))
    assert reloading.is_set()
    assert list(results) == [Outcome.CREATED, Outcome.CREATED]
    assert await backend.client.hget(sku_keys("eggs").item, "stock") == "4"
