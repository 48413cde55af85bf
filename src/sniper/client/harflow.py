"""From picked HAR exchanges to a flow task, with correlation. Pure.

Each pick is a step, in the order given; the last is the ``open`` step, the others ``before``.
A value in a picked request that an earlier picked *answer* handed out (a JSON value, a header,
a cookie it set) is what the shop will hand out again at run time, so it becomes a ``save`` on
that earlier step and a ``{name}`` placeholder here. Only whole values correlate (a URL path
segment, a query or form value, a header value or one after an auth scheme, a JSON value of
the body, the whole URL), and only values that cannot be a coincidence: text of 4 characters or
more that is not a plain word (``order``, ``in_stock``), a JSON integer of 4 digits or more,
or a JSON number with a fraction (a price: ``12.5`` becomes ``"price":{price}``, still a
number); never ``true``/``false``/``null``, nor the ``--sku-id`` (that is ``{sku_id}``), nor a
value the flow had sent before that answer (an echo hands nothing out); never in the headers a
browser fills in itself (``Accept``, ``Content-Type``, ``User-Agent``, ``Referer``, ``Sec-*``…).
The nearest earlier answer wins; within one answer, its JSON before its headers before its cookies.

Cookies an earlier picked answer set travel in the flow's cookie jar at run time: they leave
the task's cookie, and need no placeholder where they travel only as cookies.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, unquote_plus, urlsplit

from sniper.client.capture import kept_header
from sniper.client.har import Exchange
from sniper.client.skumark import mark_form, mark_headers, mark_json, mark_url
from sniper.errors import ConfigError

#: Placeholders the flow fills itself: a saved value may not take their names.
BUILTINS = frozenset({"sku_id", "qty", "request_id", "now_ms"})
#: Answer headers that describe the answer, not values a shop hands out.
_GENERIC_HEADERS = frozenset(
    {
        "accept-ranges",
        "age",
        "alt-svc",
        "cache-control",
        "connection",
        "content-encoding",
        "content-language",
        "content-length",
        "content-security-policy",
        "content-type",
        "date",
        "etag",
        "expires",
        "keep-alive",
        "last-modified",
        "nel",
        "permissions-policy",
        "pragma",
        "referrer-policy",
        "report-to",
        "server",
        "server-timing",
        "set-cookie",
        "strict-transport-security",
        "timing-allow-origin",
        "transfer-encoding",
        "vary",
        "via",
        "x-content-type-options",
        "x-frame-options",
        "x-powered-by",
        "x-xss-protection",
    }
)
_GENERIC_PREFIXES = ("access-control-", "cross-origin-")
#: Request headers the browser fills in itself: their values never came from an answer.
_BROWSER_HEADERS = frozenset(
    {
        "accept",
        "accept-language",
        "cache-control",
        "content-type",
        "dnt",
        "origin",
        "pragma",
        "priority",
        "referer",
        "upgrade-insecure-requests",
        "user-agent",
        "x-requested-with",
    }
)
#: A plain word ("order", "in_stock", "Add-To-Cart") is in many URLs and answers by chance.
_WORD = re.compile(r"[A-Za-z][a-z]*(?:[ _-][A-Za-z][a-z]*)*")
_MIN_CHARS = 4
_MIN_INTEGER = 1000
_AUTH_VALUE = re.compile(r"([A-Za-z][A-Za-z0-9_-]*) (\S+)")
_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]+")
_STEP_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
_JSON_BLANKS = " \t\n\r"


@dataclass(frozen=True)
class Source:
    """A value an answer handed out: which step, how to save it, its text (and its number,
    when it is a JSON number)."""

    step: int
    save: tuple[str, str]  # ("json", "data.cartId"), ("header", "X-Token"), ("cookie", "csrf")
    text: str
    number: int | float | None = None


@dataclass
class HarFlow:
    """The flow's steps (as the task file writes them), the cookie for the cookie file, each
    correlation made (a line), and how many times the item's id became ``{sku_id}``."""

    steps: list[dict[str, Any]]
    cookie: str | None
    notes: list[str] = field(default_factory=list)
    sku_found: int = 0


