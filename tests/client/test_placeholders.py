"""Placeholders in a captured request: which braces are filled, and how each value is written."""

from __future__ import annotations

import json

import pytest

from sniper.client.placeholders import (
    BUILTINS,
    MissingValue,
    Where,
    body_kind,
    fill,
    names_in,
)

KNOWN = (*BUILTINS, "token", "price", "cart_id", "order_url", "flag", "inject")
VALUES: dict[str, object] = {
    "sku_id": "100234567",
    "qty": 2,
    "request_id": "snp-abc",
    "now_ms": 1733130000123,
    "token": 'a/b+c="d"',
    "price": 12.5,
    "cart_id": "c-9",
    "order_url": "https://shop.example/o/1?x=1",
    "flag": True,
    "inject": '1,"admin":true',
}


@pytest.mark.parametrize(
    ("template", "where", "expected"),
    [
        # URL: values percent-encoded, the whole URL as it is.
        ("https://s/x?sku={sku_id}&q={qty}", Where.URL, "https://s/x?sku=100234567&q=2"),
        ("https://s/t?t={token}", Where.URL, "https://s/t?t=a%2Fb%2Bc%3D%22d%22"),
        ("{order_url}", Where.URL, "https://shop.example/o/1?x=1"),
        ("https://s/{unknown}/{sku_id}", Where.URL, "https://s/{unknown}/100234567"),
        # Header: as it is.
        ("Bearer {token}", Where.HEADER, 'Bearer a/b+c="d"'),
        # JSON: inside a string escaped, outside a string as JSON.
        ('{"sku":"{sku_id}","qty":{qty}}', Where.JSON, '{"sku":"100234567","qty":2}'),
        ('{"price":{price},"ok":{flag}}', Where.JSON, '{"price":12.5,"ok":true}'),
        # Text outside a string: bare when it reads as a number, else a JSON string.
        ('{"sku":{sku_id},"c":{cart_id}}', Where.JSON, '{"sku":100234567,"c":"c-9"}'),
        ('{"p":{inject}}', Where.JSON, '{"p":"1,\\"admin\\":true"}'),
        ('{"t":"{token}"}', Where.JSON, '{"t":"a/b+c=\\"d\\""}'),
        ('{"a":{"b":"{cart_id}"},"{x}":1}', Where.JSON, '{"a":{"b":"c-9"},"{x}":1}'),
        ('{"s":"quote \\" then {cart_id}"}', Where.JSON, '{"s":"quote \\" then c-9"}'),
        # Form: form-encoded.
        ("sku={sku_id}&t={token}", Where.FORM, "sku=100234567&t=a%2Fb%2Bc%3D%22d%22"),
        # Plain body: as it is.
        ("sku={sku_id} t={token}", Where.BODY, 'sku=100234567 t=a/b+c="d"'),
        (
            "no placeholders {} { sku_id } {{sku_id}}",
            Where.BODY,
            "no placeholders {} { sku_id } {100234567}",
        ),
    ],
)
def test_fill(template: str, where: Where, expected: str) -> None:
    assert fill(template, VALUES, KNOWN, where) == expected


def test_a_number_outside_a_json_string_stays_a_number() -> None:
    body = fill('{"cartId":"{cart_id}","price":{price}}', VALUES, KNOWN, Where.JSON)
    assert json.loads(body) == {"cartId": "c-9", "price": 12.5}


@pytest.mark.parametrize("where", list(Where))
def test_a_known_name_without_a_value_is_an_error_never_an_empty_string(where: Where) -> None:
    with pytest.raises(MissingValue, match=r"\{token\} has no value") as caught:
        fill('{"t":"{token}"}' if where is Where.JSON else "x={token}", {}, KNOWN, where)
    assert caught.value.name == "token"


def test_names_in_lists_known_names_once_in_order() -> None:
    assert names_in("{token}/{sku_id}/{token}/{other}", KNOWN) == ["token", "sku_id"]


@pytest.mark.parametrize(
    ("content_type", "where"),
    [
        ("application/json", Where.JSON),
        ("application/json; charset=utf-8", Where.JSON),
        ("application/vnd.api+json", Where.JSON),
        ("application/x-www-form-urlencoded; charset=UTF-8", Where.FORM),
        ("text/plain", Where.BODY),
        (None, Where.BODY),
    ],
)
def test_body_kind(content_type: str | None, where: Where) -> None:
    assert body_kind(content_type) is where
