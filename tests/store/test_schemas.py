"""Strict parsing of bodies."""

from __future__ import annotations

import pytest

from sniper.errors import BadRequest
from sniper.store.schemas import ItemPatchBody, OrderBody, parse_body
from sniper.validation import duplicate_key


def test_order_body_defaults() -> None:
    """qty defaults to 1, request_id to None."""
    body = parse_body(OrderBody, b'{"sku_id": "eggs"}')
    assert (body.sku_id, body.qty, body.request_id) == ("eggs", 1, None)


def test_patch_keeps_only_named_fields() -> None:
    """Absent fields are not changes; an explicit 0 is."""
    body = parse_body(ItemPatchBody, b'{"stock": 0}')
    assert body.changes() == {"stock": 0}


def test_errors_never_echo_input() -> None:
    """A password in a bad body does not come back in the message."""
    with pytest.raises(BadRequest) as info:
        parse_body(OrderBody, b'{"sku_id": "hunter2-secret!!"}')
    assert "hunter2" not in info.value.message
    assert info.value.message.startswith("sku_id:")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"sku_id": "eggs", "qty": 1, "qty": 1000}',
        b'{"sku_id": "nosuch", "sku_id": "eggs"}',
        b'{"sku_id": "eggs", "q\\u0074y": 2, "qty": 1}',
        b'{"request_id": "a:b", "sku_id": "eggs", "request_id": "c"}',
    ],
)
def test_a_key_given_twice_is_refused(raw: bytes) -> None:
    """The parser would keep the last value; the store says what is wrong instead."""
    with pytest.raises(BadRequest, match="given more than once"):
        parse_body(OrderBody, raw)


@pytest.mark.parametrize(
    ("raw", "request_id"),
    [
        (b'{"sku_id": "eggs", "request_id": "qty:1,qty:2"}', "qty:1,qty:2"),
        (b'{"sku_id": "eggs", "request_id": "\\"qty\\": 9"}', '"qty": 9'),
        (b'{"sku_id": "eggs", "request_id": "sku_id"}', "sku_id"),
    ],
)
def test_colons_and_names_inside_values_are_no_duplicates(raw: bytes, request_id: str) -> None:
    """Only real keys count: colons, escapes and field names inside strings are fine."""
    assert parse_body(OrderBody, raw) == OrderBody(sku_id="eggs", request_id=request_id)


def test_deep_nesting_with_a_colon_is_a_clear_400() -> None:
    """The second parse is never a 500, even for a body nested past Python's stack."""
    raw = b'{"sku_id": "eggs", "qty": ' + b"[" * 2000 + b"]" * 2000 + b', "request_id": "a:b"}'
    with pytest.raises(BadRequest):
        parse_body(OrderBody, raw)
    assert duplicate_key(raw) is None
