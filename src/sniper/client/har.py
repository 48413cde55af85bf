"""A browser's "Save all as HAR": its exchanges, listed and picked. Pure.

Chrome and Firefox write the same HAR 1.2 with their own additions, and both are read here:
Chrome's ``_resourceType`` / ``_initiator`` / ``_priority``, lowercase HTTP/2 header names with
``:authority``-style pseudo-headers, answers in base64 (``content.encoding``); Firefox's header
names in their own case, ``postData.params`` beside ``text``, and answers with no
``content.text`` at all for some types. Only what a replay needs is kept: the request's exact
bytes (method, URL as written, headers, body) and the answer's status, headers, cookies and
text.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit

from sniper.client.scrub import printable
from sniper.errors import ConfigError

#: Chrome's ``_resourceType`` of what a page loads for itself, never a shop's API call.
_STATIC_TYPES = frozenset(
    {"image", "stylesheet", "script", "font", "media", "manifest", "texttrack", "other-static"}
)
_STATIC_MIME = re.compile(r"^(image|font|audio|video)/|^text/css|javascript|wasm")
_STATIC_PATH = re.compile(
    r"\.(js|mjs|css|png|jpe?g|gif|webp|avif|svg|ico|woff2?|ttf|otf|eot|map|mp4|webm)$", re.I
)
#: Query keys whose values the listing hides: they carry sessions, tokens and signatures.
_SECRET_KEY = re.compile(r"token|sign|secret|session|sid$|auth|pass|ticket|key", re.I)
#: What a form body can carry unencoded; a param holding anything else was written decoded.
_FORM_RAW = re.compile(r"^[A-Za-z0-9*\-._~%+!'()]*$")


@dataclass(frozen=True)
class Exchange:
    """One HAR entry: the request as sent, and what the HAR kept of its answer."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: str | None
    status: int
    response_headers: tuple[tuple[str, str], ...]
    #: The answer's text; None when the HAR has none (not saved, or not text).
    response_text: str | None
    #: The answer's length as the HAR says it (0: an empty answer, nothing lost).
    response_size: int
    #: ``name -> value`` of every cookie the answer set.
    set_cookies: tuple[tuple[str, str], ...]
    static: bool

    def header(self, name: str) -> str | None:
        """The request header ``name`` (any case), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


def read_har(data: bytes) -> list[Exchange]:
    """Every entry of a HAR file (its bytes), in the file's order."""
    try:
        har = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError("har: the file is not UTF-8 text") from None
    except ValueError as exc:
        raise ConfigError(f"har: not JSON ({exc})") from None
    log = har.get("log") if isinstance(har, dict) else None
    entries = log.get("entries") if isinstance(log, dict) else None
    if not isinstance(entries, list):
        raise ConfigError("har: not a HAR file (no log.entries); save it with 'Save all as HAR'")
    return [_exchange(entry, n) for n, entry in enumerate(entries, 1)]


def _exchange(entry: Any, n: int) -> Exchange:
    request = entry.get("request") if isinstance(entry, dict) else None
    if not isinstance(request, dict):
        raise ConfigError(f"har: entry {n}: no request")
    method, url = request.get("method"), request.get("url")
    if not isinstance(method, str) or not isinstance(url, str) or not method:
        raise ConfigError(f"har: entry {n}: the request has no method or url")
    response = entry.get("response")
    response = response if isinstance(response, dict) else {}
    content = response.get("content")
    content = content if isinstance(content, dict) else {}
    status = response.get("status")
    text = _answer_text(content)
    size = content.get("size")
    return Exchange(
        method=method.upper(),
        url=url,
        headers=_pairs(request.get("headers")),
        body=_request_body(request.get("postData"), n),
        status=status if isinstance(status, int) else 0,
        response_headers=_pairs(response.get("headers")),
        response_text=text,
        response_size=size if isinstance(size, int) and size > 0 else len(text or ""),
        set_cookies=_set_cookies(response),
        static=_is_static(entry, url, content),
    )


