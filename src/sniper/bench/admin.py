"""The store's admin API, as the benchmark and the demo use it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from sniper.errors import SniperError


class AdminError(SniperError):
    """The store refused an admin call."""


class StoreAdmin:
    """A thin client of ``/admin/*`` and ``/api/time``."""

    def __init__(self, url: str, token: str, timeout_s: float = 30.0) -> None:
        self._client = httpx.AsyncClient(
            base_url=url, timeout=timeout_s, headers={"Authorization": f"Bearer {token}"}
        )

    async def __aenter__(self) -> StoreAdmin:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AdminError(f"{method} {path}: {exc}") from exc
        if response.status_code >= 400:
            raise AdminError(f"{method} {path}: HTTP {response.status_code} {response.text[:200]}")
        return response.json()

    async def now_ms(self) -> int:
        """The store's clock."""
        return int((await self._call("GET", "/api/time"))["now_ms"])

    async def put_item(
        self,
        sku: str,
        *,
        stock: int,
        opening_ms: int,
        limit: int = 1,
        name: str | None = None,
        price_cents: int = 100,
    ) -> None:
        """Create or replace an item opening at ``opening_ms`` (store clock)."""
        start = datetime.fromtimestamp(opening_ms / 1000, tz=UTC).isoformat()
        await self._call(
            "PUT",
            f"/admin/items/{sku}",
            json={
                "name": name or sku,
                "price_cents": price_cents,
                "stock": stock,
                "sale_start": start,
                "limit_per_user": limit,
            },
        )

    async def make_users(self, count: int) -> list[tuple[str, str]]:
        """``count`` users with sessions: ``(user, token)``."""
        made: list[tuple[str, str]] = []
        while len(made) < count:
            batch = await self._call(
                "POST", "/admin/users", json={"count": min(10_000, count - len(made))}
            )
            made += [(u["user"], u["session"]) for u in batch["users"]]
        return made

    async def orders(self, sku: str) -> list[dict[str, Any]]:
        """Every order of the item."""
        orders: list[dict[str, Any]] = (await self._call("GET", f"/admin/orders?sku_id={sku}"))[
            "orders"
        ]
        return orders
