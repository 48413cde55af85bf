"""Turn a browser's "Copy as cURL (bash)" into an ``http``-platform task. Pure but for the CLI.

Understands what Chrome and Firefox emit: the URL, ``-X``, ``-H``, ``-b``/``--cookie``,
``--data-raw``/``--data-binary``/``--data``/``-d``, ``--compressed``, ``-A``, ``-e``, line
continuations and bash's ``$'…'`` quoting. The cookie (from ``-b`` or a ``Cookie`` header) is
moved out of the headers into its own field; ``Accept-Encoding`` is dropped, since the sniper
reads answers uncompressed.
"""

from __future__ import annotations

import codecs
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sniper.errors import ConfigError

_ANSI_C = re.compile(r"\$'((?:[^'\\]|\\.)*)'", re.S)
_DROP_HEADERS = frozenset({"cookie", "content-length", "host", "accept-encoding", "connection"})
_DATA_FLAGS = frozenset({"--data-raw", "--data-binary", "--data", "-d", "--data-ascii"})
_IGNORED_FLAGS = frozenset({"--compressed", "--location", "-L", "-s", "--silent", "-i",
                            "--include", "-v", "--verbose", "-g", "--globoff", "--http1.1",
                            "--http2"})


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
    decoded = codecs.decode(match.group(1).encode("latin-1", "backslashreplace"),
                            "unicode_escape")
    return shlex.quote(decoded)


def tokens(command: str) -> list[str]:
    """Shell words of a bash command line (continuations and ``$'…'`` understood)."""
    text = command.replace("\\\r\n", " ").replace("\\\n", " ")
    text = _ANSI_C.sub(_ansi_c, text)
    try:
        return shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"curl: cannot split the command: {exc}") from None


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
    "-X": _method, "--request": _method,
    "-H": _header, "--header": _header,
    "-b": _cookie, "--cookie": _cookie,
    "-A": lambda req, v: req.headers.__setitem__("User-Agent", v),
    "--user-agent": lambda req, v: req.headers.__setitem__("User-Agent", v),
    "-e": lambda req, v: req.headers.__setitem__("Referer", v),
    "--referer": lambda req, v: req.headers.__setitem__("Referer", v),
    "--url": _url,
    **dict.fromkeys(_DATA_FLAGS, _data),
}


def parse_curl(command: str) -> CurlRequest:
    """The request a ``curl …`` command describes."""
    words = tokens(command)
    if not words or words[0] != "curl":
        raise ConfigError("curl: the command must start with curl")
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
        raise ConfigError("curl: no http(s) URL in the command")
    req.headers = {k: v for k, v in req.headers.items() if k.lower() not in _DROP_HEADERS}
    req.method = req.method or ("POST" if req.body is not None else "GET")
    return req


def to_task(request: CurlRequest, *, sku_id: str | None, target_time: str | None,
            cookie_file: str) -> dict[str, object]:
    """The task file's fields; the sku id, where it appears, becomes ``{sku_id}``."""
    url, body = request.url, request.body
    if sku_id:
        url = url.replace(sku_id, "{sku_id}")
        body = body.replace(sku_id, "{sku_id}") if body is not None else None
    parts = urlsplit(request.url)
    task: dict[str, object] = {
        "platform": "http",
        "base_url": f"{parts.scheme}://{parts.netloc}",
        "cookie_file": cookie_file,
        "sku_id": sku_id or "FILL-ME",
        "target_time": target_time or "FILL-ME: RFC 3339 with offset, e.g. "
                                      "2024-04-15T07:00:00+08:00",
        "request": {"method": request.method, "url": url, "headers": request.headers,
                    **({"body": body} if body is not None else {})},
    }
    return task
