"""Platforms: the requests they build and how they read answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from sniper.client.checkout import StepFailed
from sniper.client.config import HttpRequest, HttpRules, Match, TaskConfig
from sniper.client.connection import Response
from sniper.client.jsonpath import json_lookup
from sniper.client.outcome import Kind
from sniper.client.platforms import HttpPlatform, StorePlatform, platform_class
from sniper.errors import ConfigError

TARGET = datetime(2024, 4, 15, tzinfo=UTC)


def task(**fields: Any) -> TaskConfig:
    """A store task with overrides."""
    base: dict[str, Any] = {
        "base_url": "http://127.0.0.1:8000",
        "sku_id": "eggs",
        "target_time": TARGET,
        "cookie": "session=tok",
    }
    return TaskConfig.model_validate({**base, **fields})


def answer(status: int, body: Any = None, **headers: str) -> Response:
    """A response with a JSON body."""
    raw = json.dumps(body).encode() if not isinstance(body, (bytes, type(None))) else body or b""
    return Response(status, tuple((k.replace("_", "-"), v) for k, v in headers.items()), raw, 0.0)


class TestStorePlatform:
    """This project's store."""

    def test_order_request(self) -> None:
        """POST /api/orders with sku, qty, request id and the cookie."""
        call = StorePlatform(task(qty=2), "session=tok").order_call("snp-1")
        assert (call.method, call.target) == ("POST", "/api/orders")
        assert json.loads(call.body) == {"sku_id": "eggs", "qty": 2, "request_id": "snp-1"}
        assert ("Cookie", "session=tok") in call.headers

    @pytest.mark.parametrize(
        ("response", "kind", "order_id", "retry_after"),
        [
            (answer(201, {"order_id": "2024A"}), Kind.ORDERED, "2024A", None),
            (answer(200, {"order_id": "2024A"}), Kind.ORDERED, "2024A", None),
            (answer(425, {"error": "not_started"}), Kind.NOT_STARTED, None, None),
            (answer(409, {"error": "sold_out"}), Kind.SOLD_OUT, None, None),
            (answer(409, {"error": "limit_reached"}), Kind.LIMIT_REACHED, None, None),
            (answer(429, {"error": "rate_limited"}, retry_after="3"), Kind.RATE_LIMITED, None, 3.0),
            (answer(401, {"error": "unauthorized"}), Kind.AUTH, None, None),
            (answer(503, {"error": "unavailable"}, retry_after="1"), Kind.RETRY, None, 1.0),
            (
                answer(503, {"error": "outcome_unknown", "request_id": "snp-1"}, retry_after="1"),
                Kind.UNKNOWN,
                None,
                1.0,
            ),
            (answer(500, b"oops"), Kind.RETRY, None, None),
            (answer(502, b"<html>bad gateway</html>"), Kind.RETRY, None, None),
            (answer(404, {"error": "not_found"}), Kind.FATAL, None, None),
            (answer(400, {"error": "bad_request"}), Kind.FATAL, None, None),
            (answer(201, b"not json"), Kind.RETRY, None, None),
        ],
    )
    def test_classify(
        self, response: Response, kind: Kind, order_id: str | None, retry_after: float | None
    ) -> None:
        """Status and error code decide."""
        verdict = StorePlatform(task(), "c").classify(response)
        assert (verdict.kind, verdict.order_id, verdict.retry_after_s) == (
            kind,
            order_id,
            retry_after,
        )


def http_task(**rules: Any) -> TaskConfig:
    """An http-platform task."""
    return task(
        platform="http",
        request=HttpRequest(
            method="POST",
            url="https://shop.example:8443/api/submit?sku={sku_id}",
            headers={"Content-Type": "application/json", "Cookie": "stale=1", "X-App": "7"},
            body='{"skuId": "{sku_id}", "num": {qty}, "reqId": "{request_id}"}',
        ),
        rules=HttpRules(**rules),
    )


