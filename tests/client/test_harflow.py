"""From picked exchanges to a flow: correlation, exact bytes, names, the cookie."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sniper.client.capture import kept_header
from sniper.client.har import Exchange
from sniper.client.harflow import build_flow, step_names
from sniper.errors import ConfigError
from tests.client.test_har import chrome, firefox

SHOP = "http://127.0.0.1:9000"


def exchange(
    url: str = "/api/x",
    *,
    method: str = "POST",
    headers: tuple[tuple[str, str], ...] = (),
    body: str | None = None,
    answer: Any = None,
    answer_headers: tuple[tuple[str, str], ...] = (),
    set_cookies: tuple[tuple[str, str], ...] = (),
) -> Exchange:
    """One exchange with the shop; ``answer`` is JSON-encoded unless it is text already."""
    text = answer if isinstance(answer, str | None) else json.dumps(answer)
    return Exchange(
        method=method,
        url=SHOP + url,
        headers=headers,
        body=body,
        status=200,
        response_headers=answer_headers,
        response_text=text,
        response_size=len(text or ""),
        set_cookies=set_cookies,
        static=False,
    )


def flow_of(*exchanges: Exchange, sku_id: str | None = None) -> list[dict[str, Any]]:
    """The steps of a flow that picks every exchange in order."""
    return build_flow(exchanges, list(range(len(exchanges))), sku_id).steps


CART = {"code": 0, "data": {"cartId": "C-7731", "items": [{"price": 12.5, "qty": 1}]}}


class TestCorrelation:
    """A value from an earlier answer becomes a save there and a placeholder here."""

    @pytest.mark.parametrize(
        ("first", "later", "save", "field", "expected"),
        [
            # JSON answer -> JSON body: a string stays quoted, a number stays a number.
            (
                exchange(answer=CART),
                exchange(body='{"cartId":"C-7731","price":12.5,"qty":1}'),
                {"cart_id": {"json": "data.cartId"}, "price": {"json": "data.items.0.price"}},
                "body",
                '{"cartId":"{cart_id}","price":{price},"qty":1}',
            ),
            # A JSON integer of 4 digits or more, as a number or as text.
            (
                exchange(answer={"data": {"addressId": 55210}}),
                exchange(body='{"a": 55210, "b": "55210"}'),
                {"address_id": {"json": "data.addressId"}},
                "body",
                '{"a": {address_id}, "b": "{address_id}"}',
            ),
            # Header -> query value, the rest of the query as written.
            (
                exchange(answer_headers=(("X-Checkout-Id", "ck-93f1"),)),
                exchange("/api/submit?a=%41&checkout=ck-93f1&v=2"),
                {"x_checkout_id": {"header": "X-Checkout-Id"}},
                "url",
                SHOP + "/api/submit?a=%41&checkout={x_checkout_id}&v=2",
            ),
            # Cookie -> header (a CSRF double submit).
            (
                exchange(set_cookies=(("XSRF-TOKEN", "x5rf-9f8e"),)),
                exchange(headers=(("X-XSRF-TOKEN", "x5rf-9f8e"),)),
                {"xsrf_token": {"cookie": "XSRF-TOKEN"}},
                "headers",
                {"X-XSRF-TOKEN": "{xsrf_token}"},
            ),
            # JSON -> form value (compared decoded, replaced where it stands).
            (
                exchange(answer={"data": {"note": "a b&c 99"}}),
                exchange(
                    body="x=1&note=a+b%26c+99&y=2",
                    headers=(("Content-Type", "application/x-www-form-urlencoded"),),
                ),
                {"note": {"json": "data.note"}},
                "body",
                "x=1&note={note}&y=2",
            ),
            # JSON -> a URL path segment.
            (
                exchange(answer={"orderNo": "O-5521"}),
                exchange("/api/order/O-5521/pay"),
                {"order_no": {"json": "orderNo"}},
                "url",
                SHOP + "/api/order/{order_no}/pay",
            ),
            # JSON -> the whole URL (handed out at the opening).
            (
                exchange(answer={"data": {"url": SHOP + "/api/go/a9f3"}}),
                exchange("/api/go/a9f3"),
                {"url": {"json": "data.url"}},
                "url",
                "{url}",
            ),
            # JSON -> the credentials after an auth scheme.
            (
                exchange(answer={"token": "tk_8Hq2ZpL0"}),
                exchange(headers=(("Authorization", "Bearer tk_8Hq2ZpL0"),)),
                {"token": {"json": "token"}},
                "headers",
                {"Authorization": "Bearer {token}"},
            ),
        ],
    )
    def test_correlated(
        self, first: Exchange, later: Exchange, save: dict[str, Any], field: str, expected: Any
    ) -> None:
        """The save goes on the answer's step, the placeholder where the value stood."""
        steps = flow_of(first, later)
        assert steps[0]["save"] == save
        assert steps[1]["request"][field] == expected
        assert "save" not in steps[1]

    @pytest.mark.parametrize(
        ("answer", "body"),
        [
            ({"qty": 1}, '{"qty":1}'),  # a small number
            ({"code": 200}, '{"code":200}'),
            ({"ok": True}, '{"ok":true}'),  # booleans and null never
            ({"v": None}, '{"v":null}'),
            ({"id": "a1b"}, '{"id":"a1b"}'),  # shorter than 4
            ({"type": "order"}, '{"type":"order"}'),  # a plain word
            ({"type": "in_stock"}, '{"type":"in_stock"}'),
            ({"n": 1000}, '{"n":1000.0}'),  # an int is not a float
            ({"n": "1000"}, '{"n":1000}'),  # text is not a number
            ({"sku": "100234567"}, '{"sku":"{sku_id}"}'),  # the item's id is {sku_id}
        ],
    )
    def test_not_correlated(self, answer: Any, body: str) -> None:
        """What could be in both by coincidence is left as captured."""
        captured = body.replace("{sku_id}", "100234567")
        steps = flow_of(exchange(answer=answer), exchange(body=captured), sku_id="100234567")
        assert "save" not in steps[0]
        assert steps[1]["request"]["body"] == body

    def test_an_echo_is_not_handed_out(self) -> None:
        """An answer repeating what the flow sent (the item's id in the cart's URL) is no
        source: the value was the flow's own."""
        first = exchange("/api/cart?sku=100234567", answer={"skuId": "100234567"})
        steps = flow_of(first, exchange(body='{"skuId":"100234567"}'))
        assert "save" not in steps[0]
        assert steps[1]["request"]["body"] == '{"skuId":"100234567"}'

    def test_a_plain_word_in_the_path_stays(self) -> None:
        """An answer saying ``"order"`` does not make ``/api/order/submit`` a placeholder."""
        steps = flow_of(
            exchange(answer={"kind": "order", "code": "submit"}), exchange("/api/order/submit")
        )
        assert steps[1]["request"]["url"] == SHOP + "/api/order/submit"

    def test_browser_headers_are_not_correlated(self) -> None:
        """The browser's own headers never came from an answer."""
        first = exchange(answer={"mime": "application/json", "ua": "Mozilla/5.0 X"})
        later = exchange(
            headers=(("Content-Type", "application/json"), ("User-Agent", "Mozilla/5.0 X"))
        )
        assert flow_of(first, later)[1]["request"]["headers"] == dict(later.headers)

    def test_generic_answer_headers_are_not_sources(self) -> None:
        """``Date``, ``Server``, ``ETag``… describe an answer, they hand nothing out."""
        first = exchange(answer_headers=(("Server", "nginx/1.25"), ("ETag", '"abc123"')))
        later = exchange(headers=(("X-Server", "nginx/1.25"), ("X-Tag", '"abc123"')))
        assert flow_of(first, later)[1]["request"]["headers"] == dict(later.headers)

    def test_the_nearest_answer_wins(self) -> None:
        """A value two answers handed out is saved from the later one."""
        a, b = exchange(answer={"t": "tok-1234"}), exchange(answer={"t": "tok-1234"})
        steps = flow_of(a, b, exchange(body='{"t":"tok-1234"}'))
        assert "save" not in steps[0]
        assert steps[1]["save"] == {"t": {"json": "t"}}

    def test_json_before_header_before_cookie(self) -> None:
        """One answer with the value three ways: its JSON is what is saved."""
        a = exchange(
            answer={"csrf": "c5rf-9f8e"},
            answer_headers=(("X-Csrf", "c5rf-9f8e"),),
            set_cookies=(("csrf", "c5rf-9f8e"),),
        )
        assert flow_of(a, exchange(body='{"c":"c5rf-9f8e"}'))[0]["save"] == {
            "csrf": {"json": "csrf"}
        }

    def test_names_unique_and_not_built_in(self) -> None:
        """Two values named alike get two names; a built-in name is never taken."""
        a = exchange(
            answer={"a": {"id": "id-0001"}, "b": {"id": "id-0002"}, "request_id": "r-9999"}
        )
        later = exchange(body='{"x":"id-0001","y":"id-0002","z":"r-9999"}')
        steps = flow_of(a, later)
        assert steps[0]["save"] == {
            "id": {"json": "a.id"},
            "id_2": {"json": "b.id"},
            "request_id_2": {"json": "request_id"},
        }
        assert steps[1]["request"]["body"] == '{"x":"{id}","y":"{id_2}","z":"{request_id_2}"}'

    def test_same_value_twice_is_one_save(self) -> None:
        """A token in a header and in the body: one save, two placeholders."""
        steps = flow_of(
            exchange(answer={"data": {"token": "tk-5678"}}),
            exchange(headers=(("X-Token", "tk-5678"),), body='{"token":"tk-5678"}'),
        )
        assert steps[0]["save"] == {"token": {"json": "data.token"}}
        assert steps[1]["request"]["headers"] == {"X-Token": "{token}"}
        assert steps[1]["request"]["body"] == '{"token":"{token}"}'


