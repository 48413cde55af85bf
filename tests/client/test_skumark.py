"""--sku-id marks whole values only: never a piece of a host, a port or a longer number."""

from __future__ import annotations

import pytest

from sniper.client.skumark import mark_body, mark_headers, mark_url

SKU = "1234"


@pytest.mark.parametrize(
    ("url", "marked", "found"),
    [
        ("http://h/item/1234", "http://h/item/{sku_id}", 1),
        ("http://h/item/1234/buy?sku=1234", "http://h/item/{sku_id}/buy?sku={sku_id}", 2),
        ("http://h/item/12345", "http://h/item/12345", 0),
        ("http://h/item/1234.html", "http://h/item/1234.html", 0),
        ("http://h:1234/p", "http://h:1234/p", 0),
        ("http://1234.shop/p", "http://1234.shop/p", 0),
        ("http://10.0.12.34/p", "http://10.0.12.34/p", 0),
        ("http://h/p?a=11234&b=12340&c=1234&1234", "http://h/p?a=11234&b=12340&c={sku_id}&1234", 1),
        ("http://h/p?1234=x", "http://h/p?1234=x", 0),
        ("http://h/p?s=%31234", "http://h/p?s={sku_id}", 1),
    ],
)
def test_url(url: str, marked: str, found: int) -> None:
    """Path segments and query values, whole; never the host, the port or a query name."""
    assert mark_url(url, SKU) == (marked, found)


@pytest.mark.parametrize(
    ("body", "content_type", "marked", "found"),
    [
        ('{"sku":"1234","n":1234}', "", '{"sku":"{sku_id}","n":{sku_id}}', 2),
        ('{"1234":"x","a":[1234, "1234"]}', "", '{"1234":"x","a":[{sku_id}, "{sku_id}"]}', 2),
        ('{"n":12345,"m":1234.5,"k":-1234,"s":"A1234"}', "", None, 0),
        (
            '{ "sku" : "1234" , "x": "a \\" 1234"}',
            "",
            '{ "sku" : "{sku_id}" , "x": "a \\" 1234"}',
            1,
        ),
        ('{"s":"\\u0031234"}', "", '{"s":"{sku_id}"}', 1),
        (
            "sku=1234&n=11234&m=1234",
            "application/x-www-form-urlencoded",
            "sku={sku_id}&n=11234&m={sku_id}",
            2,
        ),
        ("sku=1234", "text/plain", "sku={sku_id}", 1),
        ("1234", "text/plain", "{sku_id}", 1),
        ("not json 1234", "application/json", "not json 1234", 0),
    ],
)
def test_body(body: str, content_type: str, marked: str | None, found: int) -> None:
    """JSON string and number values (not keys, not pieces), form values, a whole body
    (``None``: left as it is)."""
    assert mark_body(body, SKU, content_type) == (marked or body, found)


def test_headers() -> None:
    """A header value that is the id whole; not a Referer that holds it in its path."""
    headers = {"X-Sku": "1234", "Referer": "http://h/item/1234", "X-Port": "12345"}
    assert mark_headers(headers, SKU) == (
        {"X-Sku": "{sku_id}", "Referer": "http://h/item/1234", "X-Port": "12345"},
        1,
    )
