"""Every user's order at one instant, each on its own preheated keep-alive connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from sniper.bench.report import Shot
from sniper.client.connection import Connection, ConnectionBroken, HttpCall
from sniper.client.schedule import coarse_sleep_ms
from sniper.client.timesync import Estimate
from sniper.clock import Clock


def order_call(sku: str, token: str) -> HttpCall:
    """One user's order request."""
    body = json.dumps({"sku_id": sku, "qty": 1}).encode()
    return HttpCall(
        "POST",
        "/api/orders",
        (("Cookie", f"session={token}"), ("Content-Type", "application/json")),
        body,
    )


async def fire(
    conns: Sequence[Connection],
    users: Sequence[tuple[str, str]],
    sku: str,
    *,
    send_at: float,
    clock: Clock,
    est: Estimate,
    timeout_s: float,
) -> list[Shot]:
    """Prepare every request, wait for ``send_at`` (local monotonic ms), write them all, and
    read every answer (bounded by ``timeout_s``). The shots' times are on the store's clock
    by ``est``; an answer's less half the round trip (about when the store answered)."""
    for conn, (_, token) in zip(conns, users, strict=True):
        conn.prepare(order_call(sku, token))
    now = clock.monotonic() * 1000
    await asyncio.sleep(coarse_sleep_ms(now, send_at) / 1000)
    while clock.monotonic() * 1000 < send_at:
        pass
    sent = [conn.fire() for conn in conns]

    def shot(index: int, done_at: float, status: int | None, code: str) -> Shot:
        sent_ms = est.server_time(sent[index])
        done_ms = est.server_time(done_at) - est.rtt / 2
        return Shot(users[index][0], sent_ms, done_ms, status, code, index)

    async def answer(index: int, conn: Connection) -> Shot:
        try:
            response = await conn.read_response(timeout_s)
        except ConnectionBroken as exc:
            kind = "timeout" if "no answer" in str(exc) else "connection_error"
            return shot(index, clock.monotonic() * 1000, None, kind)
        return shot(
            index, response.received_at, response.status, _code(response.status, response.body)
        )

    return list(await asyncio.gather(*(answer(i, c) for i, c in enumerate(conns))))


def _code(status: int, body: bytes) -> str:
    if status in (200, 201):
        return "ok"
    try:
        code = json.loads(body).get("error")
    except (ValueError, AttributeError):
        code = None
    return code if isinstance(code, str) else f"http_{status}"
