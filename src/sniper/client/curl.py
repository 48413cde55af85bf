"""Turn a browser's "Copy as cURL" into an ``http``-platform task. Pure.

Understands what Chrome and Firefox emit: the URL, ``-X``, ``-H``, ``-b``/``--cookie``,
``--data-raw``/``--data-binary``/``--data``/``-d``, ``--compressed``, ``-A``, ``-e``, line
continuations and bash's ``$'…'`` quoting, and Chrome's Windows form ("Copy as cURL (cmd)":
``^`` escapes and line ends, ``^"`` quotes). The cookie (from ``-b`` or a ``Cookie`` header) is
moved out of the headers into its own field; ``Accept-Encoding`` is dropped, since the sniper
reads answers uncompressed.

The task is reviewed as it is made: our own store's order call gets ``{request_id}`` (one order
per run, however many requests of the burst arrive); anything else that looks like a mistake (a
GET, an item id not in the request, no request id for a burst, no cookie) is a warning.
"""

from __future__ import annotations

import codecs
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sniper.client.config import HttpRequest, TaskConfig
from sniper.client.platforms.http import REQUEST_ID, carries_request_id
from sniper.errors import ConfigError
from sniper.rfc3339 import TIME_EXAMPLE
from sniper.validation import duplicate_key

_ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'", re.S)
_DROP_HEADERS = frozenset({"cookie", "content-length", "host", "accept-encoding", "connection"})
_DATA_FLAGS = frozenset({"--data-raw", "--data-binary", "--data", "-d", "--data-ascii"})
_IGNORED_FLAGS = frozenset(
    {
        "--compressed",
        "--location",
        "-L",
        "-s",
        "--silent",
        "-i",
        "--include",
        "-v",
        "--verbose",
        "-g",
        "--globoff",
        "--http1.1",
        "--http2",
    }
)


@dataclass
class CurlRequest:
    """What a curl command would send."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    cookie: str | None = None
    body: str | None = None
    warnings: list[str] = field(default_factory=list)


def _ansi_c(match: re.Match[str]) -> str:
    decoded = codecs.decode(match.group(1).encode("latin-1", "backslashreplace"), "unicode_escape")
    return shlex.quote(decoded)


def tokens(command: str) -> list[str]:
    """Shell words of a bash command line (continuations and ``$'…'`` understood)."""
    text = command.replace("\\\r\n", " ").replace("\\\n", " ")
    text = _ANSI_C.sub(_ansi_c, text)
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"curl: cannot split the command: {exc}") from None


_CMD_HINT = 'use "Copy as cURL (bash)" in the browser instead'


def is_cmd(command: str) -> bool:
    """Whether this is Windows cmd.exe's form: ``^"`` quotes, ``^`` at the ends of lines."""
    return re.search(r'(?:^|\s)\^"|\^\r?\n', command) is not None


def cmd_tokens(command: str) -> list[str]:
    """The words of Chrome's "Copy as cURL (cmd)". cmd.exe takes ``^x`` as ``x`` (outside
    double quotes), and ``^`` at a line end joins the next line, whose first character it takes
    as it is. Then, inside ``"…"``, Chrome's own escapes are undone: ``\\"`` is ``"`` and
    ``\\\\`` is ``\\`` (Chrome doubles every backslash)."""
    text = command.replace("\r\n", "\n")
    unescaped, quoted, i = [], False, 0
    while i < len(text):
        ch = text[i]
        if ch == "^" and not quoted and i + 1 < len(text):
            i += 2 if text[i + 1] == "\n" else 1
            ch = text[i] if i < len(text) else ""
        elif ch == '"':
            quoted = not quoted
        unescaped.append(ch)
        i += 1
    return _split_quoted("".join(unescaped))


def _split_quoted(text: str) -> list[str]:
    """Words between blanks; ``"…"`` holds blanks, and inside it ``\\"`` is ``"``, ``\\\\`` is
    ``\\``."""
    words: list[str] = []
    word: list[str] = []
    in_word = quoted = False
    i = 0
    while i < len(text):
        ch = text[i]
        if quoted and ch == "\\" and text[i + 1 : i + 2] in ("\\", '"'):
            word.append(text[i + 1])
            i += 1
        elif ch == '"':
            quoted, in_word = not quoted, True
        elif ch.isspace() and not quoted:
            if in_word:
                words.append("".join(word))
            word, in_word = [], False
        else:
            word.append(ch)
            in_word = True
        i += 1
    if quoted:
        raise ConfigError(
            f"curl: a quote is never closed in this Windows (cmd) command; {_CMD_HINT}"
        )
    return [*words, "".join(word)] if in_word else words