class _Correlator:
    """Finds where a request's values came from and names the saves it makes."""

    def __init__(self, sources: list[list[Source]], names: list[str]) -> None:
        self.sources = sources
        self.names = names
        self.saves: list[dict[str, dict[str, str]]] = [{} for _ in names]
        self._named: dict[Source, str] = {}
        self.notes: list[str] = []

    def placeholder(self, step: int, where: str, text: str, number: Any = None) -> str | None:
        """``{name}`` for the value ``text`` (or JSON ``number``) of step ``step``'s request
        at ``where``, if an earlier answer handed it out."""
        for earlier in range(step - 1, -1, -1):
            for source in self.sources[earlier]:
                if _matches(source, text, number):
                    return "{" + self._name(source, step, where) + "}"
        return None

    def _name(self, source: Source, step: int, where: str) -> str:
        name = self._named.get(source)
        if name is None:
            taken = {n for saves in self.saves for n in saves} | BUILTINS
            name = _unique(_save_name(source.save[1]), taken, "_")
            self._named[source] = name
            self.saves[source.step][name] = {source.save[0]: source.save[1]}
        kind, ref = source.save
        self.notes.append(
            f"{self.names[step]}: {where} is {{{name}}}, saved from "
            f"{self.names[source.step]}'s answer ({kind}: {ref})"
        )
        return name


def build_flow(exchanges: Sequence[Exchange], picked: Sequence[int], sku_id: str | None) -> HarFlow:
    """The flow of the picked exchanges (indexes into ``exchanges``, in step order)."""
    chosen = [exchanges[i] for i in picked]
    names = step_names([ex.url for ex in chosen])
    _check_picks(
        chosen, [f"--pick {i + 1} ({name})" for i, name in zip(picked, names, strict=True)]
    )
    sent = [" ".join(_sent(ex) for ex in chosen[: k + 1]) for k in range(len(chosen))]
    sources = [_sources(ex, k, sku_id, sent[k]) for k, ex in enumerate(chosen)]
    correlator = _Correlator(sources, names)
    requests = [_request(ex, k, correlator) for k, ex in enumerate(chosen)]
    found = 0
    if sku_id:
        for ex, request in zip(chosen, requests, strict=True):
            found += _mark_sku(request, _body_kind(ex), sku_id)
    steps = [
        {
            "name": names[k],
            "when": "open" if k == len(chosen) - 1 else "before",
            "request": request,
            **({"save": correlator.saves[k]} if correlator.saves[k] else {}),
        }
        for k, request in enumerate(requests)
    ]
    set_earlier = {name for ex in chosen[:-1] for name, _ in ex.set_cookies}
    return HarFlow(steps, _task_cookie(chosen[-1], set_earlier), correlator.notes, found)


def _check_picks(chosen: list[Exchange], labels: list[str]) -> None:
    """Every step an http(s) request; every answer a later step may draw on, kept by the HAR."""
    for label, ex in zip(labels, chosen, strict=True):
        scheme = urlsplit(ex.url).scheme
        if scheme not in ("http", "https"):
            raise ConfigError(f"{label}: not an http(s) request ({scheme}:)")
    for label, ex in zip(labels[:-1], chosen[:-1], strict=True):
        if ex.response_text is None and ex.response_size > 0:
            raise ConfigError(
                f"{label}: the HAR holds no text of its answer, which later steps may need; "
                "save the HAR again once the page has loaded, or pick another request"
            )


def step_names(urls: Sequence[str]) -> list[str]:
    """A unique, valid name (``[A-Za-z0-9_-]+``) per step, from its URL's last path segment."""
    names: list[str] = []
    for url in urls:
        segment = unquote(urlsplit(url).path.rstrip("/").rpartition("/")[2])
        base = _STEP_CHARS.sub("_", segment).strip("_") or "step"
        names.append(_unique(base, set(names), "-"))
    return names


def _unique(base: str, taken: set[str], joiner: str) -> str:
    name, n = base, 2
    while name in taken:
        name, n = f"{base}{joiner}{n}", n + 1
    return name


