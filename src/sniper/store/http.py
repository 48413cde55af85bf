"""How the store speaks HTTP, shared by the order hot path, the routes and the middleware.

One renderer turns every :class:`StoreError` into its answer, ``(status, JSON body, headers)``
(as Starlette renders every exception in one place); one reader takes a request body off ASGI
``receive`` within the size limit; :data:`ORDER_PATH` is where orders are placed.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from starlette.responses import Response
from starlette.types import Receive, Send

from sniper.errors import ClientGone, OutcomeUnknown, StoreError, TooLarge
from sniper.store.settings import MAX_BODY_BYTES

#: ``POST`` here places an order (the hot path); ``GET`` lists the caller's orders.
ORDER_PATH = "/api/orders"
JSON = "application/json"
Headers = tuple[tuple[bytes, bytes], ...]
#: Status, JSON body and the headers beside ``Content-Type`` and ``Content-Length``.
Answer = tuple[int, bytes, Headers]

#: Rendered refusals by (class, status, message, retry_after): at an opening the same few
#: refusals repeat by the thousand, and each is encoded once. Cleared when full, so that
#: messages carrying a client's input cannot grow it without bound.
_RENDERED: dict[tuple[type[StoreError], int, str, float | None], Answer] = {}
_MAX_RENDERED = 256


def render_error(exc: StoreError) -> Answer:
    """The answer to a StoreError: its status, its JSON body (``{"error": CODE, "message":
    TEXT}``, see :meth:`StoreError.payload`) and ``Retry-After`` where it has one."""
    key = (exc.__class__, exc.status, exc.message, exc.retry_after)
    answer = _RENDERED.get(key)
    if answer is None:
        answer = exc.status, orjson.dumps(exc.payload()), _retry_after(exc.retry_after)
        if not isinstance(exc, OutcomeUnknown):  # carries its own request id: never cached
            if len(_RENDERED) >= _MAX_RENDERED:
                _RENDERED.clear()
            _RENDERED[key] = answer
    return answer


def _retry_after(seconds: float | None) -> Headers:
    if seconds is None:
        return ()
    return ((b"retry-after", b"%d" % max(1, int(seconds))),)


#: The answer to a failure nobody foresaw (its traceback goes to the log).
INTERNAL = render_error(StoreError("internal error"))


def error_response(exc: StoreError) -> Response:
    """:func:`render_error`'s answer as a Starlette response (routes and exception handlers)."""
    return answer_response(render_error(exc))


def answer_response(answer: Answer) -> Response:
    """An answer as a Starlette response."""
    status, body, headers = answer
    extra = {name.decode("latin-1"): value.decode("latin-1") for name, value in headers}
    return Response(body, status, extra, media_type=JSON)


async def send_json(
    send: Send, status: int, body: bytes, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """A complete JSON answer in two ASGI messages."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


#: A number of fewer digits than this Python reads at once, whatever it is.
_SHORT = 19


def declared_within(declared: bytes, limit: int) -> bool:
    """Whether a ``Content-Length`` value is a number of at most ``limit`` (without reading a
    value of thousands of digits as a number: Python refuses those, with an error)."""
    if len(declared) < _SHORT and declared.isdigit():  # the usual: a plain number, a few digits
        return int(declared) <= limit
    digits = declared.lstrip(b"0")
    return declared.isdigit() and len(digits) <= len(str(limit)) and int(digits or b"0") <= limit


async def read_body(receive: Receive, declared: bytes | None, limit: int = MAX_BODY_BYTES) -> bytes:
    """The request body from ASGI ``receive``: :class:`TooLarge` before reading anything when
    the declared ``Content-Length`` is over ``limit`` (or not a number), else as soon as what
    arrives is; :class:`ClientGone` when the client leaves before its body is in."""
    if declared is not None and not declared_within(declared, limit):
        raise TooLarge(f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone("the client went away before sending its body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"request body over {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
