"""One ``sniper run`` process over openings that repeat: a real store restocked between them,
the cookie file replaced (a dead one told and waited out), ``repeat_until: ordered``, and
``aim: learned`` against a shop that opens 150 ms late."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from sniper.client import aim, history
from tests.client.receiver import Receiver
from tests.conftest import ADMIN
from tests.e2e.conftest import StartStore
from tests.e2e.crowd import users
from tests.e2e.late_shop import LateShop
from tests.e2e.store_process import StoreProcess

#: Every wait in these tests ends by then, whatever happens.
BOUND_S = 20.0


def openings(*after_s: float) -> list[datetime]:
    """Whole seconds (UTC) this far from now, as a shop publishes them."""
    now = int(time.time())
    return [datetime.fromtimestamp(now + 1 + s, UTC) for s in after_s]


def ms(at: datetime) -> int:
    """An instant in epoch ms."""
    return int(at.timestamp() * 1000)


def times_of_day(at: list[datetime]) -> str:
    """``target_time`` as a YAML list of times of day."""
    return "[" + ", ".join(f'"{t:%H:%M:%S}Z"' for t in at) + "]"


async def until(at: datetime) -> None:
    """Sleep until the wall clock reaches ``at``."""
    await asyncio.sleep(max(0.0, at.timestamp() - time.time()))


async def eventually(what: str, done: Callable[[], object], bound_s: float = BOUND_S) -> None:
    """Wait (polling, bounded) until ``done()`` (a coroutine is awaited) is true."""
    deadline = time.monotonic() + bound_s
    while True:
        got = done()
        if inspect.isawaitable(got):
            got = await got
        if got:
            return
        assert time.monotonic() < deadline, f"not within {bound_s} s: {what}"
        await asyncio.sleep(0.05)


def lines(path: Path) -> list[history.Opening]:
    """The history file's records (none before it is written)."""
    return history.read(path) if path.exists() else []


def replace(path: Path, text: str) -> None:
    """Replace a file as an editor or a login script does: a new file moved over the old."""
    fresh = path.with_suffix(".new")
    fresh.write_text(text)
    os.replace(fresh, path)


@contextlib.asynccontextmanager
async def sniper_run(task: Path) -> AsyncIterator[asyncio.subprocess.Process]:
    """``sniper run TASK`` (its output in ``out.txt`` beside the task), killed by its pid if a
    test leaves it running."""
    out = (task.parent / "out.txt").open("wb")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sniper",
        "run",
        str(task),
        cwd=task.parent,
        stdout=out,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        yield proc
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        out.close()


async def stopped(proc: asyncio.subprocess.Process, bound_s: float = 5.0) -> int:
    """SIGTERM, and the exit code within ``bound_s``."""
    proc.send_signal(signal.SIGTERM)
    return await asyncio.wait_for(proc.wait(), bound_s)


def output(task: Path) -> str:
    """What the sniper process printed."""
    return (task.parent / "out.txt").read_text(errors="replace")


def admin(store: StoreProcess) -> httpx.AsyncClient:
    """A client of the store's admin API."""
    return httpx.AsyncClient(base_url=store.url, headers=ADMIN, timeout=10)


async def restock(client: httpx.AsyncClient, opening: datetime) -> None:
    """One in stock again, on sale from ``opening``."""
    response = await client.patch(
        "/admin/items/eggs", json={"stock": 1, "sale_start": opening.isoformat()}
    )
    assert response.status_code == 200, response.text


