"""A flash-sale opening against a store: item and users through the admin API, every user's
order at the opening instant, then the store's own order list checked for oversell."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sniper.bench.admin import StoreAdmin
from sniper.bench.at import IN_TWO_SECONDS, At, local_zone
from sniper.bench.at import opening_ms as at_ms
from sniper.bench.report import summarize
from sniper.bench.storecall import answer_code, order_call
from sniper.bench.volley import check_fd_room, fire_at, target_clock
from sniper.client.connection import Origin, ssl_context
from sniper.client.probe import TimeSource
from sniper.client.servertime import TimeEndpoint
from sniper.clock import Clock, SystemClock


@dataclass(frozen=True)
class BenchOptions:
    """What ``sniper bench`` was asked."""

    url: str
    admin_token: str
    users: int
    stock: int
    at: At = IN_TWO_SECONDS
    limit: int = 1
    timeout_s: float = 30.0
    ca_file: Path | None = None


async def run_bench(
    opts: BenchOptions, say: Callable[[str], None], clock: Clock | None = None
) -> dict[str, Any]:
    """Run one opening; its report (every shot in it). An opening that is not 0 to 1 h ahead on
    the store's clock is a ConfigError before anything is created."""
    clock = clock or SystemClock()
    check_fd_room(opts.users)
    origin = Origin.from_url(opts.url)
    tls = ssl_context(origin, opts.ca_file)
    sku = f"bench-{secrets.token_hex(4)}"
    async with StoreAdmin(opts.url, opts.admin_token) as admin:
        opening_ms = at_ms(opts.at, await admin.now_ms(), local_zone())
        await admin.put_item(sku, stock=opts.stock, opening_ms=opening_ms, limit=opts.limit)
        users = await admin.make_users(opts.users)
        say(f"item {sku}: stock {opts.stock}, limit {opts.limit}; {len(users)} users")
        est = await target_clock(
            origin,
            TimeSource(TimeEndpoint.api_time(origin)),
            clock,
            tls=tls,
            timeout_s=opts.timeout_s,
        )
        calls = [order_call(sku, token) for _, token in users]
        answers = await fire_at(
            origin,
            tls,
            calls,
            opening_ms=opening_ms,
            est=est,
            clock=clock,
            timeout_s=opts.timeout_s,
            say=say,
        )
        shots = [
            a.shot(user, i, est, answer_code)
            for i, (a, (user, _)) in enumerate(zip(answers, users, strict=True))
        ]
        orders = await admin.orders(sku)
    report = summarize(
        shots,
        stock=opts.stock,
        opening_ms=opening_ms,
        server_count=sum(int(o["qty"]) for o in orders),
        orders=orders,
        limit=opts.limit,
    )
    return {**report, "target": opts.url, "users": len(users)}