def _pairs(items: Any) -> tuple[tuple[str, str], ...]:
    """HAR's ``[{name, value}]`` as pairs, the malformed ones left out."""
    if not isinstance(items, list):
        return ()
    return tuple(
        (item["name"], item["value"])
        for item in items
        if isinstance(item, dict)
        and isinstance(item.get("name"), str)
        and isinstance(item.get("value"), str)
    )


def _request_body(post: Any, n: int) -> str | None:
    """The body as sent: ``postData.text`` (base64 if ``encoding`` says so), or, when a HAR
    has only ``params``, the form rebuilt from them."""
    if not isinstance(post, dict):
        return None
    text = post.get("text")
    if isinstance(text, str):
        if post.get("encoding") != "base64":
            return text
        try:
            return base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise ConfigError(
                f"har: entry {n}: the body is base64 but not UTF-8 text: it cannot be replayed"
            ) from None
    params = _pairs(post.get("params"))
    return _form(params) if params else None


def _form(params: tuple[tuple[str, str], ...]) -> str:
    """A form body from its params: joined as given when they are as sent (Chrome), encoded
    as a browser would when they were written decoded (a blank, ``&``, non-ASCII...)."""
    raw = all(_FORM_RAW.match(k) and _FORM_RAW.match(v) for k, v in params)
    if raw:
        return "&".join(f"{k}={v}" for k, v in params)
    return "&".join(f"{quote_plus(k)}={quote_plus(v)}" for k, v in params)


def _answer_text(content: dict[str, Any]) -> str | None:
    text = content.get("text")
    if not isinstance(text, str):
        return None
    if content.get("encoding") != "base64":
        return text
    try:
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None  # an image or other binary answer: nothing to correlate with


def _set_cookies(response: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The cookies an answer set: HAR's ``cookies`` and every ``Set-Cookie`` header (Chrome
    may join several with a line break)."""
    found = dict(_pairs(response.get("cookies")))
    for name, value in _pairs(response.get("headers")):
        if name.lower() != "set-cookie":
            continue
        for line in value.split("\n"):
            cookie, eq, cookie_value = line.partition(";")[0].partition("=")
            if eq and cookie.strip():
                found.setdefault(cookie.strip(), cookie_value.strip())
    return tuple(found.items())


def _is_static(entry: dict[str, Any], url: str, content: dict[str, Any]) -> bool:
    kind = entry.get("_resourceType")
    if isinstance(kind, str):
        return kind in _STATIC_TYPES
    mime = content.get("mimeType")
    if isinstance(mime, str) and _STATIC_MIME.search(mime):
        return True
    return _STATIC_PATH.search(urlsplit(url).path) is not None


def listing(exchanges: Sequence[Exchange]) -> list[str]:
    """One line per exchange: its number (from 1), method, status and URL; static resources
    (scripts, styles, images, fonts) marked. Query values that look secret are hidden."""
    width = len(str(len(exchanges)))
    return [
        f"{n:>{width}}  {ex.method:<7} {ex.status or '---':>3}  {_shown_url(ex.url)}"
        + ("  (static)" if ex.static else "")
        for n, ex in enumerate(exchanges, 1)
    ]


def _shown_url(url: str) -> str:
    base, q, query = url.partition("?")
    if q:
        pairs = []
        for pair in query.split("&"):
            key, eq, value = pair.partition("=")
            hidden = eq and len(value) >= 4 and _SECRET_KEY.search(key)
            pairs.append(f"{key}=…" if hidden else pair)
        base = f"{base}?{'&'.join(pairs)}"
    return printable(base)


def pick(exchanges: Sequence[Exchange], picks: Sequence[str]) -> list[int]:
    """The index of each ``--pick``: a number (from 1), or the first exchange whose URL
    contains the text."""
    chosen = []
    for given in picks:
        if given.isdigit():
            number = int(given)
            if not 1 <= number <= len(exchanges):
                raise ConfigError(
                    f"--pick {given}: no request number {given} (the HAR has {len(exchanges)})"
                )
            chosen.append(number - 1)
            continue
        found = next((i for i, ex in enumerate(exchanges) if given in ex.url), None)
        if found is None:
            raise ConfigError(f"--pick {printable(given)}: no request's URL contains it")
        chosen.append(found)
    return chosen
