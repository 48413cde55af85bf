"""A checkout saved as a HAR by Chrome or Firefox, imported with ``sniper import-har`` and run by a
real ``sniper`` process against the test shop: it orders once, with what the import correlated
(the cart's id and price, the token, the CSRF cookie) taken from the shop's answers at run time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from tests.client.checkout_shop import CheckoutShop
from tests.client.test_har import HARS
from tests.e2e.test_flows import SUBMIT, of, opening_in
from tests.e2e.test_snipe import sniper

SKU = "100234567"
SESSION = "s3ss10n-abcdef123456"  # the login in the HAR files
CAPTURED = "https://shop.example.com"


@pytest.fixture
def shop() -> Iterator[CheckoutShop]:
    """The shop, its clock 1234 ms ahead, the HAR's login alive."""
    with CheckoutShop(skew_ms=1234, sessions=frozenset({SESSION})) as shop:
        yield shop


def imported(shop: CheckoutShop, tmp_path: Path, har: str, opening_ms: int) -> Path:
    """``sniper import-har`` of the capture (its origin now the shop's), then what a user fixes
    by hand, as the README says: the token is handed out only at the opening (``when: open``,
    its "not started"), the submit's rules, the shop's own clock."""
    (tmp_path / har).write_text((HARS / har).read_text().replace(CAPTURED, shop.url))
    target = datetime.fromtimestamp(opening_ms / 1000, tz=UTC).isoformat()
    done = sniper(
        "import-har",
        har,
        *("--pick", "/api/cart", "--pick", "/api/seckill/token", "--pick", "/api/order/submit"),
        *("--sku-id", SKU, "--target-time", target),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    path = tmp_path / "task.yaml"
    task = yaml.safe_load(path.read_text())
    _, token, submit = task["flow"]
    token["when"] = "open"
    token["rules"] = {"not_started": [{"json": "code", "equals": 4002}]}
    submit["rules"] = {"order_id": [{"json": "data.orderId"}], "sold_out": [{"regex": "售罄"}]}
    task["clock"] = {"url": f"{shop.url}/api/serverTime", "json": "data.now", "unit": "s"}
    task["log_file"] = str(tmp_path / "s.log")
    path.write_text(yaml.safe_dump(task, allow_unicode=True, sort_keys=False))
    return path


@pytest.mark.parametrize("har", ["chrome.har", "firefox.har"])
def test_the_imported_flow_orders(shop: CheckoutShop, tmp_path: Path, har: str) -> None:
    """One order; the submit that won carries the cart's id and price (a number) from the cart
    answer, the token from the token answer in its header and body, and the CSRF cookie the cart
    set, as a cookie and in the header the browser sent it in."""
    opening = opening_in(shop, 3)
    shop.sale(SKU, opening, stock=5)
    done = sniper("run", str(imported(shop, tmp_path, har, opening)), cwd=tmp_path)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    [order] = shop.orders
    assert order.account == SESSION
    [won] = [a for a in of(shop.arrivals, SUBMIT) if a.code == 0]
    body = json.loads(won.body)
    assert body["cartId"] == order.cart_id
    assert order.cart_id in shop.issued("cart")
    assert body["price"] == 12.5
    assert isinstance(body["price"], float)
    assert body["token"] == won.headers["x-token"] == order.token
    assert f"csrf={order.csrf}" in won.headers["cookie"]
    assert won.headers["x-csrf-token"] == order.csrf
    assert order.order_id in done.stdout
    for secret in (SESSION, order.token, *shop.issued("csrf")):
        assert secret not in output
