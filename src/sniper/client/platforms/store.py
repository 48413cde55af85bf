"""The ``store`` platform: this project's own store API."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TypeGuard
from urllib.parse import quote

from sniper.client.connection import Connection, ConnectionBroken, HttpCall, Response
from sniper.client.outcome import Kind, Verdict, by_status, json_body, order_id
from sniper.client.platforms.base import LOGIN, Platform, Probe
from sniper.rfc3339 import parse_rfc3339

_BY_CODE = {
    "sold_out": Kind.SOLD_OUT,
    "limit_reached": Kind.LIMIT_REACHED,
    "not_started": Kind.NOT_STARTED,
    "rate_limited": Kind.RATE_LIMITED,
    "unauthorized": Kind.AUTH,
    "unavailable": Kind.RETRY,
    # The store may have placed it: the next try (same request id) gets it back as a 200.
    "outcome_unknown": Kind.UNKNOWN,
}


#: An order of this opening is created no earlier than this before it on the store's clock (our
#: requests arrive at the opening, give or take the clock's uncertainty).
_EARLY_MS = 1000


class StorePlatform(Platform):
    """Orders through ``POST /api/orders`` with the session cookie."""

    name = "store"
    one_order_per_request_id = True

    def _headers(self) -> tuple[tuple[str, str], ...]:
        return (("Cookie", self.cookie), ("Accept", "application/json"))

    def order_call(self, request_id: str) -> HttpCall:
        """``POST /api/orders`` with the sku, quantity and this run's request id."""
        body = json.dumps(
            {"sku_id": self.task.sku_id, "qty": self.task.qty, "request_id": request_id},
            separators=(",", ":"),
        ).encode()
        return HttpCall(
            "POST", "/api/orders", (*self._headers(), ("Content-Type", "application/json")), body
        )

    def classify(self, response: Response) -> Verdict:
        """By status, then by the store's error code."""
        if response.status in (200, 201):
            found = order_id(_field(response, "order_id"))
            if found is None:
                return Verdict(Kind.RETRY, detail="success without an order id")
            return Verdict(Kind.ORDERED, order_id=found)
        code = _error_code(response)
        kind = _BY_CODE.get(code or "")
        if kind is not None:
            fallback = by_status(response)
            retry_after = fallback.retry_after_s if fallback else None
            return Verdict(kind, retry_after_s=retry_after, detail=code or "")
        return by_status(response) or Verdict(
            Kind.FATAL, detail=f"HTTP {response.status} {code or ''}".strip()
        )

    def time_call(self) -> HttpCall:
        """``GET /api/time``."""
        return HttpCall("GET", "/api/time", (("Accept", "application/json"),))

    def warm_call(self) -> HttpCall:
        """``GET /api/time`` again: cheap, and one more clock sample."""
        return self.time_call()

    def probes(self) -> list[Probe]:
        """The item exists, and the session is accepted (``GET /api/orders?sku_id=`` with the
        cookie: 200 while the session is good; it also has the store load the session before
        the opening)."""
        sku = quote(self.task.sku_id, safe="")
        return [
            Probe(
                "item",
                HttpCall("GET", f"/api/items/{sku}"),
                missing=f"sku_id: the store has no item {self.task.sku_id!r}",
            ),
            Probe(LOGIN, HttpCall("GET", f"/api/orders?sku_id={sku}", self._headers())),
        ]

    def sale_start(self, probe: Probe, response: Response) -> datetime | None:
        """The item's ``sale_start``, from the item probe's answer."""
        if probe.label != "item" or response.status != 200:
            return None
        try:
            return parse_rfc3339(json.loads(response.body)["sale_start"])
        except (ValueError, KeyError, TypeError):
            return None

    async def existing_order(self, conn: Connection, timeout_s: float) -> str | None:
        """``GET /api/orders?sku_id=``: this account's orders of the item; for a task whose
        openings repeat, only one placed at this opening (an earlier opening's order is not
        this one's)."""
        sku = quote(self.task.sku_id, safe="")
        try:
            response = await conn.request(
                HttpCall("GET", f"/api/orders?sku_id={sku}", self._headers()), timeout_s
            )
        except ConnectionBroken:
            return None
        orders = _field(response, "orders") if response.status == 200 else None
        if not isinstance(orders, list):
            return None
        since = self.task.target_ms - _EARLY_MS if self.task.openings.repeats else None
        for order in orders:
            if not isinstance(order, dict):
                continue
            created = order.get("created_ms")
            if since is not None and not (_is_number(created) and created >= since):
                continue
            return order_id(order.get("order_id"))
        return None


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _field(response: Response, name: str) -> object:
    """A top-level field of a JSON object body, or None."""
    data = json_body(response)
    return data.get(name) if isinstance(data, dict) else None


def _error_code(response: Response) -> str | None:
    code = _field(response, "error")
    return code if isinstance(code, str) else None
