"""The store's admin API, as the benchmark and the demo use it."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from typing import Any

import httpx

from sniper.errors import SniperError

#: Names one bulk removal may carry (the store's cap).
MAX_NAMES = 10_000


class AdminError(SniperError):
    """The store refused an admin call (``status``: its HTTP status; None when no answer came)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class StoreAdmin:
    """A thin client of ``/admin/*`` and ``/api/time``."""

    def __init__(
        self, url: str, token: str, timeout_s: float = 30.0, tls: ssl.SSLContext | None = None
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=url,
            timeout=timeout_s,
            headers={"Authorization": f"Bearer {token}"},
            verify=tls if tls is not None else True,
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
            raise AdminError(
                f"{method} {path}: HTTP {response.status_code} {response.text[:200]}",
                response.status_code,
            )
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

    async def make_users(
        self, count: int, into: list[tuple[str, str]] | None = None
    ) -> list[tuple[str, str]]:
        """``count`` users with sessions: ``(user, token)``, appended to ``into`` batch by batch
        (so that a failure partway still leaves the users made known)."""
        made: list[tuple[str, str]] = [] if into is None else into
        wanted = len(made) + count
        while len(made) < wanted:
            batch = await self._call(
                "POST", "/admin/users", json={"count": min(MAX_NAMES, wanted - len(made))}
            )
            made += [(u["user"], u["session"]) for u in batch["users"]]
        return made

    async def delete_item(self, sku: str) -> bool:
        """Remove an item (its orders stay); False when there is no such item."""
        try:
            await self._call("DELETE", f"/admin/items/{sku}")
        except AdminError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def delete_users(self, users: list[str]) -> int:
        """Remove users (their sessions revoked, their orders kept); how many there were."""
        removed = 0
        for start in range(0, len(users), MAX_NAMES):
            answer = await self._call(
                "POST", "/admin/users/delete", json={"users": users[start : start + MAX_NAMES]}
            )
            removed += int(answer["removed"])
        return removed

    async def orders(self, sku: str) -> list[dict[str, Any]]:
        """Every order of the item."""
        orders: list[dict[str, Any]] = (await self._call("GET", f"/admin/orders?sku_id={sku}"))[
            "orders"
        ]
        return orders
