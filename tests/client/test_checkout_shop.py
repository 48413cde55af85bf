"""The test shop itself, over real sockets: it takes a correct checkout and refuses every wrong one,
so that an order from it proves the sniper sent what a real shop needs."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.client.checkout_shop import CheckoutShop

ROOT = Path(__file__).resolve().parents[2]
SKU = "100234567"


@pytest.fixture
def shop() -> Iterator[CheckoutShop]:
    """A shop whose clock is 1234 ms ahead, with one live login, its sale open."""
    with CheckoutShop(skew_ms=1234, sessions=frozenset({"alice", "bob"})) as shop:
        shop.sale(SKU, shop.now_ms() - 1, stock=1)
        yield shop


def client(shop: CheckoutShop, session: str = "alice") -> httpx.Client:
    """A client with a login cookie."""
    return httpx.Client(base_url=shop.url, cookies={"session": session}, timeout=5)


def cart_and_token(http: httpx.Client) -> tuple[str, float, str]:
    """The before and open steps: cart id, price, token."""
    cart = http.get(f"/api/cart?sku={SKU}").json()["data"]
    token = http.post("/api/seckill/token", json={"sku": SKU}).json()["data"]["token"]
    return cart["cartId"], cart["items"][0]["price"], token


def submit(http: httpx.Client, token: str, body: dict[str, Any]) -> httpx.Response:
    """The submit step, its body as given (the price's JSON type kept)."""
    return http.post(
        "/api/order/submit",
        content=json.dumps(body),
        headers={"X-Token": token, "Content-Type": "application/json"},
    )


def test_server_time_is_in_seconds_on_the_skewed_clock(shop: CheckoutShop) -> None:
    """``data.now`` is epoch seconds, 1234 ms ahead of this machine's clock."""
    now = httpx.get(f"{shop.url}/api/serverTime").json()["data"]["now"]
    assert isinstance(now, float)
    assert 1234 - 100 < now * 1000 - time.time() * 1000 < 1234 + 100


def test_a_correct_checkout_orders_once_and_is_recorded(shop: CheckoutShop) -> None:
    """Cart sets the CSRF cookie; token then submit orders; a second order is 限购; the log holds
    each request's connection and times in order."""
    with client(shop) as http:
        cart = http.get(f"/api/cart?sku={SKU}")
        assert "csrf=" in cart.headers["set-cookie"]
        assert "HttpOnly" in cart.headers["set-cookie"]
        cart_id, price, token = cart_and_token(http)
        answer = submit(http, token, {"cartId": cart_id, "price": price, "token": token})
        assert answer.json()["code"] == 0, answer.text
        assert answer.json()["data"]["orderId"] == shop.orders[0].order_id
        _, _, token = cart_and_token(http)
        again = submit(http, token, {"cartId": cart_id, "price": price, "token": token})
        assert again.json() == {"code": 5002, "msg": "限购"}
    assert len(shop.orders) == 1
    assert shop.orders[0].csrf in shop.issued("csrf")
    paths = [a.path for a in shop.arrivals]
    assert paths[:4] == ["/api/cart", "/api/cart", "/api/seckill/token", "/api/order/submit"]
    for a in shop.arrivals:
        assert a.at_ms <= a.head_ms <= a.answered_ms
        assert abs(a.at_ms - shop.now_ms()) < 5000
    assert len({a.peer_port for a in shop.arrivals}) == 1  # one keep-alive connection


def test_sold_out_for_the_next_account(shop: CheckoutShop) -> None:
    """Stock 1: the second account's submit is 售罄."""
    for session, code in (("alice", 0), ("bob", 5001)):
        with client(shop, session) as http:
            cart_id, price, token = cart_and_token(http)
            answer = submit(http, token, {"cartId": cart_id, "price": price, "token": token})
            assert answer.json()["code"] == code


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda b: b | {"price": str(b["price"])}, "price must be a number"),
        (lambda b: b | {"price": b["price"] + 1}, "price differs from the cart's"),
        (lambda b: b | {"cartId": "c-000000000000"}, "unknown cartId"),
        (lambda b: b | {"token": "t-forged"}, "X-Token differs from the body's token"),
        (lambda b: {k: v for k, v in b.items() if k != "price"}, "must hold token"),
    ],
)
def test_a_wrong_submit_is_refused(shop: CheckoutShop, change: Any, reason: str) -> None:
    """Each wrong field: 400 with its reason, no order."""
    with client(shop) as http:
        cart_id, price, token = cart_and_token(http)
        answer = submit(http, token, change({"cartId": cart_id, "price": price, "token": token}))
    assert answer.status_code == 400
    assert reason in answer.json()["msg"]
    assert shop.orders == []


def test_a_token_works_once_and_needs_the_csrf_cookie(shop: CheckoutShop) -> None:
    """Without the CSRF cookie: refused (and the token is spent); a reused token: refused."""
    with client(shop) as http:
        cart_id, price, token = cart_and_token(http)
        http.cookies.delete("csrf")
        body = {"cartId": cart_id, "price": price, "token": token}
        assert submit(http, token, body).json()["msg"] == "missing or wrong csrf cookie"
        assert submit(http, token, body).json()["msg"] == "unknown or used token"
    assert shop.orders == []


def test_login_unknown_item_and_not_started(shop: CheckoutShop) -> None:
    """No or a dead login: 401 on every step; an unknown item: code 4004; tokens only from the
    opening plus ``not_started_extra_ms``."""
    with client(shop, "mallory") as http:
        assert http.get(f"/api/cart?sku={SKU}").status_code == 401
        assert http.post("/api/seckill/token", json={"sku": SKU}).status_code == 401
        assert http.post("/api/order/submit", json={}).status_code == 401
    with client(shop) as http:
        assert http.get("/api/cart?sku=nothing").json()["code"] == 4004
        shop.sale(SKU, shop.now_ms() - 50, not_started_extra_ms=300)
        early = http.post("/api/seckill/token", json={"sku": SKU})
        assert early.status_code == 200
        assert early.json() == {"code": 4002, "msg": "not started"}
        time.sleep(0.3)
        assert http.post("/api/seckill/token", json={"sku": SKU}).json()["code"] == 0


def test_runs_as_a_process_and_prints_its_port() -> None:
    """``python -m tests.client.checkout_shop --port 0``: its port on the first line; ``/_sale``
    and ``/_log`` over HTTP; SIGTERM ends it with 0."""
    with subprocess.Popen(
        [sys.executable, "-m", "tests.client.checkout_shop", "--port", "0", "--skew-ms", "-800"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            url = f"http://127.0.0.1:{int(proc.stdout.readline())}"
            now = httpx.get(f"{url}/api/serverTime").json()["data"]["now"] * 1000
            assert -900 < now - time.time() * 1000 < -700
            sale = {"sku": "s1", "opening_ms": now - 1, "stock": 3}
            assert httpx.post(f"{url}/_sale", json=sale).json()["data"]["stock"] == 3
            with httpx.Client(base_url=url, cookies={"session": "anyone"}) as http:
                assert http.get("/api/cart?sku=s1").json()["code"] == 0
            log = httpx.get(f"{url}/_log?clear=1").json()
            assert [a["path"] for a in log["arrivals"]] == ["/api/serverTime", "/api/cart"]
            assert httpx.get(f"{url}/_log").json() == {"arrivals": [], "orders": []}
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(10) == 0
