"""Many real clients at once: the shape of a flash-sale opening."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
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
    request_id: str | None = None


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
    request_ids: bool = False,
) -> list[Answer]:
    """Every user of ``crowd`` posts ``body`` at once (or spread evenly over ``spread_s``),
    each on its own connection; with ``request_ids``, each with a request id of its own (see
    :func:`settle`)."""
    limits = httpx.Limits(max_connections=len(crowd), max_keepalive_connections=len(crowd))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=limit_s) as client:
        gate = asyncio.Event()

        async def one(index: int, user: str, token: str) -> Answer:
            await gate.wait()
            if spread_s:
                await asyncio.sleep(spread_s * index / len(crowd))
            request_id = f"once-{user}" if request_ids else None
            sent = body if request_id is None else {**body, "request_id": request_id}
            try:
                response = await client.post(
                    "/api/orders", json=sent, headers={"Cookie": f"session={token}"}
                )
            except httpx.HTTPError as exc:
                return Answer(user, None, None, type(exc).__name__, request_id)
            answer = Answer(user, response.status_code, response.json(), None, request_id)
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


async def fire_across(
    replicas: list[StoreProcess], crowd: list[tuple[str, str]], body: dict[str, Any], **kw: Any
) -> list[list[Answer]]:
    """The crowd dealt over the replicas (user i to replica i mod n), every part fired at once
    (:func:`fire`'s keywords); each replica's answers, in the replicas' order."""
    n = len(replicas)
    parts = [fire(r.url, crowd[i::n], body, **kw) for i, r in enumerate(replicas)]
    return list(await asyncio.gather(*parts))


async def settle(
    url: str, crowd: list[tuple[str, str]], answers: list[Answer], body: dict[str, Any]
) -> list[Answer]:
    """Each request that got no answer sent once more with its request id (as its client would,
    to learn what became of it), the others as they were."""
    tokens = dict(crowd)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:

        async def again(answer: Answer) -> Answer:
            if answer.status is not None or answer.request_id is None:
                return answer
            response = await client.post(
                "/api/orders",
                json={**body, "request_id": answer.request_id},
                headers={"Cookie": f"session={tokens[answer.user]}"},
            )
            return Answer(
                answer.user, response.status_code, response.json(), None, answer.request_id
            )

        return list(await asyncio.gather(*(again(a) for a in answers)))


#: A shot whose connection ended with no answer (its client cannot know what became of it).
NO_ANSWER = 0


@dataclass
class Shot:
    """One request of a flood: its status (``NO_ANSWER`` if none came) and body, its request
    id if it had one, its ``Retry-After``, and when it left and its answer came (monotonic)."""

    token: str
    status: int
    body: dict[str, Any]
    request_id: str | None = None
    retry_after: str | None = None
    sent: float = 0.0
    answered: float = 0.0


async def flood(
    url: str,
    crowd: list[tuple[str, str]],
    body: dict[str, Any],
    *,
    until: float,
    stop: asyncio.Event | None = None,
    request_ids: bool = False,
    max_each: int = 500,
    timeout_s: float = 60.0,
    on_shot: Callable[[Shot], None] | None = None,
) -> list[Shot]:
    """Every user of ``crowd`` posts ``body`` back to back, each on its own connection, until
    ``until`` (monotonic) or until ``stop`` is set, at most ``max_each`` times; with
    ``request_ids``, each request with a request id of its own; ``on_shot`` hears of each
    answer as it comes."""
    limits = httpx.Limits(max_connections=len(crowd), max_keepalive_connections=len(crowd))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout_s) as client:

        async def one(token: str) -> list[Shot]:
            shots: list[Shot] = []
            for n in range(max_each):
                if time.monotonic() >= until or (stop is not None and stop.is_set()):
                    break
                request_id = f"flood-{n}" if request_ids else None
                sent = body if request_id is None else {**body, "request_id": request_id}
                started = time.monotonic()
                try:
                    response = await client.post(
                        "/api/orders", json=sent, headers={"Cookie": f"session={token}"}
                    )
                except httpx.TransportError:  # the connection ended with no answer
                    shot = Shot(token, NO_ANSWER, {}, request_id, None, started, time.monotonic())
                else:
                    shot = Shot(
                        token,
                        response.status_code,
                        _json(response),
                        request_id,
                        response.headers.get("retry-after"),
                        started,
                        time.monotonic(),
                    )
                shots.append(shot)
                if on_shot is not None:
                    on_shot(shot)
            return shots

        # A task group, not gather: if one client fails, the others are cancelled before the
        # client closes, so that no socket outlives the test (and fails the next one).
        async with asyncio.TaskGroup() as group:
            results = [group.create_task(one(token)) for _, token in crowd]
    return [shot for shots in results for shot in shots.result()]


def _json(response: httpx.Response) -> dict[str, Any]:
    """The body as JSON, or (an answer that is not the store's JSON) its start as ``text``."""
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        return {"text": response.text[:200]}
    return body
