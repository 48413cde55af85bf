"""curl's options, read as curl reads them: long ones, short ones glued or clustered
(``-XPUT``, ``-sLX POST``), data pieces joined, files named with ``@`` read. Pure (files come
in through :class:`Machine`). An option that would change what is sent and is not understood is
refused, naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from sniper.errors import ConfigError

#: curl's own User-Agent when the curl that would run the command is not known.
CURL_USER_AGENT = "curl/8.5.0"
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True)
class Machine:
    """What curl would take from the machine it runs on: files (``read_file``, a path as the
    command gives it), the time (epoch seconds: expired cookies are not sent) and its own
    User-Agent."""

    read_file: Callable[[str], bytes] | None = None
    now: float = 0.0
    user_agent: str = CURL_USER_AGENT


@dataclass
class Command:
    """The options as given, before curl's rules make a request of them."""

    machine: Machine
    method: str | None = None
    urls: list[str] = field(default_factory=list)
    #: (name, value): None removes curl's own header of that name; "" sends it empty.
    headers: list[tuple[str, str | None]] = field(default_factory=list)
    data: bytearray | None = None
    json: bool = False
    get: bool = False
    head: bool = False
    cookies: list[str] = field(default_factory=list)
    cookie_files: list[str] = field(default_factory=list)
    user: str | None = None
    bearer: str | None = None
    agent: str | None = None
    referer: str | None = None
    queries: list[bytes] = field(default_factory=list)
    globoff: bool = False
    path_as_is: bool = False
    warnings: list[str] = field(default_factory=list)

    def read(self, option: str, name: str, *, at: str = "@") -> bytes:
        """A file an option names (with ``@``, but for ``-b``), as curl would read it."""
        if name == "-":
            raise ConfigError(f"curl: {option} {at}-: reads stdin; put the data in the command")
        if self.machine.read_file is None:
            raise ConfigError(f"curl: {option} {at}{name}: no file can be read here")
        try:
            return self.machine.read_file(name)
        except OSError as exc:
            raise ConfigError(
                f"curl: {option} {at}{name}: cannot read {name}: {exc.strerror or exc}"
            ) from None

    def add_data(self, piece: bytes, *, json: bool = False) -> None:
        """Data joins what came before with ``&``; a ``--json`` piece joins with nothing."""
        if self.data is None:
            self.data = bytearray(piece)
        else:
            self.data += (b"" if json else b"&") + piece


