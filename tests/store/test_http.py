"""The store's one error renderer and one body reader, shared by the hot path, the routes and
the middleware."""

from __future__ import annotations

import orjson
import pytest
from starlette.types import Message

from sniper.errors import (
    BadRequest,
    ClientGone,
    HeadersTooLarge,
    OutcomeUnknown,
    RateLimited,
    RequestTimeout,
    SoldOut,
    StoreError,
    TooLarge,
    Unavailable,
)
from sniper.store.http import (
    declared_within,
    error_response,
    read_body,
    render_error,
    send_json,
)


class TestRenderError:
    @pytest.mark.parametrize(
        ("error", "status", "body", "headers"),
        [
            (SoldOut("sold out"), 409, {"error": "sold_out", "message": "sold out"}, ()),
            (BadRequest("qty: bad"), 400, {"error": "bad_request", "message": "qty: bad"}, ()),
            (
                StoreError("internal error"),
                500,
                {"error": "internal", "message": "internal error"},
                (),
            ),
            (RequestTimeout("late"), 408, {"error": "timeout", "message": "late"}, ()),
            (HeadersTooLarge("big"), 431, {"error": "too_large", "message": "big"}, ()),
            (
                RateLimited("too many requests", retry_after=2),
                429,
                {"error": "rate_limited", "message": "too many requests"},
                ((b"retry-after", b"2"),),
            ),
            (
                RateLimited("too many requests", retry_after=0.2),
                429,
                {"error": "rate_limited", "message": "too many requests"},
                ((b"retry-after", b"1"),),
            ),
            (
                Unavailable("down"),
                503,
                {"error": "unavailable", "message": "down"},
                ((b"retry-after", b"1"),),
            ),
        ],
    )
    def test_answers(
        self,
        error: StoreError,
        status: int,
        body: dict[str, str],
        headers: tuple[tuple[bytes, bytes], ...],
    ) -> None:
        """Status, ``{"error", "message"}`` and ``Retry-After`` (whole seconds, at least 1)."""
        got_status, got_body, got_headers = render_error(error)
        assert (got_status, orjson.loads(got_body), got_headers) == (status, body, headers)

    def test_a_refusal_is_encoded_once(self) -> None:
        """The thousandth sold-out answer is the first one's bytes, not a new encoding."""
        assert render_error(SoldOut("sold out")) is render_error(SoldOut("sold out"))

    def test_outcome_unknown_carries_its_own_request_id(self) -> None:
        """Two orders whose outcome is unknown each get their own request id back."""
        first = render_error(OutcomeUnknown("maybe", request_id="r-1"))
        second = render_error(OutcomeUnknown("maybe", request_id="r-2"))
        assert orjson.loads(first[1])["request_id"] == "r-1"
        assert orjson.loads(second[1]) == {
            "error": "outcome_unknown",
            "message": "maybe",
            "request_id": "r-2",
        }
        assert second[2] == ((b"retry-after", b"1"),)

    def test_status_set_on_the_instance(self) -> None:
        """An error given another status (Starlette's HTTP errors) is answered with it."""
        error = StoreError("teapot")
        error.status = 418
        assert render_error(error)[0] == 418
        assert render_error(StoreError("teapot"))[0] == 500

    def test_many_messages(self) -> None:
        """Messages carrying client input, past the cache's size, are each answered right."""
        for i in range(600):
            body = orjson.loads(render_error(BadRequest(f"field {i}"))[1])
            assert body == {"error": "bad_request", "message": f"field {i}"}

    def test_starlette_response(self) -> None:
        """The routes' response: the same body, ``Retry-After`` ahead of the length and type."""
        response = error_response(RateLimited("too many requests", retry_after=3))
        assert response.status_code == 429
        assert response.body == render_error(RateLimited("too many requests", retry_after=3))[1]
        assert response.raw_headers == [
            (b"retry-after", b"3"),
            (b"content-length", str(len(response.body)).encode()),
            (b"content-type", b"application/json"),
        ]


class _Receive:
    """ASGI ``receive`` over a list of messages; fails the test if read past them."""

    def __init__(self, *messages: Message) -> None:
        self.messages = list(messages)

    async def __call__(self) -> Message:
        assert self.messages, "read past the messages sent"
        return self.messages.pop(0)


def _chunk(body: bytes, more: bool = False) -> Message:
    return {"type": "http.request", "body": body, "more_body": more}


class TestReadBody:
    async def test_chunks_joined(self) -> None:
        """A body sent in pieces comes back whole."""
        receive = _Receive(_chunk(b'{"a":', True), _chunk(b"", True), _chunk(b" 1}"))
        assert await read_body(receive, b"9") == b'{"a": 1}'

    async def test_no_declared_length(self) -> None:
        """Without ``Content-Length`` (chunked), the body is read to its end."""
        assert await read_body(_Receive(_chunk(b"abc")), None) == b"abc"

    @pytest.mark.parametrize("declared", [b"4097", b"12a", b"", b"-1"])
    async def test_declared_too_large_refused_before_reading(self, declared: bytes) -> None:
        """A declared length over the limit, or not a number, is 413 with nothing read."""
        with pytest.raises(TooLarge, match="request body over 4096 bytes"):
            await read_body(_Receive(), declared)

    async def test_streamed_too_large(self) -> None:
        """A body that turns out longer than the limit is refused as soon as it is."""
        receive = _Receive(_chunk(b"x" * 3000, True), _chunk(b"y" * 3000, True))
        with pytest.raises(TooLarge):
            await read_body(receive, None)
        assert receive.messages == []

    async def test_limit(self) -> None:
        """The limit is a parameter: exactly the limit passes, one byte more does not."""
        assert await read_body(_Receive(_chunk(b"12345")), b"5", limit=5) == b"12345"
        with pytest.raises(TooLarge, match="over 5 bytes"):
            await read_body(_Receive(_chunk(b"123456")), None, limit=5)

    async def test_client_gone(self) -> None:
        """A disconnect before the body's end is :class:`ClientGone`."""
        receive = _Receive(_chunk(b"{", True), {"type": "http.disconnect"})
        with pytest.raises(ClientGone):
            await read_body(receive, b"10")


async def test_send_json() -> None:
    """Two ASGI messages: the start with type, length and the extra headers, then the body."""
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    await send_json(send, 409, b'{"x":1}', [(b"date", b"now")])
    assert sent == [
        {
            "type": "http.response.start",
            "status": 409,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"7"),
                (b"date", b"now"),
            ],
        },
        {"type": "http.response.body", "body": b'{"x":1}'},
    ]


@pytest.mark.parametrize(
    ("declared", "within"),
    [
        (b"0", True),
        (b"4096", True),
        (b"4097", False),
        (b"0" * 5000 + b"17", True),  # leading zeros: 17, read without a 5,000-digit number
        (b"000017", True),
        (b"9" * 18, False),  # the longest read as it is
        (b"0" * 17 + b"17", True),  # and the shortest read after its zeros are stripped
        (b"0" * 17 + b"4097", False),
        (b"9" * 5000, False),
        (b"", False),
        (b"-1", False),
        (b"1e3", False),
        (b" 17", False),
    ],
)
def test_declared_within(declared: bytes, within: bool) -> None:
    assert declared_within(declared, 4096) is within
