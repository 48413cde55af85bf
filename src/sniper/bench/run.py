"""A flash-sale opening against a store: item and users through the admin API, every user's
order at the opening instant, then the store's own order list checked for oversell; the item and
users are removed afterwards (their orders stay) unless kept."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sniper.bench.admin import AdminError, StoreAdmin
from sniper.bench.at import IN_TWO_SECONDS, At, local_zone
from sniper.bench.at import opening_ms as at_ms
from sniper.bench.report import summarize
from sniper.bench.storecall import answer_code, order_call
from sniper.bench.volley import fire_at, shown_url, target_clock
from sniper.client.connection import Origin, ssl_context
from sniper.client.probe import TimeSource
from sniper.client.servertime import TimeEndpoint
from sniper.clock import Clock, SystemClock
from sniper.fdlimit import check_fd_room


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
    #: Leave the item and users on the store after the run (else they are removed).
    keep: bool = False


def _stderr(line: str) -> None:
    print(f"warning: {line}", file=sys.stderr)


async def run_bench(
    opts: BenchOptions,
    say: Callable[[str], None],
    clock: Clock | None = None,
    warn: Callable[[str], None] = _stderr,
) -> dict[str, Any]:
    """Run one opening; its report (every shot in it). An opening that is not 0 to 1 h ahead on
    the store's clock is a ConfigError before anything is created. The item and users made are
    removed afterwards, whether the run ended well or not, unless ``opts.keep``; ``say`` tells
    which in one line, ``warn`` what could not be removed (the run's result stands)."""
    clock = clock or SystemClock()
    check_fd_room(opts.users)
    origin = Origin.from_url(opts.url)
    tls = ssl_context(origin, opts.ca_file)
    sku = f"bench-{secrets.token_hex(4)}"
    made_item = False
    users: list[tuple[str, str]] = []
    async with StoreAdmin(opts.url, opts.admin_token, opts.timeout_s, tls) as admin:
        try:
            opening_ms = at_ms(opts.at, await admin.now_ms(), local_zone())
            await admin.put_item(sku, stock=opts.stock, opening_ms=opening_ms, limit=opts.limit)
            made_item = True
            await admin.make_users(opts.users, into=users)
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
        finally:
            made = Made(sku if made_item else None, [user for user, _ in users])
            await made.clean_up(admin, opts.keep, say, warn)
    report = summarize(
        shots,
        stock=opts.stock,
        opening_ms=opening_ms,
        server_count=sum(int(o["qty"]) for o in orders),
        orders=orders,
        limit=opts.limit,
    )
    return {
        **report,
        "target": shown_url(opts.url),
        "users": len(users),
        "arrival_spread_ms": arrival_spread_ms(orders),
    }


def arrival_spread_ms(orders: Sequence[dict[str, Any]]) -> float | None:
    """From the first order to the last as the store stamped them (``created_ms``): the orders'
    arrival spread, beside the requests' send spread (None with no order)."""
    stamps = [int(o["created_ms"]) for o in orders]
    return float(max(stamps) - min(stamps)) if stamps else None


@dataclass(frozen=True)
class Made:
    """What a run made on the store: its item (None: not made) and its users' names."""

    sku: str | None
    users: list[str]

    def describe(self, item: bool = True, users: int | None = None) -> str:
        """``item bench-… and N users``: the item (when ``item``) and ``users`` (default: all)."""
        count = len(self.users) if users is None else users
        parts = [f"item {self.sku}"] if item and self.sku is not None else []
        if count:
            parts.append(f"{count} user{'' if count == 1 else 's'}")
        return " and ".join(parts)

    async def clean_up(
        self,
        admin: StoreAdmin,
        keep: bool,
        say: Callable[[str], None],
        warn: Callable[[str], None],
    ) -> None:
        """Remove the item and the users (their orders stay), or keep them; one line says
        which, and one warning each for what could not be removed."""
        if self.sku is None and not self.users:
            return
        if keep:
            say(f"kept on the store (--keep): {self.describe()}")
            return
        item_gone, users_gone = False, 0
        if self.sku is not None:
            try:
                item_gone = await admin.delete_item(self.sku)
            except AdminError as exc:
                warn(f"could not remove item {self.sku}: {exc}")
        if self.users:
            try:
                users_gone = await admin.delete_users(self.users)
            except AdminError as exc:
                warn(f"could not remove the run's {len(self.users)} users: {exc}")
        removed = self.describe(item_gone, users_gone)
        if removed:
            say(f"removed from the store: {removed} (their orders stay)")
