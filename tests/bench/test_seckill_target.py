"""The seckill target the bench is tested against (not our store), over real HTTP to its own
process. A burst is 200 clients, each on a connection opened beforehand, their order requests
written one right after another, as a bench fires them."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import yaml

from sniper.client.config import ClockConfig, HttpRequest, HttpRules
from sniper.client.connection import Connection, HttpCall, Origin
from sniper.clock import SystemClock
from tests.bench.conftest import StartTarget
from tests.bench.target_fixture import SeckillTarget

STOCK = 50
USERS = 180
DUPLICATES = 20  # 200 rows in all


@dataclass(frozen=True)
class Answer:
    """What one row's order request got."""

    user: str
    status: int
    body: dict[str, Any]


def order_bytes(user: str, token: str, rid: str, sku: str = "S1") -> bytes:
    """One ``POST /seckill`` as a client sends it."""
    body = json.dumps({"user": user, "sku": sku, "rid": rid}).encode()
    head = (
        "POST /seckill HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, Any]]:
    """One response's status and JSON body."""
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in head[1:] if line)
    body = await reader.readexactly(int(headers["content-length"]))
    return int(head[0].split(" ")[1]), json.loads(body)


async def burst(target: SeckillTarget, rows: list[tuple[str, str]]) -> list[Answer]:
    """Every row's order at once, each on its own connection; the answers in row order."""
    conns = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", target.port) for _ in rows))
    try:
        for index, ((_, writer), (user, token)) in enumerate(zip(conns, rows, strict=True)):
            writer.write(order_bytes(user, token, f"r{index}", target.sku))
        reads = asyncio.gather(*(read_answer(reader) for reader, _ in conns))
        answers = await asyncio.wait_for(reads, 30)
    finally:
        for _, writer in conns:
            writer.close()
    return [Answer(user, *answer) for (user, _), answer in zip(rows, answers, strict=True)]


async def burst_with_duplicates_first(
    start_target: StartTarget, mode: str
) -> tuple[SeckillTarget, list[Answer]]:
    """A target in ``mode`` (50 units, 180 users, 20 with two sessions), and a burst of its 200
    rows, the second sessions first so that both sessions of a buyer come while stock is left."""
    target = start_target(mode=mode, stock=STOCK, users=USERS, duplicate_buyers=DUPLICATES)
    rows = target.users()
    return target, await burst(target, rows[USERS:] + rows[:USERS])


def codes(answers: list[Answer]) -> Counter[str]:
    """How many answers of each kind: ``ok``, or the ``err`` the target gave."""
    return Counter("ok" if a.status == 200 else a.body["err"] for a in answers)


def units_per_buyer(answers: list[Answer]) -> Counter[str]:
    """How many units each buyer got."""
    return Counter(a.user for a in answers if a.status == 200)


class TestBursts:
    """200 concurrent clients against each mode."""

    async def test_ok_sells_the_stock_exactly_once_per_buyer(
        self, start_target: StartTarget
    ) -> None:
        """``ok``: 50 units to 50 buyers, the second session of each two-session buyer refused
        with ``limit``, everyone else sold out; its own count says 50."""
        target, answers = await burst_with_duplicates_first(start_target, "ok")
        assert codes(answers) == {"ok": STOCK, "limit": DUPLICATES, "sold_out": 130}
        assert max(units_per_buyer(answers).values()) == 1
        assert len({a.body["order"] for a in answers if a.status == 200}) == STOCK
        assert target.sold() == STOCK

    async def test_oversell_sells_more_than_the_stock(self, start_target: StartTarget) -> None:
        """``oversell``: more successes than units, and its own count says so too."""
        target, answers = await burst_with_duplicates_first(start_target, "oversell")
        oks = codes(answers)["ok"]
        assert oks > STOCK
        assert target.sold() == oks

    async def test_undersell_refuses_with_stock_left(self, start_target: StartTarget) -> None:
        """``undersell``: buyers told sold out while units are left."""
        target, answers = await burst_with_duplicates_first(start_target, "undersell")
        found = codes(answers)
        assert found["ok"] < STOCK
        assert found["sold_out"] > 0
        assert target.sold() == found["ok"]

    async def test_double_gives_a_buyer_with_two_sessions_two_units(
        self, start_target: StartTarget
    ) -> None:
        """``double``: each two-session buyer gets two orders; the stock still holds."""
        target, answers = await burst_with_duplicates_first(start_target, "double")
        per_buyer = units_per_buyer(answers)
        assert sorted(u for u, units in per_buyer.items() if units == 2) == [
            user for user, _ in target.users()[USERS:]
        ]
        assert codes(answers)["ok"] == STOCK == target.sold()

    async def test_arrivals_are_every_order_request_in_order(
        self, start_target: StartTarget
    ) -> None:
        """``/arrivals``: one per request, with its user, on the target's (here: this machine's)
        clock, in the order read."""
        before = time.time() * 1000
        target, answers = await burst_with_duplicates_first(start_target, "ok")
        after = time.time() * 1000
        arrivals = target.arrivals()
        assert Counter(user for user, _ in arrivals) == Counter(a.user for a in answers)
        times = [ms for _, ms in arrivals]
        assert times == sorted(times)
        assert before <= times[0] <= times[-1] <= after