def _save_name(ref: str) -> str:
    """``data.items.0.price`` -> ``price``; ``cartId`` -> ``cart_id``; ``X-Token`` ->
    ``x_token``: a placeholder name (``[A-Za-z_][A-Za-z0-9_]*``)."""
    last = next((p for p in reversed(ref.split(".")) if not p.isdigit()), "value")
    snake = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", last).lower()
    name = _NAME_CHARS.sub("_", snake).strip("_") or "value"
    return f"v_{name}" if name[0].isdigit() else name


def _eligible(source: Source) -> bool:
    """Whether a value is too distinctive to be in a later request by coincidence."""
    number = source.number
    if isinstance(number, float):
        return True
    if isinstance(number, int):
        return abs(number) >= _MIN_INTEGER
    return len(source.text) >= _MIN_CHARS and not _WORD.fullmatch(source.text)


def _matches(source: Source, text: str, number: Any) -> bool:
    """Whether a request's value is the answer's: a JSON number of the body only by a number
    of the same kind (an int never equals a float here), text by text."""
    if number is None:
        return source.text == text
    return type(source.number) is type(number) and source.number == number


def _sent(ex: Exchange) -> str:
    return " ".join([ex.url, *(v for _, v in ex.headers), ex.body or ""])


def _sources(ex: Exchange, step: int, sku_id: str | None, sent: str) -> list[Source]:
    """What the answer of step ``step`` handed out that could be in a later request: not what
    the flow had sent by then (an answer echoing the item's id hands nothing out)."""
    found: list[Source] = []
    if ex.response_text is not None:
        try:
            data = json.loads(ex.response_text)
        except ValueError:
            data = None
        found += [Source(step, ("json", path), *_text_of(v)) for path, v in _json_values(data)]
    found += [
        Source(step, ("header", name), value)
        for name, value in ex.response_headers
        if not _generic(name)
    ]
    found += [Source(step, ("cookie", name), value) for name, value in ex.set_cookies]
    return [s for s in found if _eligible(s) and s.text != sku_id and s.text not in sent]


def _generic(header: str) -> bool:
    lowered = header.lower()
    return lowered in _GENERIC_HEADERS or lowered.startswith(_GENERIC_PREFIXES)


def _text_of(value: str | int | float) -> tuple[str, int | float | None]:
    if isinstance(value, str):
        return value, None
    return (repr(value) if isinstance(value, float) else str(value)), value


def _json_values(data: Any, path: str = "") -> Iterator[tuple[str, str | int | float]]:
    """Each string and number in ``data`` with its dotted path (keys holding a dot cannot be
    named by a path, and are passed over)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if "." not in key:
                yield from _json_values(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _json_values(value, f"{path}.{i}" if path else str(i))
    elif isinstance(data, str | int | float) and not isinstance(data, bool):
        yield path, data


def _request(ex: Exchange, step: int, correlator: _Correlator) -> dict[str, Any]:
    """The step's ``request:``: the captured bytes, correlated values as placeholders."""
    headers: dict[str, str] = {}
    for name, captured in ex.headers:
        if not kept_header(name):
            continue
        value = _header_value(name, captured, step, correlator)
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    request: dict[str, Any] = {
        "method": ex.method,
        "url": _url(ex.url, step, correlator),
        "headers": headers,
    }
    if ex.body is not None:
        request["body"] = _body(ex, step, correlator)
    return request


def _header_value(name: str, value: str, step: int, correlator: _Correlator) -> str:
    if name.lower().startswith("sec-") or name.lower() in _BROWSER_HEADERS:
        return value
    whole = correlator.placeholder(step, f"header {name}", value)
    if whole is not None:
        return whole
    scheme = _AUTH_VALUE.fullmatch(value)
    if scheme is not None:
        token = correlator.placeholder(step, f"header {name}", scheme.group(2))
        if token is not None:
            return f"{scheme.group(1)} {token}"
    return value


def _url(url: str, step: int, correlator: _Correlator) -> str:
    """The URL as written, its correlated path segments and query values replaced."""
    whole = correlator.placeholder(step, "url", url)
    if whole is not None:
        return whole
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    rest = url[len(origin) :]
    path, q, query = rest.partition("?")
    query, hash_, fragment = query.partition("#")
    segments = [
        correlator.placeholder(step, "url path", unquote(seg)) or seg if seg else seg
        for seg in path.split("/")
    ]
    new_path = "/".join(segments)
    if q:
        new_path += "?" + _pairs(query, step, correlator, "query")
    return origin + new_path + hash_ + fragment


