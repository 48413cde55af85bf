"""A flash-sale opening against a store: item and users through the admin API, every user's
order at the opening instant, then the store's own order list checked for oversell."""

from __future__ import annotations

import asyncio
import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sniper.bench.admin import StoreAdmin
from sniper.bench.at import At
from sniper.bench.at import opening_ms as at_ms
from sniper.bench.burst import fire
from sniper.bench.report import summarize
from sniper.client.connection import Connection, Origin, ssl_context
from sniper.client.pool import opened
from sniper.client.probe import TimeSource, measure, wall_offset
from sniper.client.servertime import TimeEndpoint
from sniper.clock import Clock, SystemClock


def local_zone() -> tzinfo:
    """This machine's time zone (for a time of day without an offset)."""
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


_IN_TWO_SECONDS = At(delay_s=2.0)

#: Connections are opened this long before the send (plus a little per connection, so that
#: thousands are open in time), well inside a store's header timeout.
OPEN_LEAD_MS, OPEN_LEAD_PER_CONN_MS, OPEN_LEAD_MAX_MS = 1000.0, 0.2, 5000.0


def open_lead_ms(connections: int) -> float:
    """How long before the send ``connections`` connections start opening."""
    return min(OPEN_LEAD_MAX_MS, OPEN_LEAD_MS + OPEN_LEAD_PER_CONN_MS * connections)


@dataclass(frozen=True)
class BenchOptions:
    """What ``sniper bench`` was asked."""

    url: str
    admin_token: str
    users: int
    stock: int
    at: At = _IN_TWO_SECONDS
    limit: int = 1
    timeout_s: float = 30.0
    ca_file: Path | None = None


async def run_bench(
    opts: BenchOptions, say: Callable[[str], None], clock: Clock | None = None
) -> dict[str, Any]:
    """Run one opening; its report (every shot in it). An opening that is not 0 to 1 h ahead on
    the store's clock is a ConfigError before anything is created."""
    clock = clock or SystemClock()
    origin = Origin.from_url(opts.url)
    tls = ssl_context(origin, opts.ca_file)
    sku = f"bench-{secrets.token_hex(4)}"
    async with StoreAdmin(opts.url, opts.admin_token) as admin:
        opening_ms = at_ms(opts.at, await admin.now_ms(), local_zone())
        await admin.put_item(sku, stock=opts.stock, opening_ms=opening_ms, limit=opts.limit)
        users = await admin.make_users(opts.users)
        say(f"item {sku}: stock {opts.stock}, limit {opts.limit}; {len(users)} users")
        probe = Connection(origin, clock, tls)
        await probe.open(opts.timeout_s)
        try:
            source = TimeSource(TimeEndpoint.api_time(origin))
            est, _ = await measure(probe, source, clock, timeout_s=opts.timeout_s)
        finally:
            await probe.aclose()
        send_at = est.local_time(opening_ms) - est.rtt / 2
        # A store closes a connection that stays silent past its header timeout (10 s by
        # default): the connections are opened only shortly before the opening.
        await asyncio.sleep(
            max(0.0, send_at - open_lead_ms(len(users)) - clock.monotonic() * 1000) / 1000
        )
        new = functools.partial(Connection, origin, clock, tls)
        async with opened(new, len(users), opts.timeout_s) as conns:
            say(
                f"{len(conns)} connections open; firing at the opening "
                f"(server clock {wall_offset(est, clock):+.1f} ms "
                f"from here)"
            )
            shots = await fire(
                conns, users, sku, send_at=send_at, clock=clock, est=est, timeout_s=opts.timeout_s
            )
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