class TestExactBytes:
    """What the browser sent is what the step sends."""

    def test_json_body_bytes_kept(self) -> None:
        """Blanks, escapes and key order as captured; only the correlated value replaced."""
        body = '{ "cartId" : "C-7731",\n  "remark":"\\u5c3d\\/x", "n":[1, 2.50] }'
        steps = flow_of(exchange(answer=CART), exchange(body=body))
        assert steps[1]["request"]["body"] == body.replace('"C-7731"', '"{cart_id}"')

    def test_query_not_reencoded(self) -> None:
        """A query stays as written: ``%41``, ``+``, a bare key, an empty value."""
        url = "/api/a?x=%41&y=a+b&flag&z=&sku=100234567"
        (step,) = flow_of(exchange(url), sku_id="100234567")
        assert step["request"]["url"] == SHOP + url.replace("100234567", "{sku_id}")

    def test_sku_never_in_host_or_port(self) -> None:
        """The item's id in the host or port is left alone; a longer number too."""
        ex = Exchange(
            "GET",
            "http://10023:10023@127.0.0.1:10023/i/10023?n=100231&s=10023",
            (),
            None,
            200,
            (),
            None,
            0,
            (),
            False,
        )
        (step,) = build_flow([ex], [0], "10023").steps
        assert (
            step["request"]["url"]
            == "http://10023:10023@127.0.0.1:10023/i/{sku_id}?n=100231&s={sku_id}"
        )

    @pytest.mark.parametrize(
        ("body", "content_type", "marked"),
        [
            (
                '{"sku":100234567,"n":"1002345678"}',
                "application/json",
                '{"sku":{sku_id},"n":"1002345678"}',
            ),
            ("sku=100234567&n=1", "application/x-www-form-urlencoded", "sku={sku_id}&n=1"),
            ("100234567", "text/plain", "{sku_id}"),
            ("a 100234567", "text/plain", "a 100234567"),
        ],
    )
    def test_sku_whole_values(self, body: str, content_type: str, marked: str) -> None:
        """The item's id as a whole value of the body (read as captured, placeholders or not)
        and of a header becomes ``{sku_id}``; a whole-URL placeholder stays whole."""
        first = exchange(answer={"data": {"url": SHOP + "/api/go/a9f3"}})
        headers = (("Content-Type", content_type), ("X-Sku", "100234567"))
        later = exchange("/api/go/a9f3", headers=headers, body=body)
        request = flow_of(first, later, sku_id="100234567")[1]["request"]
        assert request["url"] == "{url}"
        assert request["headers"]["X-Sku"] == "{sku_id}"
        assert request["body"] == marked

    def test_headers_dropped(self) -> None:
        """Pseudo-headers, hop-by-hop, Host, Content-Length, Cookie, Accept-Encoding leave;
        the rest stays in the browser's order and case (HTTP/2's lowercase too)."""
        names = [
            ":authority",
            ":method",
            ":path",
            ":scheme",
            "Connection",
            "keep-alive",
            "TE",
            "Transfer-Encoding",
            "Upgrade",
            "Proxy-Authorization",
            "host",
            "content-length",
            "Cookie",
            "accept-encoding",
            "x-b",
            "X-A",
        ]
        ex = exchange(headers=tuple((n, "v") for n in names))
        assert flow_of(ex)[0]["request"]["headers"] == {"x-b": "v", "X-A": "v"}

    @pytest.mark.parametrize(
        ("name", "kept"),
        [
            ("Accept", True),
            ("proxy-connection", False),
            (":path", False),
            ("ACCEPT-ENCODING", False),
            ("Te", False),
            ("X-Te", True),
        ],
    )
    def test_kept_header(self, name: str, kept: bool) -> None:
        """One rule for both importers."""
        assert kept_header(name) is kept


