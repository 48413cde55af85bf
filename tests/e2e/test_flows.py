"""A real ``sniper`` process runs a three-step checkout (cart → seckill token → submit) against
the test shop, whose clock is 1234 ms ahead of ours and is read from its own time endpoint in
seconds."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.client.checkout_shop import Arrival, CheckoutShop, checkout_flow
from tests.e2e.test_snipe import sniper

SKU = "100234567"
SESSION = "alice-5f0c2d9e8b7a6f41"
SKEW_MS = 1234
CART, TOKEN, SUBMIT = "/api/cart", "/api/seckill/token", "/api/order/submit"


@pytest.fixture
def shop() -> Iterator[CheckoutShop]:
    """The shop, its clock 1234 ms ahead, one live login."""
    with CheckoutShop(skew_ms=SKEW_MS, sessions=frozenset({SESSION})) as shop:
        yield shop


def opening_in(shop: CheckoutShop, seconds: float) -> int:
    """A whole second of the shop's clock at least ``seconds`` away."""
    return (int(shop.now_ms() / 1000 + seconds) + 1) * 1000


def task_file(
    shop: CheckoutShop,
    tmp_path: Path,
    opening_ms: int,
    *,
    session: str = SESSION,
    **extra: Any,
) -> Path:
    """A flow task file for the shop's item opening at ``opening_ms`` (its clock)."""
    task: dict[str, Any] = {
        "platform": "http",
        "base_url": shop.url,
        "cookie": f"session={session}",
        "sku_id": SKU,
        "target_time": datetime.fromtimestamp(opening_ms / 1000, tz=UTC).isoformat(),
        "clock": {"url": f"{shop.url}/api/serverTime", "json": "data.now", "unit": "s"},
        "log_file": str(tmp_path / "s.log"),
        "flow": extra.pop("flow", None) or checkout_flow(shop.url),
        **extra,
    }
    path = tmp_path / "task.yaml"
    path.write_text(yaml.safe_dump(task, allow_unicode=True, sort_keys=False))
    return path


def of(arrivals: list[Arrival], path: str) -> list[Arrival]:
    """The arrivals at one path, by arrival."""
    return [a for a in arrivals if a.path == path]


def token_before(arrivals: list[Arrival], submit: Arrival) -> Arrival | None:
    """The latest token answer written on the submit's connection before it arrived."""
    mine = [
        a
        for a in of(arrivals, TOKEN)
        if a.peer_port == submit.peer_port and a.answered_ms <= submit.at_ms
    ]
    return mine[-1] if mine else None