def _raw(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _encoded(data: bytes) -> bytes:
    """curl's URL encoding: all but letters, digits and ``-._~`` as ``%XX``, a space as ``+``."""
    return quote(data, safe="").replace("%20", "+").encode()


def _urlencode(cmd: Command, option: str, value: str) -> bytes:
    """``content``, ``=content``, ``name=content``, ``@file``, ``name@file`` (the first ``=``
    or ``@`` decides), as curl's ``--data-urlencode`` and ``--url-query`` read them."""
    found = re.search("[=@]", value)
    if found is None:
        return _encoded(_raw(value))
    name, rest = value[: found.start()], value[found.end() :]
    content = cmd.read(option, rest) if found.group(0) == "@" else _raw(rest)
    return (_raw(name) + b"=" if name else b"") + _encoded(content)


def _data(cmd: Command, option: str, value: str) -> None:
    """``-d``, ``--data``, ``--data-ascii``: ``@file`` is read, its CR and LF dropped."""
    if value.startswith("@"):
        cmd.add_data(cmd.read(option, value[1:]).replace(b"\r", b"").replace(b"\n", b""))
    else:
        cmd.add_data(_raw(value))


def _data_binary(cmd: Command, option: str, value: str) -> None:
    cmd.add_data(cmd.read(option, value[1:]) if value.startswith("@") else _raw(value))


def _json(cmd: Command, option: str, value: str) -> None:
    cmd.json = True
    cmd.add_data(cmd.read(option, value[1:]) if value.startswith("@") else _raw(value), json=True)


def _url_query(cmd: Command, option: str, value: str) -> None:
    """As ``--data-urlencode``, but ``+`` first means the rest as it is."""
    cmd.queries.append(_raw(value[1:]) if value.startswith("+") else _urlencode(cmd, option, value))


def _header(cmd: Command, option: str, value: str) -> None:
    """``Name: value``; ``Name:`` removes curl's own; ``Name;`` sends it empty."""
    if value.startswith("@"):
        raise ConfigError(f"curl: {option} @FILE (headers from a file): put them in the command")
    colon, semi = value.find(":"), value.find(";")
    if colon >= 0:
        name, text = value[:colon], value[colon + 1 :].strip(" \t")
        entry: tuple[str, str | None] = (name, text or None)
    elif semi >= 0 and not value[semi + 1 :].strip():
        name, entry = value[:semi], (value[:semi], "")
    else:
        # Only the name-like start is shown: the rest may be a token typed without its colon.
        shown = _TOKEN.match(value)
        cmd.warnings.append(
            f"{option} {shown.group(0)[:40] if shown else ''}…: neither 'Name: value' nor "
            "'Name;', so curl sends nothing for it"
        )
        return
    if not _TOKEN.fullmatch(name):
        raise ConfigError(f"curl: {option}: {name[:40]!r} is not a header name")
    cmd.headers.append(entry)


def _cookie(cmd: Command, option: str, value: str) -> None:
    """A string with ``=`` is the cookie itself; anything else names a cookie file."""
    if "=" in value:
        cmd.cookies.append(value)
    elif value:
        cmd.cookie_files.append(value)


def _user(cmd: Command, option: str, value: str) -> None:
    if ":" not in value:
        raise ConfigError(
            f"curl: {option} needs user:password (without a password curl would ask for one)"
        )
    cmd.user = value


def _set(name: str) -> Callable[[Command, str, str], None]:
    def handler(cmd: Command, option: str, value: str) -> None:
        setattr(cmd, name, value)

    return handler


def _flag(name: str) -> Callable[[Command, str], None]:
    def handler(cmd: Command, option: str) -> None:
        setattr(cmd, name, True)

    return handler


def _ignore(cmd: Command, option: str, value: str | None = None) -> None:
    """An option that changes nothing in the request (output, timing, verbosity)."""


def _insecure(cmd: Command, option: str) -> None:
    cmd.warnings.append(
        f"{option} is not replayed: the sniper checks the server's certificate (for a private "
        "CA, give ca_file)"
    )


_WITH_VALUE: dict[str, Callable[[Command, str, str], None]] = {
    "--request": lambda cmd, _o, v: setattr(cmd, "method", v),
    "--header": _header,
    "--data": _data,
    "--data-ascii": _data,
    "--data-raw": lambda cmd, _o, v: cmd.add_data(_raw(v)),
    "--data-binary": _data_binary,
    "--data-urlencode": lambda cmd, o, v: cmd.add_data(_urlencode(cmd, o, v)),
    "--json": _json,
    "--url-query": _url_query,
    "--cookie": _cookie,
    "--user": _user,
    "--oauth2-bearer": _set("bearer"),
    "--user-agent": _set("agent"),
    "--referer": _set("referer"),
    "--url": lambda cmd, _o, v: cmd.urls.append(v),
    **dict.fromkeys(
        (
            "--output",
            "--max-time",
            "--connect-timeout",
            "--write-out",
            "--cookie-jar",
            "--dump-header",
            "--retry",
            "--retry-delay",
            "--retry-max-time",
            "--max-redirs",
        ),
        _ignore,
    ),
}
_FLAGS: dict[str, Callable[[Command, str], None]] = {
    "--get": _flag("get"),
    "--head": _flag("head"),
    "--globoff": _flag("globoff"),
    "--path-as-is": _flag("path_as_is"),
    "--insecure": _insecure,
    **dict.fromkeys(
        (
            "--compressed",
            "--location",
            "--silent",
            "--show-error",
            "--include",
            "--verbose",
            "--fail",
            "--fail-with-body",
            "--no-buffer",
            "--progress-bar",
            "--http1.1",
            "--http2",
            "--ipv4",
            "--ipv6",
            "--disable",
        ),
        _ignore,
    ),
}
_SHORT = {
    "X": "--request",
    "H": "--header",
    "d": "--data",
    "b": "--cookie",
    "u": "--user",
    "A": "--user-agent",
    "e": "--referer",
    "o": "--output",
    "m": "--max-time",
    "w": "--write-out",
    "c": "--cookie-jar",
    "D": "--dump-header",
    "G": "--get",
    "I": "--head",
    "g": "--globoff",
    "k": "--insecure",
    "s": "--silent",
    "S": "--show-error",
    "L": "--location",
    "i": "--include",
    "v": "--verbose",
    "f": "--fail",
    "N": "--no-buffer",
    "#": "--progress-bar",
    "4": "--ipv4",
    "6": "--ipv6",
    "q": "--disable",
    "F": "--form",
    "T": "--upload-file",
}
_UNSUPPORTED = {
    "--form": "multipart forms are not replayed; copy a request that sends JSON or a form",
    "--form-string": "multipart forms are not replayed; copy a request that sends JSON or a form",
    "--upload-file": "uploads are not replayed",
}


def _unsupported(option: str, long: str | None = None) -> ConfigError:
    why = _UNSUPPORTED.get(long or option, "import-curl does not replay it")
    return ConfigError(f"curl: option {option} is not supported: {why}")


def _short(cmd: Command, words: list[str], i: int) -> int:
    """A cluster of short options (``-sLXPOST``); returns the index of the next word."""
    word = words[i]
    for j, letter in enumerate(word[1:], 1):
        option = _SHORT.get(letter)
        if option is None or option in _UNSUPPORTED:
            raise _unsupported(f"-{letter}", option)
        if option in _FLAGS:
            _FLAGS[option](cmd, f"-{letter}")
            continue
        value = word[j + 1 :]
        if not value:
            i += 1
            if i >= len(words):
                raise ConfigError(f"curl: -{letter} needs a value")
            value = words[i]
        _WITH_VALUE[option](cmd, f"-{letter}", value)
        break
    return i + 1


def _long(cmd: Command, words: list[str], i: int) -> int:
    option = words[i]
    if option in _FLAGS:
        _FLAGS[option](cmd, option)
        return i + 1
    handler = _WITH_VALUE.get(option)
    if handler is None:
        raise _unsupported(option.partition("=")[0])
    if i + 1 >= len(words):
        raise ConfigError(f"curl: {option} needs a value")
    handler(cmd, option, words[i + 1])
    return i + 2


def read_options(words: list[str], machine: Machine) -> Command:
    """The options of ``curl`` and its words (``words[0]`` is ``curl`` itself)."""
    cmd = Command(machine)
    i = 1
    while i < len(words):
        word = words[i]
        if word.startswith("--"):
            i = _long(cmd, words, i)
        elif word.startswith("-") and len(word) > 1:
            i = _short(cmd, words, i)
        else:
            cmd.urls.append(word)
            i += 1
    return cmd
