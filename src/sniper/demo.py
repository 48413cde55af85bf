"""The demos: ``sniper demo``, one command that shows the whole thing on a fresh machine, and the
item and user that ``sniper serve --demo`` creates to play with by hand.

``sniper demo``: a store starts on a temporary SQLite file and a free loopback port, with its clock
running 800 ms ahead of this machine's (as a platform's clock may). An item with 5 units opens a
few seconds ahead. 200 ordinary buyers press "buy" when *their own* clock says it is time, each
once; one sniper task aims at the opening on the *store's* clock. Then the store's order list says
who got the stock. Everything started is stopped, and every file is removed.

``sniper serve --demo``: the store calls :func:`seed_demo` on its storage before serving, and
:func:`say_demo` prints how to log in, look at the item and move its opening.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from sniper.bench.admin import StoreAdmin
from sniper.client.config import TaskConfig
from sniper.client.console import Console
from sniper.client.engine import Sniper
from sniper.clock import Clock
from sniper.humanize import pad, width
from sniper.store.auth import Sessions, hash_password
from sniper.store.models import Item, NewUser
from sniper.store.process import child_store

if TYPE_CHECKING:
    from sniper.store.backends import Backend
    from sniper.store.settings import StoreSettings

#: The demo item of both demos.
SKU, NAME = "demo-eggs", "30 fresh eggs"
#: ``sniper demo``: units, ordinary buyers, the store's clock ahead of ours, seconds to the opening.
STOCK, CROWD, SKEW_MS, LEAD_S = 5, 200, 800, 4
#: ``sniper serve --demo``: the user to log in as, and the item's units and time to its opening.
USER, PASSWORD = "demo", "demo"
SERVE_STOCK, SERVE_LEAD = 10, timedelta(seconds=30)
#: The banner's example opening: this far ahead on the store's clock, so that running the
#: printed command visibly moves the sale.
EXAMPLE_AHEAD = timedelta(minutes=2)

TEXT = {
    "en": {
        "store": "store at {url}, on a temporary database; "
        "its clock runs {skew} ms ahead of this one",
        "item": "{stock} × {sku} open at {opening} on the store's clock; "
        "{crowd} buyers and one sniper are waiting",
        "crowd": "the crowd presses buy at its own clock's opening (plus a human reaction time)",
        "sniper": "--- the sniper ---",
        "legend": "how to read its lines:\n"
        "  clock, offset: how far the store's clock is from this machine's, measured "
        "with timed requests (± is how sure)\n"
        "  RTT: one request's round trip;  T-: time left until the burst is sent\n"
        "  seq=1..3: the burst, three requests sent at once on three connections",
        "who": "who got the {stock} units:",
        "row": "  {who} {user}  created {delta:+.1f} ms after the opening",
        "won": "the sniper's order {order_id}, created {delta:.1f} ms after the opening",
        "lost": "the sniper got nothing this time",
        "crowd_late": "the crowd's first order came {delta:.0f} ms after the opening",
        "sniper_name": "sniper",
        "crowd_name": "crowd",
    },
    "zh": {
        "store": "商店已启动:{url}(临时数据库);它的时钟比本机快 {skew} ms",
        "item": "{stock} 份 {sku} 将于商店时钟 {opening} 开抢;{crowd} 位买家和一个抢购器在等待",
        "crowd": "普通买家按自己电脑的时间点击购买(再加上人的反应时间)",
        "sniper": "--- 抢购器 ---",
        "legend": "怎么看下面的输出:\n"
        "  时钟、时差:商店时钟与本机时钟相差多少,由几次计时请求测得(± 是误差)\n"
        "  往返(RTT):一次请求来回的时间;倒计时:距离发出请求还有多久\n"
        "  seq=1..3:同时在三条连接上发出的三个请求",
        "who": "谁抢到了这 {stock} 份:",
        "row": "  {who} {user}  开抢后 {delta:+.1f} ms 下单",
        "won": "抢购器的订单 {order_id},开抢后 {delta:.1f} ms 创建",
        "lost": "这次抢购器没有抢到",
        "crowd_late": "普通买家的第一单在开抢后 {delta:.0f} ms",
        "sniper_name": "抢购器",
        "crowd_name": "普通买家",
    },
}


async def _crowd(url: str, tokens: list[str], opening_ms: int) -> None:
    """Plain clients: each waits until this machine's clock shows the opening time (they do not
    know the store's clock differs), reacts like a person, and buys once."""
    limits = httpx.Limits(max_connections=len(tokens))
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=limits) as client:

        async def buy(token: str) -> None:
            reaction = random.uniform(0.05, 0.4)
            await asyncio.sleep(max(0.0, opening_ms / 1000 - time.time() + reaction))
            await client.post(
                "/api/orders", json={"sku_id": SKU}, headers={"Cookie": f"session={token}"}
            )

        await asyncio.gather(*(buy(t) for t in tokens), return_exceptions=True)


