"""What a ``curl …`` command sends, by curl's own rules. Pure (files and the time come in).

Read from what bash (or Windows cmd) would pass to curl (:mod:`~sniper.client.shellwords`) and
curl's options (:mod:`~sniper.client.curlopts`), then curl's rules make the request: the
method (``-X``, else ``HEAD`` for ``-I``, ``GET`` for ``-G``, ``POST`` for data); the URL
(``http://`` when it has no scheme, ``/./`` and ``/../`` resolved unless ``--path-as-is``, no
fragment, ``-G`` data and ``--url-query`` appended to its query); the headers curl adds itself,
in its order, unless a ``-H`` names them (``Authorization`` for ``-u``, ``--oauth2-bearer`` or a
``user:pw@`` in the URL; ``User-Agent: curl/…`` or ``-A``; ``Accept: */*``; ``Referer``;
``Content-Type: application/x-www-form-urlencoded`` for data; ``application/json`` for both
``Content-Type`` and ``Accept`` with ``--json``); the cookie (a ``-H Cookie``, else the cookie
file's and ``-b`` strings'); the body's bytes.

Left out of the request (:func:`~sniper.client.capture.kept_header`, the rule both importers
share), since the sniper makes them itself: ``Host``, ``Content-Length``, ``Connection`` and
the other hop-by-hop headers, ``Expect``, and ``Accept-Encoding`` (the sniper reads answers
uncompressed). The cookie is its own field, not a header.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from sniper.client.capture import kept_header
from sniper.client.cookiefile import cookie_header
from sniper.client.curlopts import CURL_USER_AGENT, Command, Machine, read_options
from sniper.client.shellwords import CMD_HINT, bash_words, cmd_words, is_cmd
from sniper.errors import ConfigError

__all__ = ["CURL_USER_AGENT", "FORM_TYPE", "CurlRequest", "Machine", "parse_curl"]

FORM_TYPE = "application/x-www-form-urlencoded"
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_GLOB = re.compile(r"[{}\[\]]")


@dataclass
class CurlRequest:
    """What a curl command would send (headers in curl's order, the cookie apart)."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    cookie: str | None = None
    body: str | None = None
    warnings: list[str] = field(default_factory=list)


def parse_curl(command: str, machine: Machine | None = None) -> CurlRequest:
    """The request a ``curl …`` command sends (bash's form, or Windows cmd's)."""
    words = cmd_words(command) if is_cmd(command) else bash_words(command)
    if not words or words[0] not in ("curl", "curl.exe"):
        raise ConfigError(
            'curl: the command must start with curl (in the browser: "Copy as cURL (bash)")'
        )
    cmd = read_options(words, machine or Machine())
    if not cmd.urls:
        hint = f"; {CMD_HINT}" if "^" in command else ""
        raise ConfigError(f"curl: no http(s) URL in the command{hint}")
    if len(cmd.urls) > 1:
        raise ConfigError(
            f"curl: {len(cmd.urls)} URLs: curl would send a request to each; keep the one to replay"
        )
    if cmd.head and cmd.data is not None and not cmd.get:
        raise ConfigError("curl: -I (HEAD) and data together: curl refuses them")
    if cmd.get and cmd.queries:
        raise ConfigError(
            "curl: -G and --url-query together: curl versions differ in what they send; put "
            "the query in the URL"
        )
    url, user = _url(cmd)
    body = None if cmd.get or cmd.data is None else _text(bytes(cmd.data))
    cookie, headers = _headers(cmd, user, url)
    return CurlRequest(_method(cmd), url, headers, cookie, body, cmd.warnings)


def _method(cmd: Command) -> str:
    if cmd.method:
        return cmd.method.upper()
    if cmd.head:
        return "HEAD"
    return "POST" if cmd.data is not None and not cmd.get else "GET"


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(
            "curl: the body is not UTF-8 text: a task's body is text, so it cannot carry it"
        ) from None


def _url(cmd: Command) -> tuple[str, str | None]:
    """The URL curl sends to (fragment off, dot segments resolved, query added) and the
    ``user:password`` it holds, if any."""
    url = cmd.urls[0]
    if "://" not in url:
        url = f"http://{url}"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        raise ConfigError("curl: the URL's host or port cannot be read") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ConfigError("curl: no http(s) URL in the command")
    if not cmd.globoff and _GLOB.search(url.replace(f"[{parts.hostname}]", "")):
        raise ConfigError(
            "curl: the URL holds { } or [ ]: curl would expand them (its URL globbing); "
            "add -g (--globoff) to send them as they are"
        )
    path = parts.path or "/"
    if not cmd.path_as_is:
        path = _resolve_dots(path)
    query = [parts.query] if parts.query else []
    if cmd.get and cmd.data is not None:
        query.append(_raw_text(bytes(cmd.data)))
    query += [_raw_text(q) for q in cmd.queries]
    netloc = parts.netloc.rpartition("@")[2]
    sent = f"{parts.scheme}://{netloc}{path}" + (f"?{'&'.join(query)}" if query else "")
    if not _PRINTABLE.fullmatch(sent) or " " in sent:
        raise ConfigError(
            "curl: the URL holds a space, a line break or a non-ASCII character: percent-encode "
            "it (%20 for a space) as the browser would"
        )
    user = None
    if "@" in parts.netloc:
        user = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}"
    return sent, user


