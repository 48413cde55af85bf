"""Where an item id stands as a whole value in a request, ``{sku_id}`` in its place. Pure.

A whole value: a path segment or a query value of the URL, a string or number value of a JSON
body (not a key), a value of a form body, a whole header value, a whole body. Never a piece of
something longer: not inside a host, a port, a longer number or a longer word.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote, unquote_plus, urlsplit

SKU = "{sku_id}"

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[^"\-\d]+|.', re.S)
_KEY_AFTER = re.compile(r"\s*:")


def mark_url(url: str, sku_id: str) -> tuple[str, int]:
    """The URL with each path segment and query value equal to ``sku_id`` marked."""
    parts = urlsplit(url)
    segments = parts.path.split("/")
    found = 0
    for index, segment in enumerate(segments):
        if segment and unquote(segment) == sku_id:
            segments[index], found = SKU, found + 1
    query, in_query = mark_form(parts.query, sku_id) if parts.query else ("", 0)
    path = "/".join(segments)
    marked = f"{parts.scheme}://{parts.netloc}{path}" + (f"?{query}" if parts.query else "")
    return marked, found + in_query


def mark_form(text: str, sku_id: str) -> tuple[str, int]:
    """``a=1&b=2`` with each value equal to ``sku_id`` marked (names are left alone)."""
    items = text.split("&")
    found = 0
    for index, item in enumerate(items):
        name, eq, value = item.partition("=")
        if eq and value and unquote_plus(value) == sku_id:
            items[index], found = f"{name}={SKU}", found + 1
    return "&".join(items), found


def mark_json(text: str, sku_id: str) -> tuple[str, int]:
    """A JSON text with each string or number value equal to ``sku_id`` marked (keys are left
    alone, every other byte as it was)."""
    out: list[str] = []
    found = 0
    for token in _JSON_TOKEN.finditer(text):
        piece = token.group(0)
        if piece.startswith('"') and len(piece) > 1:
            is_key = _KEY_AFTER.match(text, token.end()) is not None
            if not is_key and json.loads(piece) == sku_id:
                piece, found = f'"{SKU}"', found + 1
        elif piece == sku_id and re.fullmatch(r"-?\d.*", piece):
            piece, found = SKU, found + 1
        out.append(piece)
    return "".join(out), found


def mark_body(body: str, sku_id: str, content_type: str) -> tuple[str, int]:
    """A body, read as JSON if it is JSON, else as a form; a body that is the id itself is
    marked whole."""
    if body == sku_id:
        return SKU, 1
    try:
        json.loads(body)
    except ValueError:
        if "json" in content_type.lower():
            return body, 0
        return mark_form(body, sku_id)
    return mark_json(body, sku_id)


def mark_headers(headers: dict[str, str], sku_id: str) -> tuple[dict[str, str], int]:
    """The headers with each value that is ``sku_id`` whole marked."""
    marked = {name: SKU if value == sku_id else value for name, value in headers.items()}
    return marked, sum(value == sku_id for value in headers.values())
