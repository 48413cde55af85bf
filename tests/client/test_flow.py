"""Flows: the task format's rules, each step's request and answer, and one connection's way
through the ``open`` steps. Pure: answers are made up, nothing is sent."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sniper.client.checkout import StepFailed
from sniper.client.config import TaskConfig, load_task
from sniper.client.connection import Response
from sniper.client.flow import Flow, FlowCheckout
from sniper.client.outcome import Kind, Verdict
from sniper.errors import ConfigError

SHOP = "http://127.0.0.1:9001"
CART: dict[str, Any] = {
    "name": "cart",
    "when": "before",
    "request": {"method": "GET", "url": f"{SHOP}/api/cart?sku={{sku_id}}"},
    "expect": {"status": [200], "json": "code", "equals": 0},
    "save": {"cart_id": {"json": "data.cartId"}, "price": {"json": "data.items.0.price"}},
}
TOKEN: dict[str, Any] = {
    "name": "token",
    "when": "open",
    "request": {"method": "POST", "url": "/api/seckill/token", "body": '{"sku":"{sku_id}"}'},
    "save": {"token": {"json": "data.token"}},
    "rules": {"not_started": [{"json": "code", "equals": 4002}]},
}
SUBMIT: dict[str, Any] = {
    "name": "submit",
    "request": {
        "method": "POST",
        "url": f"{SHOP}/api/order/submit",
        "headers": {"X-Token": "{token}", "Content-Type": "application/json"},
        "body": '{"cartId":"{cart_id}","price":{price},"token":"{token}","rid":"{request_id}"}',
    },
    "rules": {"order_id": [{"json": "data.orderId"}], "sold_out": [{"regex": "售罄"}]},
}


def flow_task(*steps: dict[str, Any], **fields: Any) -> TaskConfig:
    """An http task with these steps."""
    data: dict[str, Any] = {
        "platform": "http",
        "base_url": SHOP,
        "sku_id": "100234567",
        "target_time": "2030-04-15T07:00:00+08:00",
        "cookie": "session=abc",
        "flow": list(steps or (CART, TOKEN, SUBMIT)),
        **fields,
    }
    return TaskConfig.model_validate(data)


def answer(status: int, body: Any, *headers: tuple[str, str]) -> Response:
    return Response(status, headers, json.dumps(body, ensure_ascii=False).encode(), 0.0)


def sent(call: Any) -> tuple[str, str, dict[str, str], bytes]:
    return call.method, call.target, dict(call.headers), call.body


class TestTheFormat:
    """A flow that cannot run is refused when the file is read: one line naming the step."""

    def test_the_design_example_loads(self) -> None:
        task = flow_task()
        assert [s.name for s in task.steps] == ["cart", "token", "submit"]
        assert [s.when for s in task.steps] == ["before", "open", "open"]

    def test_a_single_request_is_a_one_step_flow(self) -> None:
        task = TaskConfig.model_validate(
            {
                "platform": "http",
                "base_url": SHOP,
                "sku_id": "1",
                "target_time": "2030-04-15T07:00:00+08:00",
                "request": {"url": f"{SHOP}/buy", "body": "{request_id}"},
            }
        )
        (step,) = task.steps
        assert (step.name, step.when, step.rules) == ("order", "open", task.rules)

    @pytest.mark.parametrize(
        ("steps", "fields", "message"),
        [
            ([{**TOKEN, "when": "later"}, SUBMIT], {}, r"flow\.0 \(token\)\.when: Input should be"),
            (
                [{**TOKEN, "name": "to ken"}, SUBMIT],
                {},
                r"flow\.0 \(to ken\)\.name: String should match",
            ),
            ([CART], {}, r"flow: needs an 'open' step"),
            ([TOKEN, CART, SUBMIT], {}, r"flow\.1 \(cart\): a 'before' step cannot follow"),
            ([CART, TOKEN, {**SUBMIT, "name": "token"}], {}, r"flow\.2 \(token\): the name token"),
            (
                [CART, {**SUBMIT, "rules": None}, TOKEN],
                {},
                r"flow\.1 \(submit\): \{token\} is saved only by a later step \(token\)",
            ),
            (
                [CART, {**TOKEN, "rules": {"order_id": [{"json": "id"}]}}, SUBMIT],
                {},
                r"flow\.1 \(token\): rules: only the last step's rules",
            ),
            (
                [{**CART, "save": {"sku_id": {"json": "x"}}}, TOKEN, SUBMIT],
                {},
                r"save: sku_id is a built-in",
            ),
            (
                [{**CART, "save": {"t": {"regex": "no group"}}}, TOKEN, SUBMIT],
                {},
                r"regex must have exactly one \(group\), it has 0",
            ),
            (
                [{**CART, "save": {"t": {"json": "a", "header": "b"}}}, TOKEN, SUBMIT],
                {},
                r'give one of "json", "regex", "header" or "cookie"',
            ),
            (
                [
                    {**CART, "save": {"t": {"cookie": "c"}}},
                    {**TOKEN, "save": {"t": {"json": "x"}}},
                    SUBMIT,
                ],
                {},
                r"save: t is saved by step cart already",
            ),
            (
                [{**CART, "expect": {"equals": 0}}, TOKEN, SUBMIT],
                {},
                r'"equals" needs a "json" path',
            ),
            (
                [CART, {**TOKEN, "request": {"url": "shop/token"}}, SUBMIT],
                {},
                r"flow\.1 \(token\): request\.url must be an http",
            ),
            (
                [CART, {**TOKEN, "request": {"url": "http://other:1/t"}}, SUBMIT],
                {},
                r"every 'open' step must go to one origin",
            ),
            (
                [CART, TOKEN, SUBMIT],
                {"request": {"url": f"{SHOP}/x"}},
                r"give 'request' \(one request\) or 'flow'",
            ),
            ([], {}, r"flow: List should have at least 1 item"),
            ([{**CART, "request": None}, TOKEN, SUBMIT], {}, r"flow\.0 \(cart\)\.request: "),
            (
                [{k: v for k, v in CART.items() if k != "name"}, TOKEN, SUBMIT],
                {},
                r"flow\.0\.name: Field required",
            ),
            (
                [{**CART, "expect": {"json": "a", "regex": "b"}}, TOKEN, SUBMIT],
                {},
                r'flow\.0 \(cart\)\.expect: give "json" or "regex", not both',
            ),
            (
                [{**CART, "expect": {"regex": "("}}, TOKEN, SUBMIT],
                {},
                r"flow\.0 \(cart\)\.expect\.regex: regex does not compile",
            ),
            (
                [{**CART, "expect": {"status": "200"}}, TOKEN, SUBMIT],
                {},
                r"flow\.0 \(cart\)\.expect\.status: ",
            ),
            (
                [{**CART, "save": {"t": {"regex": "(("}}}, TOKEN, SUBMIT],
                {},
                r"flow\.0 \(cart\)\.save\.t\.regex: regex does not compile",
            ),
            (
                [{**CART, "save": {"t-1": {"json": "a"}}}, TOKEN, SUBMIT],
                {},
                r"save: 't-1' is not a name",
            ),
            (
                [{**CART, "save": {"t": {"jsn": "a"}}}, TOKEN, SUBMIT],
                {},
                r"flow\.0 \(cart\)\.save\.t\.jsn: unknown field",
            ),
            (
                [{**CART, "retries": 3}, TOKEN, SUBMIT],
                {},
                r"flow\.0 \(cart\)\.retries: unknown field",
            ),
            (
                [
                    {**CART, "rules": {"not_started": [{"json": "code", "equals": 1}]}},
                    TOKEN,
                    SUBMIT,
                ],
                {},
                r"flow\.0 \(cart\): rules: only the last step's rules",
            ),
            (
                [
                    CART,
                    TOKEN,
                    {**SUBMIT, "request": {"url": f"{SHOP}/x", "headers": {"X-A": "a\nb"}}},
                ],
                {},
                r"flow\.2 \(submit\)\.request\.headers: header 'X-A' is not valid",
            ),
            ("cart", {}, r"flow: Input should be a valid list"),
        ],
    )
    def test_refused(
        self, steps: list[dict[str, Any]], fields: dict[str, Any], message: str, tmp_path: Any
    ) -> None:
        path = tmp_path / "task.yaml"
        data = {
            "platform": "http",
            "base_url": SHOP,
            "sku_id": "1",
            "target_time": "2030-04-15T07:00:00+08:00",
            "cookie": "session=abc",
            "flow": steps,
            **fields,
        }
        path.write_text(json.dumps(data))
        with pytest.raises(ConfigError, match=message):
            load_task(path)


class TestSteps:
    """What each step sends and what its answer gives."""

    def test_a_before_step_fills_its_request_and_saves_from_its_answer(self) -> None:
        flow = Flow(flow_task(), "session=abc")
        built = flow.build(flow.before[0], flow.values("rid-1"), 0)
        assert sent(built.call) == (
            "GET",
            "/api/cart?sku=100234567",
            {"Cookie": "session=abc"},
            b"",
        )
        saved = flow.read(
            built,
            answer(
                200,
                {"code": 0, "data": {"cartId": "c-7", "items": [{"price": 12.5}]}},
                ("set-cookie", "csrf=x1; Path=/"),
            ),
        )
        assert saved == {"cart_id": "c-7", "price": 12.5}

    @pytest.mark.parametrize(
        ("response", "message"),
        [
            (answer(500, {}), r"step cart: expected HTTP 200, got HTTP 500"),
            (answer(200, {"code": 1}), r"step cart: the answer does not match expect \(code = 0\)"),
            (
                answer(200, {"code": 0, "data": {}}),
                r"step cart: save cart_id: json data\.cartId is not in the answer",
            ),
            (Response(200, (), b"not json", 0.0), r"step cart: the answer does not match expect"),
        ],
    )
    def test_an_answer_not_as_expected_names_the_step(
        self, response: Response, message: str
    ) -> None:
        flow = Flow(flow_task(), "session=abc")
        built = flow.build(flow.before[0], flow.values("rid-1"), 0)
        with pytest.raises(StepFailed, match=message):
            flow.read(built, response)

    @pytest.mark.parametrize(
        ("save", "response", "value"),
        [
            ({"regex": r"token=(\w+)"}, Response(200, (), b"ok token=t123 end", 0.0), "t123"),
            ({"header": "X-Token"}, Response(200, (("x-token", "h-9"),), b"", 0.0), "h-9"),
            (
                {"cookie": "csrf"},
                Response(200, (("set-cookie", "csrf=c-5; Path=/"),), b"", 0.0),
                "c-5",
            ),
            ({"json": "data.list.1"}, answer(200, {"data": {"list": [1, 2]}}), 2),
        ],
    )
    def test_saves(self, save: dict[str, str], response: Response, value: object) -> None:
        step = {**CART, "expect": {}, "save": {"v": save}}
        flow = Flow(flow_task(step, TOKEN, {**SUBMIT, "request": {"url": "/s", "body": "{v}"}}), "")
        built = flow.build(flow.before[0], flow.values("rid"), 0)
        assert flow.read(built, response) == {"v": value}

    def test_a_secret_value_never_shows_in_a_failure(self) -> None:
        flow = Flow(flow_task(), "session=abc")
        built = flow.build(flow.before[0], flow.values("rid"), 0)
        with pytest.raises(StepFailed) as caught:
            flow.read(built, answer(200, {"code": 7, "token": "sekret-123"}))
        assert "sekret" not in str(caught.value)


def ready_flow() -> Flow:
    """The design example's flow, its cart step already answered."""
    flow = Flow(flow_task(), "session=abc")
    flow.saved.update({"cart_id": "c-7", "price": 12.5})
    return flow