async def run_demo(lang: str = "en", say: Callable[[str], None] = print) -> int:
    """The whole demo; 0 when the sniper got an order, else 3."""
    text = TEXT.get(lang, TEXT["en"])
    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="sniper-demo-") as tmp:
        async with child_store(
            Path(tmp) / "store.db",
            token,
            extra=("--clock-skew-ms", str(SKEW_MS)),
            log=Path(tmp) / "store.log",
        ) as url:
            say(text["store"].format(url=url, skew=SKEW_MS))
            async with StoreAdmin(url, token) as admin:
                opening_ms = (await admin.now_ms() // 1000 + LEAD_S) * 1000
                await admin.put_item(SKU, stock=STOCK, opening_ms=opening_ms, name=NAME)
                users = await admin.make_users(CROWD + 1)
                opening = datetime.fromtimestamp(opening_ms / 1000, tz=UTC).isoformat()
                say(text["item"].format(stock=STOCK, sku=SKU, opening=opening, crowd=CROWD))
                say(text["crowd"])
                say(text["sniper"])
                say(text["legend"])
                task = TaskConfig.model_validate(
                    {
                        "name": "demo",
                        "base_url": url,
                        "cookie": f"session={users[0][1]}",
                        "sku_id": SKU,
                        "target_time": opening,
                        "lang": lang,
                        "log_file": Path(tmp) / "sniper.log",
                    }
                )
                summary, _ = await asyncio.gather(
                    Sniper(task, Console(lang)).run(),
                    _crowd(url, [t for _, t in users[1:]], opening_ms),
                )
                orders = await admin.orders(SKU)
        _show(orders, users[0][0], opening_ms, order_id=summary.order_id, text=text, say=say)
    return 0 if summary.order_id is not None else 3


def _show(
    orders: list[dict[str, Any]],
    sniper_user: str,
    opening_ms: int,
    *,
    order_id: str | None,
    text: dict[str, str],
    say: Callable[[str], None],
) -> None:
    say(text["who"].format(stock=STOCK))
    cells = width([text["sniper_name"], text["crowd_name"]])
    for order in sorted(orders, key=lambda o: o["created_ms"]):
        who = text["sniper_name"] if order["user"] == sniper_user else text["crowd_name"]
        say(
            text["row"].format(
                who=pad(who, cells), user=order["user"], delta=order["created_ms"] - opening_ms
            )
        )
    mine = next((o for o in orders if o["order_id"] == order_id), None)
    if mine is not None:
        say(text["won"].format(order_id=order_id, delta=mine["created_ms"] - opening_ms))
    else:
        say(text["lost"])
    crowd = [o["created_ms"] for o in orders if o["user"] != sniper_user]
    if crowd:
        say(text["crowd_late"].format(delta=min(crowd) - opening_ms))


@dataclass(frozen=True)
class DemoInfo:
    """What ``--demo`` created, to be shown to the user."""

    admin_token: str
    item: Item
    user: str
    password: str


async def seed_demo(backend: Backend, clock: Clock, settings: StoreSettings) -> DemoInfo:
    """A demo item opening in 30 s (stock 10, one per user) and a user ``demo``/``demo``. An
    item that already has orders is left as it is (a restart never gives sold stock back)."""
    item = await backend.get_item(SKU)
    if item is None or not await backend.list_orders(SKU):
        opening = datetime.fromtimestamp(clock.time(), tz=UTC).replace(microsecond=0)
        opening += SERVE_LEAD
        item = await backend.put_item(
            Item(
                SKU,
                NAME,
                1299,
                SERVE_STOCK,
                opening.isoformat(),
                int(opening.timestamp() * 1000),
                1,
            )
        )
    _, session = Sessions(backend, clock, settings.session_ttl_s).new_session(USER)
    pw_hash = await asyncio.to_thread(hash_password, PASSWORD)
    await backend.create_users([NewUser(USER, pw_hash, session)])
    token = settings.admin_token_value()
    assert token is not None
    return DemoInfo(token, item, USER, PASSWORD)


def say_demo(
    info: DemoInfo,
    settings: StoreSettings,
    port: int,
    say: Callable[[str], None],
    *,
    show_token: bool,
    now: datetime,
) -> None:
    """The banner of ``serve --demo``: the item, the user, and the commands to try."""
    base = f"http://{settings.host}:{port}"
    say(f"demo store at {base}")
    # A token the user chose is theirs already; only a generated one must be shown to be usable.
    say(f"  admin token: {info.admin_token if show_token else '(the one you gave)'}")
    say(f"  item {info.item.sku_id}: stock {info.item.stock}, opens {info.item.sale_start}")
    say(f"    {base}/api/items/{info.item.sku_id}")
    say(f"  user {info.user!r}, password {info.password!r}: POST {base}/api/login")
    say(f"    sniper login {base} {info.user} -o {info.user}.cookie    (writes the cookie)")
    say(
        f"    curl -i {base}/api/login -H 'Content-Type: application/json' "
        f'-d \'{{"user": "{info.user}", "password": "{info.password}"}}\''
    )
    token = info.admin_token if show_token else "$SNIPER_ADMIN_TOKEN"
    example = (now.replace(microsecond=0) + EXAMPLE_AHEAD).isoformat()
    say(
        "  move the opening (any RFC 3339 time with offset; this one is 2 min from now on the "
        "store's clock):"
    )
    say(
        f"    curl -X PATCH {base}/admin/items/{info.item.sku_id} "
        f"-H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
        f'-d \'{{"sale_start": "{example}"}}\''
    )
