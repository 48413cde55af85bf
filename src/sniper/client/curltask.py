"""A task made from what a curl command sends, reviewed as it is made. Pure.

The item id, where it stands as a whole value, becomes ``{sku_id}``
(:mod:`~sniper.client.skumark`); our own store's order call gets ``{request_id}`` (one order
per run, however many requests of the burst arrive); anything else that looks like a mistake (a
GET, an item id not in the request, no request id for a burst, no cookie) is a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sniper.client.capture import FILL_TARGET
from sniper.client.config import HttpRequest, TaskConfig
from sniper.client.curl import CurlRequest
from sniper.client.platforms.http import REQUEST_ID, carries_request_id
from sniper.client.skumark import mark_body, mark_headers, mark_url
from sniper.validation import duplicate_key


@dataclass
class Imported:
    """A task made from a captured request: its fields, what the import put in that the request
    did not have, and what looks wrong."""

    task: dict[str, object]
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def to_task(
    request: CurlRequest, *, sku_id: str | None, target_time: str | None, cookie_file: str | None
) -> Imported:
    """The task file's fields, reviewed. The sku id, where it stands as a whole value in the
    URL, a header or the body, becomes ``{sku_id}``; our store's order call gets
    ``{request_id}``."""
    url, headers, body = request.url, request.headers, request.body
    found = 0
    if sku_id:
        url, in_url = mark_url(url, sku_id)
        headers, in_headers = mark_headers(headers, sku_id)
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        body, in_body = mark_body(body, sku_id, content_type) if body is not None else (None, 0)
        found = in_url + in_headers + in_body
    imported = Imported({}, warnings=list(request.warnings))
    if body is not None and _is_store_order(request.method, url, body):
        body = _with_request_id(body)
        imported.notes.append(
            "this is the store's own order call: its body now carries "
            '"request_id": "{request_id}", one per run, so that the '
            "store makes one order of the whole burst"
        )
    parts = urlsplit(request.url)
    http = {
        "method": request.method,
        "url": url,
        "headers": headers,
        **({"body": body} if body is not None else {}),
    }
    imported.task = {
        "platform": "http",
        "base_url": f"{parts.scheme}://{parts.netloc}",
        **({"cookie_file": cookie_file} if cookie_file is not None else {}),
        "sku_id": sku_id or "FILL-ME",
        "target_time": target_time or FILL_TARGET,
        "request": http,
    }
    replayed = HttpRequest.model_construct(
        method=request.method, url=url, headers=headers, body=body
    )
    imported.warnings += _review(request, replayed, sku_id, found)
    return imported


def _review(
    captured: CurlRequest, request: HttpRequest, sku_id: str | None, sku_found: int
) -> list[str]:
    """What in a task made from ``captured`` looks like a mistake."""
    warnings = []
    if request.method in ("GET", "HEAD"):
        warnings.append(
            f"the request is a {request.method}: it fetches a page and places no "
            "order; copy the request the browser sends when you press the order "
            "(buy) button, usually a POST"
        )
    if sku_id and not sku_found:
        warnings.append(
            f"--sku-id {sku_id} appears nowhere in the request's URL, headers or body (as a "
            "whole value): the task orders the item the request names, whatever sku_id says"
        )
    burst = TaskConfig.model_fields["concurrency"].default
    if not carries_request_id(request):
        warnings.append(
            f"the request carries no request id: each of the {burst} requests of "
            "the burst (concurrency) may become an order of its own; put "
            "{request_id} where the shop takes an idempotency key, or set "
            "concurrency: 1 in the task"
        )
    if captured.cookie is None:
        warnings.append(
            "no cookie in the request: add cookie_file (or set SNIPER_COOKIE) "
            "before running the task"
        )
    return warnings


#: Every key the store's ``POST /api/orders`` accepts (it refuses any other): a body with
#: another key is some other shop's, whatever its path.
_STORE_ORDER_KEYS = frozenset({"sku_id", "qty", "request_id"})
_JSON_BLANKS = " \t\n\r"


def _is_store_order(method: str, url: str, body: str) -> bool:
    """Whether this is this project's store's ``POST /api/orders``: a JSON object with
    ``sku_id`` and no key the store would refuse (none twice, none unknown)."""
    if method != "POST" or not urlsplit(url).path.rstrip("/").endswith("/api/orders"):
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return (
        isinstance(data, dict)
        and "sku_id" in data
        and data.keys() <= _STORE_ORDER_KEYS
        and duplicate_key(body.encode()) is None
    )


def _members(text: str) -> tuple[dict[str, tuple[int, int]], int]:
    """Where each top-level member's value of the JSON object ``text`` stands (start, end),
    and where its last value ends."""
    decoder = json.JSONDecoder()
    spans: dict[str, tuple[int, int]] = {}
    i = text.index("{") + 1
    last = i
    while True:
        i = _skip_blanks(text, i)
        if text[i] == "}":
            return spans, last
        key, i = decoder.raw_decode(text, i)
        i = _skip_blanks(text, _skip_blanks(text, i) + 1)  # past the ":"
        _, end = decoder.raw_decode(text, i)
        spans[key], last = (i, end), end
        i = _skip_blanks(text, end)
        i += text[i] == ","


def _skip_blanks(text: str, i: int) -> int:
    while text[i] in _JSON_BLANKS:
        i += 1
    return i


def _with_request_id(body: str) -> str:
    """The store's order body (see :func:`_is_store_order`) with ``request_id`` set to the
    run's placeholder, every other byte as captured: an existing value is replaced where it
    stands, else the member goes after the last one."""
    spans, last = _members(body)
    value = json.dumps(REQUEST_ID)
    if "request_id" in spans:
        start, end = spans["request_id"]
        return body[:start] + value + body[end:]
    return f'{body[:last]},"request_id":{value}{body[last:]}'
