"""Many real clients at once: the shape of a flash-sale opening."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.e2e.store_process import StoreProcess


@dataclass
class Answer:
    """One order request's fate: a status and body, or the error that ended it."""

    user: str
    status: int | None
    body: dict[str, Any] | None
    error: str | None = None


def open_item(
    store: StoreProcess, sku: str, stock: int, *, limit: int = 1, opens_in_s: float = -1.0
) -> None:
    """Create an item that opens ``opens_in_s`` from now on the store's clock."""
    now_ms = httpx.get(f"{store.url}/api/time").json()["now_ms"]
    start = datetime.fromtimestamp(now_ms / 1000 + opens_in_s, tz=UTC).isoformat()
    response = store.admin(
        "PUT",
        f"/admin/items/{sku}",
        json={
            "name": sku,
            "price_cents": 100,
            "stock": stock,
            "sale_start": start,
            "limit_per_user": limit,
        },
    )
    assert response.status_code == 200, response.text


def users(store: StoreProcess, count: int) -> list[tuple[str, str]]:
    """``count`` users with sessions, made through the admin API."""
    made: list[tuple[str, str]] = []
    while len(made) < count:
        n = min(10_000, count - len(made))
        response = store.admin("POST", "/admin/users", json={"count": n})
        assert response.status_code == 201, response.text
        made += [(u["user"], u["session"]) for u in response.json()["users"]]
    return made


async def fire(
    url: str,
    crowd: list[tuple[str, str]],
    body: dict[str, Any],
    *,
    on_answer: Any = None,
    limit_s: float = 60.0,
    spread_s: float = 0.0,
) -> list[Answer]:
    """Every user of ``crowd`` posts ``body`` at once (or spread evenly over ``spread_s``),
    each on its own connection."""
    limits = httpx.Limits(max_connections=len(crowd), max_keepalive_connections=len(crowd))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=limit_s) as client:
        gate = asyncio.Event()

        async def one(index: int, user: str, token: str) -> Answer:
            await gate.wait()
            if spread_s:
                await asyncio.sleep(spread_s * index / len(crowd))
            try:
                response = await client.post(
                    "/api/orders", json=body, headers={"Cookie": f"session={token}"}
                )
            except httpx.HTTPError as exc:
                return Answer(user, None, None, type(exc).__name__)
            answer = Answer(user, response.status_code, response.json())
            if on_answer is not None:
                on_answer(answer)
            return answer

        tasks = [asyncio.create_task(one(i, u, t)) for i, (u, t) in enumerate(crowd)]
        await asyncio.sleep(0)
        gate.set()
        started = time.monotonic()
        answers = await asyncio.gather(*tasks)
        assert time.monotonic() - started < limit_s + 5
        return answers
