"""/metrics: labelled by route template, never by raw path."""

from __future__ import annotations

import re

import httpx

from sniper.store.service import StoreService
from tests.conftest import T0_MS
from tests.store.helpers import make_users, put_item

Store = tuple[httpx.AsyncClient, StoreService]


def samples(text: str, name: str) -> dict[str, float]:
    """``{labels: value}`` of one metric family in exposition text."""
    found = re.findall(rf"^{name}{{(.*)}} (\S+)$", text, flags=re.M)
    return {labels: float(value) for labels, value in found}


async def test_routes_are_templates(store: Store) -> None:
    """Three different SKUs count under one ``/api/items/{sku_id}`` series."""
    client, _ = store
    await put_item(client, "eggs", stock=1, start_ms=T0_MS)
    for sku in ("eggs", "milk", "tea-1"):
        await client.get(f"/api/items/{sku}")
    await client.get("/no/such/path/12345")
    text = (await client.get("/metrics")).text
    requests = samples(text, "http_requests_total")
    assert requests['method="GET",route="/api/items/{sku_id}",status="200"'] == 1
    assert requests['method="GET",route="/api/items/{sku_id}",status="404"'] == 2
    assert requests['method="GET",route="<unmatched>",status="404"'] == 1
    for raw in ("milk", "tea-1", "12345", "eggs"):
        assert raw not in "".join(requests)


async def test_duration_in_flight_and_orders_by_result(store: Store) -> None:
    """A histogram per route, an in-flight gauge, and orders counted by result."""
    client, _ = store
    await put_item(client, "eggs", stock=1, start_ms=T0_MS)
    (_, ann), (_, bob) = await make_users(client, 2)
    for token in (ann, bob):
        await client.post(
            "/api/orders", json={"sku_id": "eggs"}, headers={"Cookie": f"session={token}"}
        )
    text = (await client.get("/metrics")).text
    counts = samples(text, "http_request_duration_seconds_count")
    assert counts['method="POST",route="/api/orders"'] == 2
    assert "http_requests_in_flight 1.0" in text  # the /metrics request itself
    orders = samples(text, "store_orders_total")
    assert orders['path="backend",result="created"'] == 1
    # The second is refused by the backend, or by the cache if its sold-out flag is already up.
    assert sum(v for k, v in orders.items() if 'result="sold_out"' in k) == 1