def test_the_flow_orders_once_at_the_opening(shop: CheckoutShop, tmp_path: Path) -> None:
    """One order; the cart only before the opening; the first token request at the opening on
    the shop's clock; each submit on the connection that got its token, after that answer, with
    the cart's id, the price as a number, the token in header and body and the CSRF cookie."""
    opening = opening_in(shop, 4)
    shop.sale(SKU, opening, stock=5)
    done = sniper("run", str(task_file(shop, tmp_path, opening)), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    arrivals = shop.arrivals
    [order] = shop.orders
    assert order.account == SESSION
    assert of(arrivals, CART)
    assert all(a.at_ms < opening for a in of(arrivals, CART))
    first_open = min(a.at_ms for a in of(arrivals, TOKEN))
    assert 0 <= first_open - opening <= 50
    gaps = []
    for submit in of(arrivals, SUBMIT):
        token = token_before(arrivals, submit)
        assert token is not None, "a submit on a connection that got no token"
        assert token.code == 0
        gaps.append(submit.at_ms - token.answered_ms)
    assert gaps
    print(
        f"first open arrival - opening: {first_open - opening:.3f} ms; token answer -> submit "
        f"arrival: {', '.join(f'{g:.3f}' for g in gaps)} ms"
    )
    [won] = [a for a in of(arrivals, SUBMIT) if a.code == 0]
    body = json.loads(won.body)
    assert body["cartId"] == order.cart_id
    assert order.cart_id in shop.issued("cart")
    assert isinstance(body["price"], float)
    assert body["price"] == 12.5
    assert body["token"] == won.headers["x-token"] == order.token
    assert f"csrf={order.csrf}" in won.headers["cookie"]
    assert f"session={SESSION}" in won.headers["cookie"]
    assert order.order_id in done.stdout
    for secret in (SESSION, order.token, *shop.issued("csrf")):
        assert secret not in output


def test_not_started_for_100_ms_retries_paced(shop: CheckoutShop, tmp_path: Path) -> None:
    """The token step answers not started until 100 ms past the opening: the flow is retried from
    the token step, no faster than the burst plus the bucket (burst + rate x time), and orders."""
    rate, burst, concurrency = 20.0, 2, 3
    opening = opening_in(shop, 4)
    shop.sale(SKU, opening, stock=5, not_started_extra_ms=100)
    path = task_file(
        shop,
        tmp_path,
        opening,
        concurrency=concurrency,
        retry={"window_s": 5, "rate_per_s": rate, "burst": burst},
    )
    done = sniper("run", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(shop.orders) == 1
    tokens = of(shop.arrivals, TOKEN)
    early = [a for a in tokens if opening <= a.at_ms < opening + 100]
    allowed = concurrency + burst + math.floor(rate * 0.1)
    print(f"token requests in the first 100 ms: {len(early)} (allowed {allowed})")
    assert concurrency < len(early) <= allowed
    assert all(a.code == 4002 for a in early)
    granted = [a for a in tokens if a.code == 0]
    assert granted
    assert min(a.at_ms for a in granted) >= opening + 100
    last = max(a.at_ms for a in tokens)
    assert len(tokens) <= concurrency + burst + math.floor(rate * (last - opening) / 1000) + 1


def test_a_failing_expect_ends_the_task_before_the_opening(
    shop: CheckoutShop, tmp_path: Path
) -> None:
    """The cart answers code 4004 (no such item): exit 1 at pre-flight, well before the opening,
    a line naming the step, nothing of the ``open`` steps sent."""
    opening = opening_in(shop, 8)
    path = task_file(shop, tmp_path, opening, flow=checkout_flow(shop.url, cart_name="basket"))
    done = sniper("run", str(path), cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert shop.now_ms() < opening
    assert any("basket" in line for line in (done.stdout + done.stderr).splitlines())
    assert of(shop.arrivals, CART)
    assert of(shop.arrivals, TOKEN) == []
    assert of(shop.arrivals, SUBMIT) == []
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("on_sale", [True, False], ids=["on-sale", "cart-refuses"])
def test_with_no_time_for_a_pre_flight_the_before_steps_run_at_preheat(
    shop: CheckoutShop, tmp_path: Path, on_sale: bool
) -> None:
    """Started with less than ``preheat_ms`` left, the pre-flight's moment has passed: the
    ``before`` steps run once, at preheat, however long they take (late beats never), then the
    burst orders; a cart that does not answer as expected ends the run as at the pre-flight
    (exit 1, the step named, no ``open`` step sent)."""
    opening = opening_in(shop, 1.5)
    if on_sale:
        shop.sale(SKU, opening, stock=5)
    path = task_file(
        shop, tmp_path, opening, preheat_ms=4000, flow=checkout_flow(shop.url, cart_name="basket")
    )
    done = sniper("run", str(path), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert len(of(shop.arrivals, CART)) == 1
    if on_sale:
        assert done.returncode == 0, output
        assert len(shop.orders) == 1
    else:
        assert done.returncode == 1, output
        assert "step basket: the answer does not match expect" in output
        assert of(shop.arrivals, TOKEN) == []
    assert "Traceback" not in done.stderr


def test_a_refused_login_on_the_cart_is_a_dead_cookie(shop: CheckoutShop, tmp_path: Path) -> None:
    """401 on the before step: exit 4, the cookie never shown, nothing of the ``open`` steps
    sent."""
    dead = "expired-0a1b2c3d4e5f6789"
    opening = opening_in(shop, 8)
    shop.sale(SKU, opening)
    done = sniper("run", str(task_file(shop, tmp_path, opening, session=dead)), cwd=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    assert [a.status for a in of(shop.arrivals, CART)][:1] == [401]
    assert of(shop.arrivals, TOKEN) == []
    assert dead not in done.stdout + done.stderr


def test_check_runs_the_before_step_and_the_clock_and_sends_no_open_step(
    shop: CheckoutShop, tmp_path: Path
) -> None:
    """``sniper check``: the cart step and the shop's clock, the saved names shown (the CSRF
    cookie's value not in full), when it would fire; no token or submit request."""
    opening = opening_in(shop, 60)
    shop.sale(SKU, opening)
    path = task_file(shop, tmp_path, opening, flow=checkout_flow(shop.url, save_csrf=True))
    done = sniper("check", str(path), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    for name in ("cart_id", "price", "csrf"):
        assert name in done.stdout
    assert "12.5" in done.stdout
    assert "would fire" in done.stdout
    assert of(shop.arrivals, CART)
    assert of(shop.arrivals, "/api/serverTime")
    assert of(shop.arrivals, TOKEN) == []
    assert of(shop.arrivals, SUBMIT) == []
    for secret in (SESSION, *shop.issued("csrf")):
        assert secret not in output