class TestCheckout:
    """One connection at the opening: token, then submit at once; retries as the run says."""

    def test_the_token_then_the_submit_with_every_value(self) -> None:
        checkout = FlowCheckout(ready_flow(), "snp-1", lambda: 5.0)
        first = checkout.first(1000.0)
        assert checkout.step == "token"
        assert sent(first) == (
            "POST",
            "/api/seckill/token",
            {"Cookie": "session=abc"},
            b'{"sku":"100234567"}',
        )
        submit = checkout.next(
            answer(200, {"code": 0, "data": {"token": "t-1"}}, ("set-cookie", "csrf=z9; Path=/"))
        )
        assert not isinstance(submit, Verdict)
        assert checkout.step == "submit"
        method, target, headers, body = sent(submit)
        assert (method, target) == ("POST", "/api/order/submit")
        assert headers["X-Token"] == "t-1"
        assert "csrf=z9" in headers["Cookie"]
        assert "session=abc" in headers["Cookie"]
        assert json.loads(body) == {"cartId": "c-7", "price": 12.5, "token": "t-1", "rid": "snp-1"}
        verdict = checkout.next(answer(200, {"code": 0, "data": {"orderId": "O-1"}}))
        assert verdict == Verdict(Kind.ORDERED, order_id="O-1")

    def test_not_started_starts_again_from_the_first_open_step(self) -> None:
        checkout = FlowCheckout(ready_flow(), "snp-1", lambda: 5.0)
        checkout.first(0.0)
        checkout.next(answer(200, {"code": 0, "data": {"token": "t-1"}}))
        verdict = checkout.next(answer(425, {}))
        assert isinstance(verdict, Verdict)
        assert verdict.kind is Kind.NOT_STARTED
        again = checkout.again(verdict)
        assert checkout.step == "token"
        assert again.target == "/api/seckill/token"

    @pytest.mark.parametrize(
        ("response", "kind"),
        [
            (answer(200, {"code": 4002, "msg": "not yet"}), Kind.NOT_STARTED),
            (answer(200, {"code": 5001, "msg": "商品已售罄"}), Kind.SOLD_OUT),
            (answer(401, {}), Kind.AUTH),
            (answer(429, {}), Kind.RATE_LIMITED),
            (answer(503, {}), Kind.RETRY),
            (answer(200, {"code": 0, "data": {}}), Kind.RETRY),  # no token: the step again
            (answer(404, {}), Kind.RETRY),
        ],
    )
    def test_what_an_earlier_open_step_answer_means(self, response: Response, kind: Kind) -> None:
        checkout = FlowCheckout(ready_flow(), "snp-1", lambda: 5.0)
        checkout.first(0.0)
        verdict = checkout.next(response)
        assert isinstance(verdict, Verdict)
        assert verdict.kind is kind
        if kind is Kind.RETRY:
            assert checkout.again(verdict).target == "/api/seckill/token"

    @pytest.mark.parametrize(
        "data",
        [
            {"token": "t-1", "soldOut": False},
            {"token": "t-1", "notStarted": False},
            {"token": "t-1", "tip": "每人限购1件"},
            {"token": "t-1", "msg": "not started yet? no: started"},
        ],
    )
    def test_an_earlier_step_is_not_read_by_the_default_regexes(self, data: Any) -> None:
        """A token's answer that merely mentions sold out, not started or a limit goes on: an
        earlier step says a refusal only by its own rules, or by the exact JSON codes."""
        token = {k: v for k, v in TOKEN.items() if k != "rules"}
        flow = Flow(flow_task(CART, token, SUBMIT), "session=abc")
        flow.saved.update({"cart_id": "c-7", "price": 12.5})
        checkout = FlowCheckout(flow, "snp-1", lambda: 5.0)
        checkout.first(0.0)
        following = checkout.next(answer(200, {"code": 0, "data": data}))
        assert not isinstance(following, Verdict)
        assert checkout.step == "submit"
        refused = FlowCheckout(flow, "snp-1", lambda: 5.0)
        refused.first(0.0)
        assert refused.next(answer(409, {"error": "sold_out"})) == Verdict(
            Kind.SOLD_OUT, detail="sold_out"
        )

    @pytest.mark.parametrize(
        "url", ["http://127.0.0.1:99999/x", "http://[::1/x", "http://shop/a b", "http://shop/下单"]
    )
    def test_a_saved_url_that_cannot_be_sent_is_fatal(self, url: str) -> None:
        submit = {"name": "submit", "request": {"url": "{order_url}"}}
        token = {**TOKEN, "save": {"order_url": {"json": "data.url"}}}
        flow = Flow(flow_task(token, submit), "")
        checkout = FlowCheckout(flow, "snp-1", lambda: 0.0)
        checkout.first(0.0)
        verdict = checkout.next(answer(200, {"data": {"url": url}}))
        assert isinstance(verdict, Verdict)
        assert verdict.kind is Kind.FATAL
        assert verdict.detail.startswith("step submit: its URL")

    def test_now_ms_is_the_planned_arrival_then_the_server_clock(self) -> None:
        token = {**TOKEN, "request": {"url": "/t?at={now_ms}"}}
        submit = {**SUBMIT, "request": {"url": "/s?at={now_ms}"}}
        flow = Flow(flow_task(CART, token, submit), "")
        flow.saved.update({"cart_id": "c", "price": 1})
        checkout = FlowCheckout(flow, "snp-1", lambda: 2000.4)
        assert checkout.first(1000.9).target == "/t?at=1000"
        nxt = checkout.next(answer(200, {"data": {"token": "t"}}))
        assert not isinstance(nxt, Verdict)
        assert nxt.target == "/s?at=2000"

    def test_a_value_that_cannot_be_built_is_fatal(self) -> None:
        flow = ready_flow()
        checkout = FlowCheckout(flow, "snp-1", lambda: 0.0)
        checkout.first(0.0)
        verdict = checkout.next(answer(200, {"data": {"token": "bad\r\nX-Evil: 1"}}))
        assert isinstance(verdict, Verdict)
        assert verdict.kind is Kind.FATAL
        assert "step submit: request.headers.X-Token" in verdict.detail

    def test_a_missing_before_value_is_an_error_at_the_step(self) -> None:
        flow = Flow(flow_task(), "")  # the cart step never ran
        checkout = FlowCheckout(flow, "snp-1", lambda: 0.0)
        checkout.first(0.0)
        verdict = checkout.next(answer(200, {"data": {"token": "t"}}))
        assert isinstance(verdict, Verdict)
        assert verdict.kind is Kind.FATAL
        assert verdict.detail == "step submit: {cart_id} has no value"