class TestRequests:
    """Single requests: sessions, idempotency, the other routes."""

    def test_a_token_must_be_that_users(self, start_target: StartTarget) -> None:
        """401 for an unknown token, another user's token and no token; the user's own: 200."""
        target = start_target()
        (alice, alice_token), (_, bob_token) = target.users()[:2]
        body = {"user": alice, "sku": "S1", "rid": "r1"}
        for headers in (
            {"Authorization": "Bearer nope"},
            {"Authorization": f"Bearer {bob_token}"},
            {},
        ):
            response = httpx.post(f"{target.url}/seckill", json=body, headers=headers)
            assert (response.status_code, response.json()) == (401, {"err": "unauthorized"})
        assert target.sold() == 0
        own = {"Authorization": f"Bearer {alice_token}"}
        assert httpx.post(f"{target.url}/seckill", json=body, headers=own).status_code == 200
        assert target.sold() == 1

    def test_the_same_rid_answers_the_same_order(self, start_target: StartTarget) -> None:
        """The same session and ``rid`` again: the same order; a new ``rid``: ``limit``."""
        target = start_target()
        user, token = target.users()[0]
        with httpx.Client(base_url=target.url, headers={"Authorization": f"Bearer {token}"}) as c:
            first, again, other = (
                c.post("/seckill", json={"user": user, "sku": "S1", "rid": rid})
                for rid in ("r1", "r1", "r2")
            )
            assert first.status_code == again.status_code == 200
            assert first.json() == again.json()
            assert (other.status_code, other.json()) == (409, {"err": "limit"})
        assert target.sold() == 1

    def test_bad_requests(self, start_target: StartTarget) -> None:
        """Not JSON, no ``rid``: 400; another SKU: 404; nothing sold."""
        target = start_target()
        user, token = target.users()[0]
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=target.url, headers=auth) as client:
            assert client.post("/seckill", content=b"{").status_code == 400
            assert client.post("/seckill", json={"user": user, "sku": "S1"}).status_code == 400
            wrong_sku = {"user": user, "sku": "S2", "rid": "r1"}
            assert client.post("/seckill", json=wrong_sku).status_code == 404
        assert target.sold() == 0

    async def test_the_bench_connection_keeps_alive(self, start_target: StartTarget) -> None:
        """The sniper's own preheated connection (what a bench fires on) reads the answers and
        carries an order, its retry and a count on one socket."""
        target = start_target()
        user, token = target.users()[0]
        body = json.dumps({"user": user, "sku": "S1", "rid": "r1"}).encode()
        headers = (("Authorization", f"Bearer {token}"), ("Content-Type", "application/json"))
        order = HttpCall("POST", "/seckill", headers, body)
        conn = Connection(Origin.from_url(target.url), SystemClock())
        await conn.open(5)
        try:
            first = await conn.request(order, 5)
            again = await conn.request(order, 5)
            count = await conn.request(HttpCall("GET", "/count?sku=S1"), 5)
        finally:
            await conn.aclose()
        assert (first.status, again.status) == (200, 200)
        assert first.body == again.body
        assert json.loads(count.body) == {"sold": 1}

    def test_time_is_the_targets_clock_and_date_is_sent(self, start_target: StartTarget) -> None:
        """``/time`` is epoch ms; every answer carries a ``Date`` header."""
        target = start_target()
        before = int(time.time() * 1000)
        response = httpx.get(f"{target.url}/time")
        assert before <= response.json()["now_ms"] <= time.time() * 1000
        assert response.headers["date"].endswith(" GMT")


class TestFiles:
    """The users file the target writes and the bench file the fixture writes for it."""

    def test_users_file(self, start_target: StartTarget) -> None:
        """A ``user,token`` header; the users in order, then a second session for the first
        two; every token different."""
        target = start_target(users=5, duplicate_buyers=2)
        assert target.users_file.read_text().splitlines()[0] == "user,token"
        rows = target.users()
        assert [user for user, _ in rows] == [
            *("u0001", "u0002", "u0003", "u0004", "u0005"),
            *("u0001", "u0002"),
        ]
        assert len({token for _, token in rows}) == 7

    def test_bench_file_is_the_http_platforms_format(self, start_target: StartTarget) -> None:
        """The bench file's request, rules and clock read as the ``http`` platform's; its users,
        stock and count point at this target; ``count`` and ``clock`` can be left out."""
        target = start_target(stock=7)
        bench = yaml.safe_load(target.write_bench(target.folder).read_text())
        request = HttpRequest.model_validate(bench["request"])
        assert request.url == f"{target.url}/seckill"
        assert request.headers["Authorization"] == "Bearer {token}"
        assert json.loads(request.body or "") == {
            "user": "{user}",
            "sku": "S1",
            "rid": "{request_id}",
        }
        rules = HttpRules.model_validate(bench["rules"])
        assert rules.success_status == [200]
        assert ClockConfig.model_validate(bench["clock"]).url == f"{target.url}/time"
        assert (bench["users"], bench["stock"]) == (str(target.users_file), 7)
        assert bench["count"] == {"url": f"{target.url}/count?sku=S1", "json": "sold"}
        bare = yaml.safe_load(
            target.write_bench(target.folder, count=False, clock=False).read_text()
        )
        assert "count" not in bare
        assert "clock" not in bare
