"""Every user's order at one instant, each on its own preheated keep-alive connection."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Sequence

from sniper.bench.report import Shot
from sniper.client.connection import Connection, ConnectionBroken, HttpCall, Origin
from sniper.client.schedule import coarse_sleep_ms
from sniper.clock import Clock

#: Connections are opened this many at a time (a listen backlog is finite).
OPEN_AT_ONCE = 256


async def open_connections(
    origin: Origin, count: int, clock: Clock, tls: ssl.SSLContext | None, timeout_s: float
) -> list[Connection]:
    """``count`` open connections (bounded concurrency while opening); if any fails, none is
    left open and the failure is raised."""
    conns = [Connection(origin, clock, tls) for _ in range(count)]
    gate = asyncio.Semaphore(OPEN_AT_ONCE)

    async def open_one(conn: Connection) -> None:
        async with gate:
            await conn.open(timeout_s)

    results = await asyncio.gather(*(open_one(c) for c in conns), return_exceptions=True)
    failed = next((r for r in results if isinstance(r, BaseException)), None)
    if failed is not None:
        await close_all(conns)
        raise failed
    return conns


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
    timeout_s: float,
) -> list[Shot]:
    """Prepare every request, wait for ``send_at`` (local monotonic ms), write them all, and
    read every answer (bounded by ``timeout_s``)."""
    for conn, (_, token) in zip(conns, users, strict=True):
        conn.prepare(order_call(sku, token))
    now = clock.monotonic() * 1000
    await asyncio.sleep(coarse_sleep_ms(now, send_at) / 1000)
    while clock.monotonic() * 1000 < send_at:
        pass
    sent = [conn.fire() for conn in conns]

    async def answer(conn: Connection, user: str, sent_at: float) -> Shot:
        try:
            response = await conn.read_response(timeout_s)
        except ConnectionBroken as exc:
            return Shot(
                user,
                sent_at,
                clock.monotonic() * 1000,
                None,
                "timeout" if "no answer" in str(exc) else "connection_error",
            )
        return Shot(
            user,
            sent_at,
            response.received_at,
            response.status,
            _code(response.status, response.body),
        )

    return list(
        await asyncio.gather(
            *(answer(c, u, s) for c, (u, _), s in zip(conns, users, sent, strict=True))
        )
    )


def _code(status: int, body: bytes) -> str:
    if status in (200, 201):
        return "ok"
    try:
        code = json.loads(body).get("error")
    except (ValueError, AttributeError):
        code = None
    return code if isinstance(code, str) else f"http_{status}"


async def close_all(conns: Sequence[Connection]) -> None:
    """Close every connection."""
    await asyncio.gather(*(c.aclose() for c in conns), return_exceptions=True)
