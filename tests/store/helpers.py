"""Small helpers for tests that drive the store's API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import ADMIN


def rfc3339(ms: int) -> str:
    """An epoch-ms instant as RFC 3339 in UTC."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


async def put_item(
    client: httpx.AsyncClient, sku: str, *, stock: int, start_ms: int, limit: int = 1
) -> dict[str, Any]:
    """Create or replace an item through the admin API."""
    response = await client.put(
        f"/admin/items/{sku}",
        headers=ADMIN,
        json={
            "name": f"item {sku}",
            "price_cents": 100,
            "stock": stock,
            "sale_start": rfc3339(start_ms),
            "limit_per_user": limit,
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def make_users(client: httpx.AsyncClient, count: int) -> list[tuple[str, str]]:
    """``count`` users with sessions: ``(user, token)`` pairs."""
    response = await client.post("/admin/users", headers=ADMIN, json={"count": count})
    assert response.status_code == 201, response.text
    return [(u["user"], u["session"]) for u in response.json()["users"]]