def _raw_text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _resolve_dots(path: str) -> str:
    """RFC 3986's removal of ``.`` and ``..`` segments, as curl does it (empty segments kept)."""
    segments = path.split("/")[1:]
    kept: list[str] = []
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "..":
            if kept:
                kept.pop()
        elif segment != ".":
            kept.append(segment)
            continue
        if last:
            kept.append("")
    return "/" + "/".join(kept)


def _headers(cmd: Command, url_user: str | None, url: str) -> tuple[str | None, dict[str, str]]:
    """The cookie and the headers curl sends, in its order: its own first (unless a ``-H``
    names them), then the ``-H`` ones, then the data's ``Content-Type``."""
    if cmd.json:
        for name, value in (("Content-Type", "application/json"), ("Accept", "application/json")):
            if not _given(cmd, name):
                cmd.headers.append((name, value))
    sent: list[tuple[str, str]] = []
    user = cmd.user if cmd.user is not None else url_user
    own = (
        ("Authorization", f"Bearer {cmd.bearer}" if cmd.bearer else _basic(user)),
        ("User-Agent", cmd.machine.user_agent if cmd.agent is None else cmd.agent),
        ("Accept", "*/*"),
        ("Referer", (cmd.referer or "").removesuffix(";auto")),
    )
    sent += [(name, value) for name, value in own if value and not _given(cmd, name)]
    cookie = _cookie(cmd, url)
    for given, text in cmd.headers:
        if text is None or given.lower() == "cookie":
            continue
        if given.lower() == "host":
            cmd.warnings.append("-H Host is not replayed: the sniper sends the URL's host")
        if kept_header(given):
            sent.append((given, text))
    if cmd.data is not None and not cmd.get and not _given(cmd, "Content-Type"):
        sent.append(("Content-Type", FORM_TYPE))
    return cookie, _checked(sent)


def _given(cmd: Command, name: str) -> bool:
    """Whether a ``-H`` names the header (to set, empty it or remove it): curl's own is off."""
    return any(given.lower() == name.lower() for given, _ in cmd.headers)


def _basic(user: str | None) -> str:
    if user is None:
        return ""
    return "Basic " + base64.b64encode(user.encode("utf-8", "surrogateescape")).decode()


def _cookie(cmd: Command, url: str) -> str | None:
    """A ``-H Cookie`` wins over ``-b`` strings; a cookie file's cookies come first."""
    given = [value for name, value in cmd.headers if name.lower() == "cookie" and value]
    jar = ""
    if cmd.cookie_files:
        text = b"".join(cmd.read("-b", name, at="") + b"\n" for name in cmd.cookie_files)
        jar = cookie_header(
            _text(text), url, now=cmd.machine.now, where=f"-b {cmd.cookie_files[0]}"
        )
    if given and jar:
        raise ConfigError(
            "curl: a -H Cookie and a cookie file together: curl sends two Cookie headers; give one"
        )
    if len(given) > 1:
        raise ConfigError("curl: -H Cookie is given twice: curl sends both; give one")
    if given:
        return given[0]
    strings = "" if _given(cmd, "Cookie") else ";".join(cmd.cookies)
    return "; ".join(part for part in (jar, strings) if part) or None


def _checked(sent: list[tuple[str, str]]) -> dict[str, str]:
    """The headers as the task holds them: one value each, printable ASCII."""
    headers: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in sent:
        if name.lower() in seen:
            raise ConfigError(
                f"curl: -H {name} is given twice: curl sends both, a task holds one value per "
                "header; keep one"
            )
        if not _PRINTABLE.fullmatch(value):
            raise ConfigError(
                f"curl: the header {name}: its value is not printable ASCII (a task's header "
                "values are)"
            )
        seen.add(name.lower())
        headers[name] = value
    return headers
