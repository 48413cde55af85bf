"""How an order is stored in Redis (its hash and its stream): JSON of the API's fields and the
request id."""

from __future__ import annotations

import orjson

from sniper.store.models import Order


def order_json(order: Order) -> str:
    """An order as stored in Redis."""
    return orjson.dumps({**order.to_json(), "request_id": order.request_id}).decode()


def order_from_json(raw: str) -> Order:
    """The stored form back to an order."""
    d = orjson.loads(raw)
    return Order(
        d["order_id"], d["sku_id"], d["qty"], d["user"], d["created_ms"], d.get("request_id")
    )