class TestHttpPlatform:
    """A captured request, replayed; answers read by rules."""

    def test_placeholders_cookie_and_origin(self) -> None:
        """Placeholders filled in URL and body; the task's cookie replaces a captured one."""
        platform = HttpPlatform(http_task(), "sid=secret")
        call = platform.order_call("rid-9")
        assert platform.origin.host_header == "shop.example:8443"
        assert call.target == "/api/submit?sku=eggs"
        assert json.loads(call.body) == {"skuId": "eggs", "num": 1, "reqId": "rid-9"}
        assert ("Cookie", "sid=secret") in call.headers
        assert ("Cookie", "stale=1") not in call.headers
        assert ("X-App", "7") in call.headers

    def test_placeholders_in_headers(self) -> None:
        """{request_id}, {sku_id} and {qty} in a header value are filled too, and a request id
        in a header alone is a request id carried."""
        platform = HttpPlatform(
            task(
                platform="http",
                qty=2,
                request=HttpRequest(
                    url="https://shop.example/buy",
                    body="{}",
                    headers={"Idempotency-Key": "{request_id}", "X-Item": "{sku_id}x{qty}"},
                ),
            ),
            "sid=secret",
        )
        call = platform.order_call("rid-9")
        assert platform.carries_request_id()
        assert ("Idempotency-Key", "rid-9") in call.headers
        assert ("X-Item", "eggsx2") in call.headers

    def test_a_filled_header_stays_one_line(self) -> None:
        """A value that would break a header in two (a task copied without validation) is
        refused, never sent."""
        unchecked = task(
            platform="http",
            request=HttpRequest(
                url="https://shop.example/buy",
                headers={"X-Item": "{sku_id}"},
            ),
        ).model_copy(update={"sku_id": "eggs\r\nX-Evil: 1"})
        with pytest.raises(
            StepFailed, match=r"step order: request\.headers\.X-Item: only printable ASCII"
        ):
            HttpPlatform(unchecked, "sid=secret").order_call("rid-9")

    @pytest.mark.parametrize(
        ("response", "kind", "order_id"),
        [
            (answer(200, {"code": 0, "data": {"orderId": "88"}}), Kind.ORDERED, "88"),
            (answer(200, {"code": 4001, "msg": "商品已售罄"}), Kind.SOLD_OUT, None),
            (answer(200, {"code": 4002, "msg": "活动未开始"}), Kind.NOT_STARTED, None),
            (answer(200, {"code": 4003, "msg": "超出限购数量"}), Kind.LIMIT_REACHED, None),
            (answer(200, {"code": 1, "msg": "busy"}), Kind.RETRY, None),
            (answer(429, {}, retry_after="5"), Kind.RATE_LIMITED, None),
            (answer(403, {}), Kind.AUTH, None),
            (answer(418, {}), Kind.FATAL, None),
        ],
    )
    def test_classify_with_rules(
        self, response: Response, kind: Kind, order_id: str | None
    ) -> None:
        """Success needs the success rule and an order id; body rules come before status."""
        platform = HttpPlatform(
            http_task(
                success=Match(json="code", equals=0),
                limit_reached=[Match(regex="限购")],
            ),
            "c",
        )
        verdict = platform.classify(response)
        assert (verdict.kind, verdict.order_id) == (kind, order_id)

    def test_regex_order_id(self) -> None:
        """A regex with a group extracts the order id from a non-JSON body."""
        platform = HttpPlatform(http_task(order_id=[Match(regex=r"order=(\d+)")]), "c")
        verdict = platform.classify(answer(200, b"ok order=12345"))
        assert (verdict.kind, verdict.order_id) == (Kind.ORDERED, "12345")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a", 1),
        ("b.c", [10, 20]),
        ("b.c.1", 20),
        ("b.c.5", "missing"),
        ("x", "missing"),
        ("a.b", "missing"),
    ],
)
def test_json_lookup(path: str, expected: Any) -> None:
    """Dotted paths with list indices; a missing step is missing (and equals nothing)."""
    value = json_lookup({"a": 1, "b": {"c": [10, 20]}}, path)
    if expected == "missing":
        assert value not in (None, 1, [10, 20], 20, {"c": [10, 20]})
    else:
        assert value == expected


def test_unknown_platform_is_a_config_error() -> None:
    """Not built in, no plugin of that name."""
    with pytest.raises(ConfigError, match="platform: unknown 'nope'"):
        platform_class("nope")


class _Entry:
    """A stand-in for an installed entry point."""

    def __init__(self, name: str, obj: object) -> None:
        self.name, self._obj = name, obj

    def load(self) -> object:
        return self._obj


class MyShop(StorePlatform):
    """A plugin platform."""

    name = "myshop"