async def store_orders(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The item's orders, oldest first."""
    found: list[dict[str, Any]] = (await client.get("/admin/orders?sku_id=eggs")).json()["orders"]
    return sorted(found, key=lambda o: int(o["created_ms"]))


async def has_orders(client: httpx.AsyncClient, count: int) -> bool:
    """Whether the item has ``count`` orders."""
    return len(await store_orders(client)) == count


def store_task(store: StoreProcess, tmp_path: Path, at: list[datetime], extra: str = "") -> Path:
    """A daily task at the times of day ``at``, its cookie in ``cookie.txt``; the item made,
    on sale from the first opening."""
    response = store.admin(
        "PUT",
        "/admin/items/eggs",
        json={
            "name": "eggs",
            "price_cents": 1299,
            "stock": 1,
            "sale_start": at[0].isoformat(),
            "limit_per_user": 3,
        },
    )
    assert response.status_code == 200, response.text
    task = tmp_path / "task.yaml"
    task.write_text(
        f'platform: store\nbase_url: "{store.url}"\nsku_id: eggs\n'
        f"cookie_file: {tmp_path / 'cookie.txt'}\n"
        f"target_time: {times_of_day(at)}\nrepeat: daily\npreflight_s: 1\n"
        "retry: {window_s: 2}\n"
        f"history_file: {tmp_path / 'history.jsonl'}\nlog_file: {tmp_path / 's.log'}\n" + extra
    )
    return task


def after_opening(orders: list[dict[str, Any]], at: list[datetime]) -> list[int]:
    """How long after its opening each order was created (ms)."""
    return [int(o["created_ms"]) - ms(t) for o, t in zip(orders, at, strict=True)]


async def test_openings_with_the_cookie_file_replaced_and_a_dead_cookie_waited_out(
    start_store: StartStore, tmp_path: Path
) -> None:
    """Four openings in one process: A's cookie, then B's (used at once), then a logged-out
    one (told through the webhook, the file waited for), then C's. Orders at openings 1, 2
    and 4, four history lines, the process waiting for tomorrow; SIGTERM ends it with 143."""
    store = start_store()
    (a, a_token), (b, b_token), (c, c_token), (_, dead) = users(store, 4)
    async with httpx.AsyncClient(base_url=store.url, cookies={"session": dead}) as client:
        logout = await client.post("/api/logout")
    assert logout.status_code == 200, logout.text
    # A run starts at once after the one before (preflight_s + 60 s ahead of its opening): the
    # gaps leave time for a loaded machine to start, measure the clock and pass the pre-flight.
    at = openings(5, 11, 17, 25)
    cookie = tmp_path / "cookie.txt"
    cookie.write_text(f"session={a_token}\n")
    async with Receiver() as hook, admin(store) as api:
        task = store_task(store, tmp_path, at, f"notify: [{{type: webhook, url: '{hook.url}'}}]\n")
        async with sniper_run(task) as proc:
            # The cookie is read when an opening's run starts: B's, written during the run
            # for opening 1, is the one read for opening 2.
            await until(at[0] - timedelta(seconds=0.5))
            replace(cookie, f"session={b_token}\n")
            await eventually("the order at opening 1", lambda: has_orders(api, 1))
            await restock(api, at[1])
            await until(at[1] - timedelta(seconds=0.5))
            replace(cookie, f"session={dead}\n")
            await eventually("the order at opening 2", lambda: has_orders(api, 2))
            await restock(api, at[2])

            def refused() -> list[dict[str, str]]:
                told = [json.loads(r.body) for r in hook.got]
                return [m for m in told if "cookie refused" in m["title"]]

            await eventually("the dead cookie told", refused)
            # Opening 3 and its retry window pass with the item on sale: nothing is ordered.
            await until(at[2] + timedelta(seconds=2.5))
            assert proc.returncode is None, output(task)
            assert len(await store_orders(api)) == 2
            assert len(lines(tmp_path / "history.jsonl")) == 3
            assert "changed: going on" not in output(task)  # still waiting for the file
            await restock(api, at[3])
            replace(cookie, f"session={c_token}\n")
            await eventually("history line 4", lambda: len(lines(tmp_path / "history.jsonl")) == 4)
            tomorrow = (at[0] + timedelta(days=1)).isoformat(timespec="milliseconds")
            await eventually("waiting for tomorrow", lambda: tomorrow in output(task), 5.0)
            await asyncio.sleep(1.0)
            assert proc.returncode is None, output(task)
            code = await stopped(proc)
        orders = await store_orders(api)
    printed = output(task)
    assert code == 143, printed
    print("\norders after their openings (ms):", after_opening(orders, [at[0], at[1], at[3]]))
    assert [o["user"] for o in orders] == [a, b, c]
    assert all(0 <= late <= 100 for late in after_opening(orders, [at[0], at[1], at[3]]))
    records = lines(tmp_path / "history.jsonl")
    assert [r.result for r in records] == ["ordered", "ordered", "auth_failed", "ordered"]
    assert [r.opening_ms for r in records] == [ms(t) for t in at]
    assert [datetime.fromisoformat(r.opening) for r in records] == at
    ordered = [r.order_id for r in records if r.result == "ordered"]
    assert ordered == [o["order_id"] for o in orders]
    [told] = refused()
    assert str(cookie) in told["message"]
    assert "refused" in told["message"], told
    assert f"✓ {cookie} changed: going on" in printed
    for token in (a_token, b_token, c_token, dead):
        assert token not in printed
        assert all(token.encode() not in r.body for r in hook.got)
    assert "Traceback" not in printed


async def test_repeat_until_ordered_ends_at_the_first_order(
    start_store: StartStore, tmp_path: Path
) -> None:
    """``repeat_until: ordered`` over three openings: one order, one history line, exit 0 at
    once (the later openings never run)."""
    store = start_store()
    [(user, token)] = users(store, 1)
    at = openings(5, 11, 17)
    (tmp_path / "cookie.txt").write_text(f"session={token}\n")
    task = store_task(store, tmp_path, at, "repeat_until: ordered\n")
    async with sniper_run(task) as proc:
        code = await asyncio.wait_for(proc.wait(), (at[1] - at[0]).total_seconds() + 10)
        ended = time.time()
    printed = output(task)
    assert code == 0, printed
    assert ended < at[1].timestamp(), "ended only after the second opening"
    async with admin(store) as api:
        [order] = await store_orders(api)
    assert order["user"] == user
    [record] = lines(tmp_path / "history.jsonl")
    assert (record.result, record.opening_ms, record.order_id) == (
        "ordered",
        ms(at[0]),
        order["order_id"],
    )
    assert "no openings left (ordered)" in printed


async def test_learned_aim_meets_a_shop_that_opens_150_ms_late(tmp_path: Path) -> None:
    """``aim: learned`` over four openings of a shop that answers not_started until 150 ms past
    each published opening: after three, the aim is near +150 ms, and at the fourth the first
    order request after the real opening arrives within 10 ms of it, with at most
    ``concurrency`` + 2 before it."""
    at = openings(5, 10, 15, 20)
    published = [ms(t) for t in at]
    concurrency = 3
    async with LateShop(published, late_ms=150) as shop:
        task = tmp_path / "task.yaml"
        task.write_text(
            f'platform: store\nbase_url: "{shop.url}"\nsku_id: eggs\ncookie: "session=s1"\n'
            f"target_time: {times_of_day(at)}\nrepeat: daily\npreflight_s: 1\n"
            f"concurrency: {concurrency}\naim: learned\n"
            # The learned aim is as fine as the retry pace around the opening: the first
            # request seen open fixes it. At the default 5/s the retry after a not_started at
            # +0 comes at +200 ms, and the shop (open at +150) would be learned 50 ms late.
            "retry: {window_s: 2, rate_per_s: 200, burst: 5}\n"
            f"history_file: {tmp_path / 'history.jsonl'}\nlog_file: {tmp_path / 's.log'}\n"
        )
        async with sniper_run(task) as proc:
            await eventually(
                "four history lines",
                lambda: len(lines(tmp_path / "history.jsonl")) == 4,
                (at[-1] - at[0]).total_seconds() + BOUND_S,
            )
            code = await stopped(proc)
    assert code == 143, output(task)
    records = lines(tmp_path / "history.jsonl")
    assert [r.result for r in records] == ["ordered"] * 4, output(task)
    learned = aim.learned(records[:3], shop=records[0].shop, sku_id="eggs", window_ms=2000)
    print(f"\naim learned from three openings: {learned.offset_ms:+.1f} ms {learned.points}")
    print("aims used (ms):", [r.aim_ms for r in records])
    firsts, befores = [], []
    for p in published:
        opens = shop.opens_at(p)
        arrived = [o.at_ms - opens for o in shop.orders if p <= o.at_ms < p + 2000 + 500]
        before = [x for x in arrived if x < 0]
        after = [x for x in arrived if x >= 0]
        firsts.append(min(after))
        befores.append(len(before))
        print(
            f"opening {p}: first request {min(arrived):+.1f} ms from the real opening, first "
            f"after it {min(after):+.1f} ms, {len(before)} before it, {len(arrived)} in all"
        )
    assert abs(records[3].aim_ms - 150) <= 10
    assert records[3].aim_ms == pytest.approx(learned.offset_ms, abs=0.001)
    assert 0 <= firsts[3] <= 10
    assert befores[3] <= concurrency + 2
