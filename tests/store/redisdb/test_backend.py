"""What only the Redis backend has: fenced catalog writes, Redis errors as 503, scripts by SHA."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis
from redis.exceptions import NoScriptError, RedisClusterException

from sniper.clock import ManualClock, now_ms
from sniper.errors import OutcomeUnknown, Unavailable
from sniper.store.models import Item, Session
from sniper.store.process import free_port
from sniper.store.redisdb.backend import RedisBackend, durability_warning
from sniper.store.redisdb.keys import sku_keys, user_sessions_key
from sniper.store.redisdb.lock import LockLost
from sniper.store.rules import Reservation
from sniper.store.urls import redact_url
from tests.conftest import T0_MS

pytestmark = pytest.mark.redis


def _item(sku: str, stock: int = 3) -> Item:
    return Item(sku, sku, 100, stock, "2023-11-14T22:13:20+00:00", T0_MS, 1)


async def test_a_stale_fencing_token_is_refused(backend: RedisBackend) -> None:
    assert await backend.create_item(_item("eggs"), fencing_token=5) == 1
    assert await backend.create_item(_item("eggs"), fencing_token=5) == 0  # there already
    assert await backend.create_item(_item("eggs", stock=99), fencing_token=4) == -1
    item = await backend.get_item("eggs")
    assert item is not None
    assert item.stock == 3


async def test_a_catalog_load_fenced_off_stops(backend: RedisBackend) -> None:
    """A newer holder has written 'milk' (fence 99): this load's token (1) is refused."""
    await backend.client.set("sniper:fence:{milk}", 99)
    with pytest.raises(LockLost, match="newer holder"):
        await backend.load_catalog([_item("eggs"), _item("milk")])
    assert await backend.get_item("milk") is None
    assert await backend.client.get("sniper:lock:{catalog}") is None  # released all the same


async def test_the_reservation_runs_by_sha(backend: RedisBackend, redis_url: str) -> None:
    await backend.put_item(_item("eggs"))
    await backend.reserve(Reservation("ann", "eggs", 1))
    await backend.reserve(Reservation("bob", "eggs", 1))
    info = await backend.client.info("commandstats")
    assert int(info["cmdstat_evalsha"]["calls"]) >= 2
    assert "cmdstat_eval" not in info  # never the whole script text per call
    await backend.client.script_flush()  # a restarted Redis forgets scripts: reloaded
    assert (await backend.reserve(Reservation("cyd", "eggs", 1))).order is not None


async def test_redis_down_is_unavailable_not_a_traceback(clock: ManualClock) -> None:
    down = RedisBackend(f"redis://:hunter2@127.0.0.1:{free_port()}/0", clock)
    try:
        with pytest.raises(Unavailable, match="storage unavailable") as caught:
            await down.reserve(Reservation("ann", "eggs", 1))
        assert "hunter2" not in str(caught.value)
        with pytest.raises(Unavailable):
            await down.check()
    finally:
        await down.aclose()


async def test_reservations_arriving_together_share_pipelines(backend: RedisBackend) -> None:
    """200 at once: every one decided by its own script call, carried by far fewer pipelines."""
    await backend.put_item(_item("eggs", stock=150))
    results = await asyncio.gather(
        *(backend.reserve(Reservation(f"u{i}", "eggs", 1)) for i in range(200))
    )
    assert sum(r.order is not None for r in results) == 150
    assert backend._reserve.carried == 200
    assert backend._reserve.batches <= 20


async def test_a_resent_call_finds_its_own_order(backend: RedisBackend) -> None:
    """A client that resends a script call after losing the reply (redis-py retries on a
    broken connection) gets its order back; the stock is taken once."""
    await backend.put_item(_item("eggs", stock=5))
    keys = sku_keys("eggs")
    args = ["ann", 1, "", T0_MS, "order-1", '{"order_id": "order-1"}']
    first = await backend._reserve("eggs", args)
    again = await backend._reserve("eggs", args)
    assert first == again == (["created", 4, None], None)
    assert await backend.client.hlen(keys.orders) == 1
    assert await backend.client.xlen(keys.stream) == 1