class TestFlow:
    """Steps, names, the cookie, and what is refused."""

    def test_chrome_flow(self) -> None:
        """cart -> token -> submit from Chrome's export."""
        flow = build_flow(chrome(), [3, 4, 5], "100234567")
        assert [(s["name"], s["when"]) for s in flow.steps] == [
            ("cart", "before"),
            ("token", "before"),
            ("submit", "open"),
        ]
        assert flow.steps[0]["save"] == {
            "csrf": {"cookie": "csrf"},
            "cart_id": {"json": "data.cartId"},
            "price": {"json": "data.items.0.price"},
        }
        assert flow.steps[1]["save"] == {"token": {"json": "data.token"}}
        submit = flow.steps[2]["request"]
        assert submit["url"] == "https://shop.example.com/api/order/submit?v=2"
        assert submit["headers"]["x-token"] == "{token}"
        assert submit["headers"]["x-csrf-token"] == "{csrf}"
        assert submit["body"] == (
            '{"cartId":"{cart_id}","skuId":"{sku_id}","qty":1,"price":{price},'
            '"token":"{token}","remark":"\\u5c3d\\u5feb"}'
        )
        assert flow.cookie == "session=s3ss10n-abcdef123456"
        assert flow.sku_found == 3

    def test_firefox_form_step(self) -> None:
        """A form body from Firefox: the correlated value replaced, every other byte kept."""
        flow = build_flow(firefox(), [1, 2, 5], None)
        assert flow.steps[1]["request"]["body"] == (
            "addressId=A-5521&cartId={cart_id}&note=leave+at+the+door&city=%E4%B8%8A%E6%B5%B7"
        )
        assert flow.steps[2]["request"]["headers"]["X-CSRF-Token"] == "{csrf}"
        assert flow.steps[1]["save"] == {"x_checkout_id": {"header": "x-checkout-id"}}
        assert flow.steps[2]["request"]["url"].endswith("/submit?checkout={x_checkout_id}&v=2")
        assert "TE" not in flow.steps[2]["request"]["headers"]

    @pytest.mark.parametrize(
        ("cookie", "set_earlier", "task_cookie"),
        [
            ("session=abcd1234; csrf=c5rf-9f8e", ("csrf",), "session=abcd1234"),
            ("csrf=c5rf-9f8e", ("csrf",), None),
            ("a=1; b=2", (), "a=1; b=2"),
        ],
    )
    def test_task_cookie(
        self, cookie: str, set_earlier: tuple[str, ...], task_cookie: str | None
    ) -> None:
        """The open request's cookie, less what an earlier answer set (the jar has it)."""
        first = exchange(set_cookies=tuple((n, "zzzz") for n in set_earlier))
        later = exchange(headers=(("Cookie", cookie),))
        assert build_flow([first, later], [0, 1], None).cookie == task_cookie

    def test_no_answer_text_is_refused(self) -> None:
        """An earlier step whose answer the HAR did not keep: later values cannot be traced."""
        with pytest.raises(ConfigError) as caught:
            build_flow(firefox(), [1, 3, 5], None)
        assert str(caught.value).startswith(
            "--pick 4 (preview): the HAR holds no text of its answer"
        )

    def test_only_http_requests(self) -> None:
        """A WebSocket or data: entry cannot be a step."""
        ws = Exchange("GET", "wss://h/live", (), None, 101, (), None, 0, (), False)
        with pytest.raises(ConfigError) as caught:
            build_flow([exchange(), ws], [0, 1], None)
        assert str(caught.value) == "--pick 2 (live): not an http(s) request (wss:)"

    def test_empty_answer_is_fine(self) -> None:
        """An answer of zero bytes lost nothing."""
        empty = Exchange("POST", SHOP + "/a", (), None, 204, (), None, 0, (), False)
        assert len(build_flow([empty, exchange()], [0, 1], None).steps) == 2

    @pytest.mark.parametrize(
        ("urls", "names"),
        [
            (["http://h/api/cart", "http://h/api/cart?x=1"], ["cart", "cart-2"]),
            (["http://h/", "http://h"], ["step", "step-2"]),
            (["http://h/api/order.submit/"], ["order_submit"]),
            (["http://h/%E4%B8%8B%E5%8D%95", "http://h/v1/go-now"], ["step", "go-now"]),
        ],
    )
    def test_step_names(self, urls: list[str], names: list[str]) -> None:
        """From the URL's last path segment: valid and unique."""
        assert step_names(urls) == names