def test_plugins_come_from_the_entry_point_group(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name not built in is looked up in ``sniper.platforms``; a non-Platform is refused."""
    import sniper.client.platforms as registry

    def fake_entry_points(group: str) -> list[_Entry]:
        assert group == "sniper.platforms"
        return [_Entry("myshop", MyShop), _Entry("broken", object())]

    monkeypatch.setattr(registry, "entry_points", fake_entry_points)
    assert platform_class("myshop") is MyShop
    assert platform_class("store") is StorePlatform
    with pytest.raises(ConfigError, match="not a Platform class"):
        platform_class("broken")
    with pytest.raises(ConfigError, match="known: broken, http, myshop, store"):
        platform_class("nope")


#: Answers of a "success" that carry no order id (and one whose id is too long to be one).
NOT_AN_ORDER_ID = [None, "", "   ", {}, {"id": 1}, [], ["A1"], True, False, float("nan"), "x" * 129]


class TestOrderIds:
    """Only a non-empty string or a number, of bounded length, is an order id."""

    @pytest.mark.parametrize("value", NOT_AN_ORDER_ID)
    def test_store_success_without_an_order_id_is_no_order(self, value: Any) -> None:
        """A 201 whose order_id is null, empty, an object, a boolean...: tried again."""
        body = json.dumps({"order_id": value}).encode()
        verdict = StorePlatform(task(), "c").classify(answer(201, body))
        assert (verdict.kind, verdict.order_id) == (Kind.RETRY, None)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [("A1", "A1"), (" A1 ", "A1"), (12345, "12345"), (1.5, "1.5"), ("x" * 128, "x" * 128)],
    )
    def test_store_order_ids(self, value: Any, expected: str) -> None:
        """Strings (trimmed) and numbers are order ids."""
        verdict = StorePlatform(task(), "c").classify(answer(201, {"order_id": value}))
        assert (verdict.kind, verdict.order_id) == (Kind.ORDERED, expected)

    @pytest.mark.parametrize("value", NOT_AN_ORDER_ID)
    def test_http_rule_that_finds_no_order_id(self, value: Any) -> None:
        """The http platform's json rule too: a 200 without a real order id is no order."""
        platform = HttpPlatform(http_task(order_id=[Match(json="data.orderId")]), "c")
        body = json.dumps({"data": {"orderId": value}}).encode()
        verdict = platform.classify(answer(200, body))
        assert (verdict.kind, verdict.order_id) == (Kind.RETRY, None)

    def test_http_later_rule_may_still_find_one(self) -> None:
        """A rule that matches a non-id gives way to the next rule."""
        platform = HttpPlatform(http_task(order_id=[Match(json="data"), Match(json="id")]), "c")
        verdict = platform.classify(answer(200, {"data": {"x": 1}, "id": 77}))
        assert (verdict.kind, verdict.order_id) == (Kind.ORDERED, "77")

    @pytest.mark.parametrize(
        ("body", "found"),
        [
            ({"orders": [{"order_id": "OLD"}]}, "OLD"),
            ({"orders": [{"order_id": None}]}, None),
            ({"orders": [{"order_id": {}}]}, None),
            ({"orders": ["OLD"]}, None),
            ({"orders": {"order_id": "OLD"}}, None),
            ({"orders": []}, None),
            ([1, 2], None),
        ],
    )
    async def test_existing_order_lookup(self, body: Any, found: str | None) -> None:
        """The limit_reached lookup reads ids by the same rule."""

        class Canned:
            async def request(self, call: Any, timeout_s: float) -> Response:
                return answer(200, body)

        got = await StorePlatform(task(), "c").existing_order(Canned(), 1.0)  # type: ignore[arg-type]
        assert got == found


@pytest.mark.parametrize(
    ("orders", "found"),
    [
        ([{"order_id": "YESTERDAY", "created_ms": 1_000_000}], None),
        (
            [{"order_id": "OLD", "created_ms": 1_000_000}, {"order_id": "NOW", "created_ms": 0}],
            None,
        ),
        ([{"order_id": "OLD", "created_ms": 1}, {"order_id": "NOW", "created_ms": "AT"}], "NOW"),
        ([{"order_id": "NO_TIME"}], None),
        ([{"order_id": "NOW", "created_ms": True}], None),
    ],
)
async def test_a_repeating_task_finds_only_this_openings_order(
    orders: list[dict[str, Any]], found: str | None
) -> None:
    """Under the item's limit, an earlier opening's order is no order of this one."""
    daily = task(target_time="07:00:00Z", repeat="daily")
    at = daily.at(datetime(2024, 4, 16, 7, tzinfo=UTC))
    for order in orders:
        if order.get("created_ms") == "AT":
            order["created_ms"] = at.target_ms + 3
        elif order.get("created_ms") == 0:
            order["created_ms"] = at.target_ms - 86_400_000

    class Canned:
        async def request(self, call: Any, timeout_s: float) -> Response:
            return answer(200, {"orders": orders})

    got = await StorePlatform(at, "c").existing_order(Canned(), 1.0)  # type: ignore[arg-type]
    assert got == found