def _method(req: CurlRequest, value: str) -> None:
    req.method = value.upper()


def _header(req: CurlRequest, value: str) -> None:
    name, _, val = value.partition(":")
    if name.strip().lower() == "cookie":
        req.cookie = val.strip()
    else:
        req.headers[name.strip()] = val.strip()


def _cookie(req: CurlRequest, value: str) -> None:
    req.cookie = value


def _data(req: CurlRequest, value: str) -> None:
    req.body = value if req.body is None else f"{req.body}&{value}"


def _url(req: CurlRequest, value: str) -> None:
    req.url = value


_WITH_VALUE: dict[str, Callable[[CurlRequest, str], None]] = {
    "-X": _method,
    "--request": _method,
    "-H": _header,
    "--header": _header,
    "-b": _cookie,
    "--cookie": _cookie,
    "-A": lambda req, v: req.headers.__setitem__("User-Agent", v),
    "--user-agent": lambda req, v: req.headers.__setitem__("User-Agent", v),
    "-e": lambda req, v: req.headers.__setitem__("Referer", v),
    "--referer": lambda req, v: req.headers.__setitem__("Referer", v),
    "--url": _url,
    **dict.fromkeys(_DATA_FLAGS, _data),
}


def parse_curl(command: str) -> CurlRequest:
    """The request a ``curl …`` command describes (bash's form, or Windows cmd's)."""
    words = cmd_tokens(command) if is_cmd(command) else tokens(command)
    if not words or words[0] not in ("curl", "curl.exe"):
        raise ConfigError(
            'curl: the command must start with curl (in the browser: "Copy as cURL (bash)")'
        )
    req = CurlRequest(method="", url="")
    i = 1
    while i < len(words):
        word = words[i]
        handler = _WITH_VALUE.get(word)
        if handler is not None and i + 1 < len(words):
            handler(req, words[i + 1])
            i += 2
            continue
        if word.startswith("-") and word not in _IGNORED_FLAGS:
            req.warnings.append(f"ignored curl option {word}")
        elif not word.startswith("-"):
            req.url = word
        i += 1
    if urlsplit(req.url).scheme not in ("http", "https"):
        hint = f"; {_CMD_HINT}" if "^" in command else ""
        raise ConfigError(f"curl: no http(s) URL in the command{hint}")
    req.headers = {k: v for k, v in req.headers.items() if k.lower() not in _DROP_HEADERS}
    req.method = req.method or ("POST" if req.body is not None else "GET")
    return req


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
    """The task file's fields, reviewed. The sku id, where it stands as a word of its own in the
    URL or body, becomes ``{sku_id}``; our store's order call gets ``{request_id}``."""
    url, body = request.url, request.body
    found = 0
    if sku_id:
        url, in_url = _mark_sku(url, sku_id)
        body, in_body = _mark_sku(body, sku_id) if body is not None else (None, 0)
        found = in_url + in_body
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
        "headers": request.headers,
        **({"body": body} if body is not None else {}),
    }
    imported.task = {
        "platform": "http",
        "base_url": f"{parts.scheme}://{parts.netloc}",
        **({"cookie_file": cookie_file} if cookie_file is not None else {}),
        "sku_id": sku_id or "FILL-ME",
        "target_time": target_time
        or f"FILL-ME: the opening, RFC 3339 with offset, in the future (the form: {TIME_EXAMPLE})",
        "request": http,
    }
    replayed = HttpRequest.model_construct(
        method=request.method, url=url, headers=request.headers, body=body
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
            f"--sku-id {sku_id} appears nowhere in the request's URL or body: the "
            "task orders the item the request names, whatever sku_id says"
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


def _mark_sku(text: str, sku_id: str) -> tuple[str, int]:
    """``text`` with each standalone ``sku_id`` (not part of a longer id) as ``{sku_id}``."""
    return re.subn(rf"(?<![\w-]){re.escape(sku_id)}(?![\w-])", "{sku_id}", text)


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
