"""Each user's order request: the bench file's templates filled with the user's values."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from sniper.bench.order import OrderForm, new_run_id, request_id
from sniper.bench.users import User
from sniper.client.config import HttpRequest
from sniper.client.connection import Origin

ALICE = User(0, "alice", token="t-alice", cookie="session=a1")


def _form(cookie_column: bool = True, **request: object) -> OrderForm:
    fields = {"method": "post", "url": "https://shop.test:8443/seckill?u={user}", **request}
    return OrderForm.of(HttpRequest.model_validate(fields), cookie_column=cookie_column)


class TestCall:
    def test_method_target_headers_and_body(self) -> None:
        """Path and query as written with the user's values in; headers and body filled."""
        form = _form(
            headers={"Authorization": "Bearer {token}", "Content-Type": "application/json"},
            body='{"user":"{user}","rid":"{request_id}"}',
        )
        assert form.origin == Origin("https", "shop.test", 8443)
        call = form.call(ALICE, "run1-0")
        assert call.method == "POST"
        assert call.target == "/seckill?u=alice"
        assert call.headers == (
            ("Authorization", "Bearer t-alice"),
            ("Content-Type", "application/json"),
            ("Cookie", "session=a1"),
        )
        assert json.loads(call.body) == {"user": "alice", "rid": "run1-0"}

    def test_values_are_escaped_for_where_they_stand(self) -> None:
        """A name with quotes, a backslash and non-ASCII stays one JSON string in a JSON body,
        is percent-encoded in the URL, and form-encoded in a form body."""
        odd = User(3, 'a"b\\c 王&x=1', token="t")
        call = _form(
            headers={"Content-Type": "application/json; charset=utf-8"},
            body='{"user":"{user}","n":1}',
        ).call(odd, "r")
        assert json.loads(call.body) == {"user": 'a"b\\c 王&x=1', "n": 1}
        assert parse_qs(call.target.split("?", 1)[1]) == {"u": ['a"b\\c 王&x=1']}
        assert call.target.isascii()
        form = _form(
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            body="user={user}&sku=1",
        )
        assert parse_qs(form.call(odd, "r").body.decode()) == {
            "user": ['a"b\\c 王&x=1'],
            "sku": ["1"],
        }

    def test_a_value_cannot_add_json_members(self) -> None:
        """A placeholder outside a JSON string writes the value as a JSON string, never as
        JSON of its own."""
        form = _form(headers={"Content-Type": "application/json"}, body='{"user":{user}}')
        hostile = User(0, 'x","admin":true,"y":"z')
        assert json.loads(form.call(hostile, "r").body) == {"user": 'x","admin":true,"y":"z'}

    def test_no_body_and_a_root_path(self) -> None:
        """A GET to the origin alone: target `/`, empty body."""
        form = _form(method="GET", url="http://127.0.0.1:9000")
        call = form.call(ALICE, "r")
        assert (call.method, call.target, call.body) == ("GET", "/", b"")


class TestCookie:
    def test_the_cookie_column_is_the_cookie_header_when_the_request_says_nothing(
        self,
    ) -> None:
        """No Cookie header and no {cookie}: each user's cookie is sent as its Cookie header."""
        call = _form().call(ALICE, "r")
        assert ("Cookie", "session=a1") in call.headers
        assert next(n for n in _form().needs() if n.name == "cookie").field == "the Cookie header"

    def test_a_request_that_places_the_cookie_itself(self) -> None:
        """`Cookie: "{cookie}; lang=en"` is sent as written, once."""
        call = _form(headers={"Cookie": "{cookie}; lang=en"}).call(ALICE, "r")
        assert [v for k, v in call.headers if k.lower() == "cookie"] == ["session=a1; lang=en"]

    def test_a_request_with_its_own_cookie_header(self) -> None:
        """A fixed Cookie header wins; the users file's cookie is not added."""
        call = _form(headers={"cookie": "ab=1"}).call(ALICE, "r")
        assert [v for k, v in call.headers if k.lower() == "cookie"] == ["ab=1"]

    def test_cookie_placed_in_the_body_only(self) -> None:
        """`{cookie}` in the body: the request placed it; no header is added."""
        call = _form(body="c={cookie}").call(ALICE, "r")
        assert call.body == b"c=session=a1"
        assert all(k.lower() != "cookie" for k, _ in call.headers)

    def test_no_cookie_column_no_cookie_header(self) -> None:
        """Without a cookie column nothing is added."""
        call = _form(cookie_column=False).call(User(0, "alice", token="t"), "r")
        assert all(k.lower() != "cookie" for k, _ in call.headers)


def test_needs_name_each_field() -> None:
    """What each part takes, as the bench file names it."""
    form = _form(
        cookie_column=False,
        headers={"X-T": "{token}", "X-Fixed": "1"},
        body="{request_id}",
    )
    assert [(n.name, n.field, n.header) for n in form.needs()] == [
        ("user", "request.url", False),
        ("token", "request.headers.X-T", True),
        ("request_id", "request.body", False),
    ]


class TestRequestId:
    def test_run_and_row(self) -> None:
        """RUN-INDEX; every run id is new."""
        run = new_run_id()
        assert request_id(run, 42) == f"{run}-42"
        assert len(run) == 12
        assert new_run_id() != run

    @pytest.mark.parametrize("run", ["", "a b", "x" * 64, "王", "a\nb"])
    def test_refused_unless_1_to_64_printable_ascii(self, run: str) -> None:
        """A request id is one placeholder value: 1-64 printable ASCII, no space."""
        with pytest.raises(ValueError, match="1-64 printable ASCII"):
            request_id(run, 0)


def test_ten_thousand_users() -> None:
    """10,000 users' requests: each its own body and request id, none sharing a template's
    state."""
    form = _form(
        headers={"Authorization": "Bearer {token}", "Content-Type": "application/json"},
        body='{"user":"{user}","rid":"{request_id}"}',
    )
    run = new_run_id()
    users = [User(i, f"u{i}", token=f"t{i}", cookie=f"s={i}") for i in range(10_000)]
    calls = [form.call(u, request_id(run, u.index)) for u in users]
    bodies = {json.loads(c.body)["rid"] for c in calls}
    assert len(bodies) == 10_000
    assert calls[9_999].headers[0] == ("Authorization", "Bearer t9999")
    assert calls[9_999].target == "/seckill?u=u9999"
