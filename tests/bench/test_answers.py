"""Each order answer as a bench code, and the server's own count."""

from __future__ import annotations

import pytest

from sniper.bench.answers import CountError, classify, count_from
from sniper.client.config import HttpRules, Match

DEFAULTS = HttpRules()
DESIGN = HttpRules(
    success_status=[200],
    order_id=[Match(json="order")],
    sold_out=[Match(json="err", equals="sold_out")],
)


@pytest.mark.parametrize(
    ("rules", "status", "body", "code"),
    [
        (DEFAULTS, 201, b'{"order_id":"20240415-1"}', "ok"),
        (DEFAULTS, 200, b'{"data":{"orderId":7}}', "ok"),
        (DESIGN, 200, b'{"order":"A1"}', "ok"),
        (DESIGN, 201, b'{"order":"A1"}', "rejected"),  # 201 is not this shop's success
        (DESIGN, 200, b'{"order":""}', "rejected"),  # an empty order id is none
        (DESIGN, 200, b'{"order":null}', "rejected"),
        (DESIGN, 200, b"OK", "rejected"),
        (DEFAULTS, 204, b"", "rejected"),
        (DESIGN, 200, b'{"err":"sold_out"}', "sold_out"),  # a 200 that refuses
        (DEFAULTS, 409, b'{"error":"sold_out","message":"gone"}', "sold_out"),
        (DEFAULTS, 200, '{"msg":"已抢光"}'.encode(), "sold_out"),
        (DEFAULTS, 409, b'{"error":"limit_reached"}', "limit_reached"),
        (DEFAULTS, 400, b'{"error":"not_started"}', "not_started"),
        (DEFAULTS, 425, b"", "not_started"),
        (DEFAULTS, 429, b"slow down", "rate_limited"),
        (DEFAULTS, 401, b'{"error":"unauthorized"}', "unauthorized"),
        (DEFAULTS, 403, b"", "unauthorized"),
        (DEFAULTS, 503, b'{"error":"unavailable"}', "http_503"),
        (DEFAULTS, 503, b'{"error":"sold_out"}', "sold_out"),  # the rules come before status
        (DEFAULTS, 500, b"<html>oops</html>", "http_500"),
        (DEFAULTS, 408, b"", "http_408"),
        (DEFAULTS, 404, b'{"error":"not_found"}', "http_404"),
        (DEFAULTS, 302, b"", "http_302"),
        (HttpRules(success_status=[302]), 302, b"", "rejected"),
    ],
)
def test_classify(rules: HttpRules, status: int, body: bytes, code: str) -> None:
    """As the http platform reads its last step: an order, the rules' refusals, then status."""
    assert classify(rules, status, (("content-type", "application/json"),), body) == code


def test_classify_with_a_success_rule() -> None:
    """`success` must match too: a 200 with an order id but `code: 1` is no order."""
    rules = HttpRules(success=Match(json="code", equals=0), order_id=[Match(json="id")])
    assert classify(rules, 200, (), b'{"code":0,"id":"x"}') == "ok"
    assert classify(rules, 200, (), b'{"code":1,"id":"x"}') == "rejected"


@pytest.mark.parametrize(
    ("body", "path", "count"),
    [
        (b'{"sold": 100}', "sold", 100),
        (b'{"sold": 0}', "sold", 0),
        (b'{"data": {"items": [{"sold": 7}]}}', "data.items.0.sold", 7),
    ],
)
def test_count_from(body: bytes, path: str, count: int) -> None:
    """The integer at the path."""
    assert count_from(body, path) == count


@pytest.mark.parametrize(
    ("body", "said"),
    [
        (b"<html>", "count: the answer is not JSON"),
        (b"", "count: the answer is not JSON"),
        (b'{"n": 1}', "count: the answer has no sold"),
        (b'[{"sold": 1}]', "count: the answer has no sold"),
        (b'{"sold": -1}', "count: sold is not an integer ≥ 0 (it is -1)"),
        (b'{"sold": 2.5}', "count: sold is not an integer ≥ 0 (it is 2.5)"),
        (b'{"sold": 3.0}', "count: sold is not an integer ≥ 0 (it is 3.0)"),
        (b'{"sold": "3"}', "count: sold is not an integer ≥ 0 (it is a string)"),
        (b'{"sold": true}', "count: sold is not an integer ≥ 0 (it is a boolean)"),
        (b'{"sold": null}', "count: sold is not an integer ≥ 0 (it is null)"),
        (b'{"sold": {}}', "count: sold is not an integer ≥ 0 (it is an object)"),
    ],
)
def test_count_from_refuses(body: bytes, said: str) -> None:
    """Anything but a JSON integer ≥ 0 at the path is one clear line."""
    with pytest.raises(CountError) as caught:
        count_from(body, "sold")
    assert str(caught.value) == said