def _pairs(text: str, step: int, correlator: _Correlator, where: str) -> str:
    """``k=v&…`` (a query or a form) with each correlated value replaced, the rest as sent."""
    out = []
    for pair in text.split("&"):
        key, eq, value = pair.partition("=")
        found = eq and correlator.placeholder(step, f"{where} {key}", unquote_plus(value))
        out.append(f"{key}={found}" if found else pair)
    return "&".join(out)


def _body_kind(ex: Exchange) -> str | None:
    """``json`` (an object or array), ``form`` (by its type), or None: a body to leave whole."""
    try:
        data = json.loads(ex.body or "")
    except ValueError:
        data = None
    if isinstance(data, dict | list):
        return "json"
    if "x-www-form-urlencoded" in (ex.header("content-type") or "").lower():
        return "form"
    return None


def _body(ex: Exchange, step: int, correlator: _Correlator) -> str:
    body = ex.body or ""
    kind = _body_kind(ex)
    if kind == "json":
        return _json_body(body, step, correlator)
    if kind == "form":
        return _pairs(body, step, correlator, "form")
    return body


def _json_body(body: str, step: int, correlator: _Correlator) -> str:
    """The JSON body with each correlated value replaced where it stands (every other byte
    as captured): a string by ``"{name}"``, a number by ``{name}``."""
    out, last = [], 0
    for path, start, end, value in _leaves(body):
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            continue
        number = None if isinstance(value, str) else value
        found = correlator.placeholder(step, f"body {path}", _text_of(value)[0], number)
        if found is None:
            continue
        out += [body[last:start], found if number is not None else f'"{found}"']
        last = end
    return "".join(out) + body[last:]


def _leaves(text: str) -> list[tuple[str, int, int, Any]]:
    """Every scalar of the JSON ``text`` (known to parse) with its path and where it stands."""
    decoder = json.JSONDecoder()
    found: list[tuple[str, int, int, Any]] = []

    def skip(i: int) -> int:
        while text[i] in _JSON_BLANKS:
            i += 1
        return i

    def value(i: int, path: str) -> int:
        i = skip(i)
        if text[i] in "{[":
            closing, n = ("}" if text[i] == "{" else "]"), 0
            i = skip(i + 1)
            while text[i] != closing:
                if closing == "}":
                    key, i = decoder.raw_decode(text, i)
                    i = skip(i) + 1  # past the ":"
                else:
                    key, n = str(n), n + 1
                i = skip(value(i, f"{path}.{key}" if path else key))
                i = skip(i + 1) if text[i] == "," else i
            return i + 1
        scalar, end = decoder.raw_decode(text, i)
        found.append((path, i, end, scalar))
        return end

    value(0, "")
    return found


def _mark_sku(request: dict[str, Any], kind: str | None, sku_id: str) -> int:
    """``{sku_id}`` wherever the item's id stands as a whole value (as ``import-curl`` marks
    it): a path segment or query value, a header value, a JSON or form value of the body (read
    by its captured kind: placeholders already in it make it no JSON any more); how many."""
    found = 0
    if urlsplit(request["url"]).netloc:  # not a whole-URL placeholder
        request["url"], found = mark_url(request["url"], sku_id)
    request["headers"], in_headers = mark_headers(request["headers"], sku_id)
    found += in_headers
    body = request.get("body")
    if body is not None:
        if kind == "json":
            request["body"], in_body = mark_json(body, sku_id)
        elif kind == "form":
            request["body"], in_body = mark_form(body, sku_id)
        else:
            request["body"], in_body = ("{sku_id}", 1) if body == sku_id else (body, 0)
        found += in_body
    return found


def _task_cookie(ex: Exchange, set_earlier: set[str]) -> str | None:
    """The open step's ``Cookie`` header without the cookies an earlier step's answer set (the
    flow's cookie jar has them at run time)."""
    header = ex.header("cookie")
    if header is None:
        return None
    kept = [
        pair.strip()
        for pair in header.split(";")
        if pair.strip() and pair.partition("=")[0].strip() not in set_earlier
    ]
    return "; ".join(kept) or None
