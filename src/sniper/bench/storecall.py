"""Our own store's order request, and the code of its answer (``ok`` or the store's error)."""

from __future__ import annotations

import json

from sniper.client.connection import HttpCall, Response


def order_call(sku: str, token: str) -> HttpCall:
    """One user's order request."""
    body = json.dumps({"sku_id": sku, "qty": 1}).encode()
    return HttpCall(
        "POST",
        "/api/orders",
        (("Cookie", f"session={token}"), ("Content-Type", "application/json")),
        body,
    )


def answer_code(response: Response) -> str:
    """``ok`` for 200/201, else the store's error code (``http_<status>`` without one)."""
    if response.status in (200, 201):
        return "ok"
    try:
        code = json.loads(response.body).get("error")
    except (ValueError, AttributeError):
        code = None
    return code if isinstance(code, str) else f"http_{response.status}"