async def test_a_failing_reload_answers_503_not_a_hang(
    backend: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The script forgotten by Redis and the handling of that failing with something unexpected:
    every caller still gets an answer: outcome_unknown, since a reload and call may have run."""
    await backend.put_item(_item("eggs"))
    await backend.client.script_flush()

    async def alone(*_: object) -> None:
        raise RuntimeError("slot moved mid-reload")

    monkeypatch.setattr(backend._reserve, "_alone", alone)
    results = await asyncio.wait_for(
        asyncio.gather(
            *(backend.reserve(Reservation(f"u{i}", "eggs", 1)) for i in range(3)),
            return_exceptions=True,
        ),
        5,
    )
    assert all(isinstance(r, OutcomeUnknown) for r in results)


async def test_cluster_errors_are_unavailable(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = RedisBackend(f"redis://127.0.0.1:{free_port()}/0", clock)

    async def ping() -> None:
        raise RedisClusterException("every node is down")

    monkeypatch.setattr(down.client, "ping", ping)
    try:
        with pytest.raises(Unavailable, match="RedisClusterException"):
            await down.check()
    finally:
        await down.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@127.0.0.1:6379/0",
        "redis://ann:hunter2@127.0.0.1:6379/0",
        "redis://:hun/ter#2@127.0.0.1:6379/0",
        "redis://:hunter2@@127.0.0.1:6379/0",
        "redis://127.0.0.1:6379/0?password=hunter2&db=0",
    ],
)
def test_redacted_urls_never_show_the_password(url: str) -> None:
    shown = redact_url(url)
    assert "hunter2" not in shown
    assert "hun/ter" not in shown
    assert "127.0.0.1:6379" in shown


async def test_a_catalog_load_that_lost_its_lock_takes_it_again(
    backend: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first write is fenced off (another holder came and went while this one paused): the
    load takes the lock again and finishes; each item created once, counted once."""
    real = backend.create_item
    fenced_once: list[int] = []

    async def create_item(item: Item, fencing_token: int) -> int:
        if not fenced_once:
            fenced_once.append(fencing_token)
            return -1
        return await real(item, fencing_token)

    monkeypatch.setattr(backend, "create_item", create_item)
    assert await backend.load_catalog([_item("eggs"), _item("milk")]) == 2
    assert fenced_once == [1]
    assert await backend.get_item("milk") == _item("milk")
    assert await backend.load_catalog([_item("eggs"), _item("milk")]) == 0


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ({"appendonly": "yes", "appendfsync": "always"}, None),
        ({"appendonly": "yes", "appendfsync": "everysec"}, "last second or two"),
        ({"appendonly": "no", "appendfsync": "always"}, "without its append-only file"),
        ({}, "could not read"),
    ],
)
def test_what_a_redis_crash_could_cost(config: dict[str, str], says: str | None) -> None:
    warning = durability_warning(config)
    assert (warning is None) if says is None else (warning is not None and says in warning)


async def test_the_store_says_so_at_start(
    backend: RedisBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """The private test server runs without an append-only file: the warning is logged."""
    await backend.start_background()
    assert "appendonly no" in caplog.text


async def test_a_caller_gone_during_a_reload_costs_the_others_nothing(
    backend: RedisBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One call of a batch must be sent again (its node forgot the script) and its caller hangs
    up meanwhile: the two calls already decided get their answers, at once."""
    batcher = backend._take_sessions
    reloading = asyncio.Event()

    async def pipeline(batch: object) -> list[object]:
        return [NoScriptError("NOSCRIPT"), ["created", 1], ["created", 2]]

    async def alone(keys: object, args: object, future: asyncio.Future[object]) -> None:
        reloading.set()
        await asyncio.sleep(0.05)
        future.set_result(["created", 0])  # as a careless reload would: the caller is gone

    monkeypatch.setattr(batcher, "_pipeline", pipeline)
    monkeypatch.setattr(batcher, "_alone", alone)
    calls = [asyncio.ensure_future(batcher(["k"], [i])) for i in range(3)]
    await reloading.wait()
    calls[0].cancel()
    assert list(await asyncio.wait_for(asyncio.gather(calls[1], calls[2]), 1)) == [
        ["created", 1],
        ["created", 2],
    ]


async def test_a_users_session_set_keeps_only_what_may_be_live(
    backend: RedisBackend, clock: ManualClock
) -> None:
    """Every login adds to the user's set; expired sessions leave it on the next one, so a
    user logging in daily for years does not grow it without bound."""
    for i in range(20):
        assert await backend.create_session(Session("ann", f"t-{i}", now_ms(clock) + 1000))
        clock.advance(2.0)
    assert await backend.create_session(Session("ann", "t-last", now_ms(clock) + 1000))
    members = await backend.client.zrange(user_sessions_key("ann"), 0, -1)
    assert members == ["t-last"]


@pytest.mark.cluster
async def test_the_readiness_probe_writes_once_per_server_whatever_the_catalog(
    clock: ManualClock,
    redis_url: str,
    cluster_url: str,
    redis_cluster_ports: list[int],
) -> None:
    """200 items or none, a probe writes one key on a server and one on each cluster primary
    (anyone may poll /readyz: its cost must not grow with the catalog)."""
    for url, ports in ((redis_url, None), (cluster_url, redis_cluster_ports)):
        backend = RedisBackend(url, clock)
        await backend.open()
        try:
            for n in range(200):
                await backend.put_item(_item(f"sku{n}"))
            await backend.probe_commit()
            await backend.probe_commit()
            if ports is None:
                assert await backend.client.keys("sniper:ready*") == ["sniper:ready"]
                continue
            for port in ports:  # every primary of the private cluster holds exactly one
                node = Redis(port=port, decode_responses=True)
                try:
                    assert len(await node.keys("sniper:ready*")) == 1, port
                finally:
                    await node.aclose()
        finally:
            await backend.aclose()
