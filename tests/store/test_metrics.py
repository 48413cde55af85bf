"""/metrics: labelled by route template, never by raw path."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from sniper.store.metrics import StoreMetrics
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


def _all_samples(text: bytes) -> dict[str, float]:
    """Every sample, by name and labels."""
    found = re.findall(r"^(\S+) (\S+)$", text.decode(), flags=re.M)
    return {key: float(value) for key, value in found}


def _values(text: bytes) -> dict[str, float]:
    """Every sample but the ``_created`` stamps."""
    return {key: value for key, value in _all_samples(text).items() if "_created" not in key}


def test_counts_kept_in_plain_numbers_render_as_prometheus_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In one process requests and orders are counted apart from the registry and handed to
    it at a scrape: the text is what observing each one in Prometheus gives, bucket edges
    (``le`` counts a value equal to its bound) and all, and a second scrape adds nothing."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    kept, direct = StoreMetrics(), StoreMetrics()
    seen = [0.0, 0.0005, 0.0007, 0.001, 0.004, 0.3, 5.0, 7.5, 0.0005, 0.02]
    for n, elapsed in enumerate(seen):
        status = (201, 409, 409)[n % 3]
        kept.observe_request("POST", "/api/orders", status, elapsed)
        direct.requests.labels("POST", "/api/orders", str(status)).inc()
        direct.duration.labels("POST", "/api/orders").observe(elapsed)
        kept.count_order("sold_out", "cache")
        direct.orders.labels("sold_out", "cache").inc()
    expected = _values(direct.render())
    assert _values(kept.render()) == pytest.approx(expected)
    assert _values(kept.render()) == pytest.approx(expected)
    edge = 'http_request_duration_seconds_bucket{le="0.0005",method="POST",route="/api/orders"}'
    assert expected[edge] == 3


def test_a_series_begins_when_first_counted_not_when_scraped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Counts kept in plain numbers still make their series at the first count: the
    ``_created`` stamps say when the first request came, not when ``/metrics`` was read."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    now = [1_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    metrics = StoreMetrics()
    metrics.observe_request("POST", "/api/orders", 409, 0.001)
    metrics.count_order("sold_out", "cache")
    now[0] = 2_000.0
    stamps = {
        key: value for key, value in _all_samples(metrics.render()).items() if "_created" in key
    }
    assert stamps
    assert set(stamps.values()) == {1_000.0}
