"""A bench's users file, and its shards.

Two forms, one row per session: CSV with a header row, or JSON Lines (one object per line; by
the extension ``.jsonl``/``.ndjson``, else when the first character is ``{``). The columns (or
keys) are ``user`` (required, non-empty), ``token`` and ``cookie``; any other is refused, so that
a misspelt ``cookies`` is said at once rather than seen as a run of 401s. An empty value (or a
JSON ``null``) is no value. Values are trimmed of spaces and hold no line break or control
character: they go into headers. One user may stand on several rows (two sessions of one buyer:
how a bench catches a shop that sells one buyer two units).

Parsing is pure (:func:`parse_users`); :func:`read_users` reads the file, at most
:data:`MAX_BYTES`. Errors are one :class:`~sniper.errors.ConfigError` line naming the file and
the line, never a value (tokens and cookies are secrets).
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sniper.errors import ConfigError

MAX_USERS = 100_000
MAX_BYTES = 64 * 1024 * 1024
#: Longer is no token or cookie a server takes in a header.
MAX_VALUE_CHARS = 8192
#: A JSON line longer than this cannot hold three values of :data:`MAX_VALUE_CHARS`, even
#: escaped: it is refused before it is parsed.
MAX_JSON_LINE = 256 * 1024
MAX_SHARDS = 1000
COLUMNS = ("user", "token", "cookie")
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
#: C0 (CR and LF among them), DEL, C1, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_SHARD = re.compile(r"([0-9]{1,4})/([0-9]{1,4})")


@dataclass(frozen=True, slots=True)
class User:
    """One row: the user, the session's token and cookie (None: not given), its 0-based
    ``index`` among the file's rows, and the ``line`` it is on (1-based, for messages)."""

    index: int
    user: str
    token: str | None = None
    cookie: str | None = None
    line: int = 0

    def value(self, column: str) -> str | None:
        """The value of ``user``, ``token`` or ``cookie``."""
        value: str | None = getattr(self, column)
        return value


@dataclass(frozen=True, slots=True)
class Users:
    """A users file: its name (as messages show it), the columns it has (always ``user``),
    and its rows in file order."""

    name: str
    columns: frozenset[str]
    rows: tuple[User, ...]


def read_users(path: Path) -> Users:
    """The users file at ``path``; ConfigError when it cannot be read or is not one."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"users: cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_BYTES // (1024 * 1024)} MiB")
    jsonl = True if path.suffix.lower() in _JSONL_SUFFIXES else None
    if path.suffix.lower() == ".csv":
        jsonl = False
    return parse_users(data, str(path), jsonl=jsonl)


def parse_users(data: bytes, name: str, *, jsonl: bool | None = None) -> Users:
    """A users file's bytes (UTF-8, a BOM allowed) as :class:`Users`; ``jsonl`` None: JSON
    Lines when the first character is ``{``, else CSV."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{name} line {line}: not UTF-8 text") from None
    if not text.strip():
        raise ConfigError(f"{name}: empty (CSV with a header row, or JSON Lines)")
    if jsonl is None:
        jsonl = text.lstrip().startswith("{")
    columns, rows = _jsonl_rows(text, name) if jsonl else _csv_rows(text, name)
    users: list[User] = []
    for line, values in rows:
        if len(users) == MAX_USERS:
            raise ConfigError(f"{name} line {line}: more than {MAX_USERS:,} users")
        users.append(_user(len(users), line, values, f"{name} line {line}"))
    if not users:
        raise ConfigError(f"{name}: no users (only a header row)")
    return Users(name, frozenset(columns), tuple(users))


_Rows = Iterator[tuple[int, dict[str, Any]]]


def _csv_rows(text: str, name: str) -> tuple[list[str], _Rows]:
    """The header's columns and each row's values by column (with its line)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise ConfigError(f"{name} line {reader.line_num}: not valid CSV: {exc}") from None
    columns = _header(header, f"{name} line {reader.line_num}")

    def rows() -> _Rows:
        while True:
            line = reader.line_num + 1  # where the row begins (a quoted cell may go on)
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ConfigError(f"{name} line {line}: not valid CSV: {exc}") from None
            if not cells:
                continue  # a blank line
            if len(cells) != len(columns):
                raise ConfigError(
                    f"{name} line {line}: {len(cells)} values, the header has "
                    f"{len(columns)} columns"
                )
            yield line, dict(zip(columns, cells, strict=True))

    return columns, rows()


def _header(cells: list[str], where: str) -> list[str]:
    """The header row's columns; ConfigError for an unknown, repeated or missing one."""
    columns = [cell.strip().lower() for cell in cells]
    for column in columns:
        _known(column, where, "column")
    for column in columns:
        if columns.count(column) > 1:
            raise ConfigError(f"{where}: column {column} is given twice")
    if "user" not in columns:
        raise ConfigError(f"{where}: no user column (the header row names user, token, cookie)")
    return columns


def _known(key: str, where: str, what: str) -> None:
    if key in COLUMNS:
        return
    shown = key[:40]
    hint = ""
    if any(sep in key for sep in (";", "\t", "|")):
        hint = " (separate the columns with commas)"
    else:
        close = difflib.get_close_matches(key, COLUMNS, n=1)
        if close:
            hint = f" (did you mean {close[0]}?)"
    raise ConfigError(f"{where}: unknown {what} {shown!r}{hint}; they are user, token, cookie")


def _jsonl_rows(text: str, name: str) -> tuple[set[str], _Rows]:
    """The keys any line has, and each line's object (with its line). Read whole first: the
    columns must be known before the rows are judged."""
    columns: set[str] = {"user"}
    rows: list[tuple[int, dict[str, Any]]] = []
    # "\n" alone ends a line: splitlines() would also cut at characters a JSON string may hold.
    for number, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        where = f"{name} line {number}"
        if len(raw) > MAX_JSON_LINE:
            raise ConfigError(f"{where}: longer than {MAX_JSON_LINE // 1024} KiB")
        try:
            row = json.loads(raw)
        except (ValueError, RecursionError):
            raise ConfigError(f"{where}: not valid JSON") from None
        if not isinstance(row, dict):
            raise ConfigError(f'{where}: must be a JSON object like {{"user": …, "token": …}}')
        for key in row:
            _known(key, where, "key")
        columns.update(row)
        rows.append((number, row))
        if len(rows) > MAX_USERS:
            break  # the row's turn in parse_users says so, with its line
    return columns, iter(rows)


def _user(index: int, line: int, values: dict[str, Any], where: str) -> User:
    user = _value(values.get("user"), "user", where)
    if user is None:
        raise ConfigError(f"{where}: user is empty")
    return User(
        index,
        user,
        token=_value(values.get("token"), "token", where),
        cookie=_value(values.get("cookie"), "cookie", where),
        line=line,
    )


def _value(raw: Any, column: str, where: str) -> str | None:
    """A cell or JSON value as a value: trimmed text, None when empty or absent."""
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: {column} must be text (a JSON string)")
    text = raw.strip(" ")
    if not text:
        return None
    if _CONTROL.search(text):
        raise ConfigError(
            f"{where}: {column} holds a line break or a control character (it goes into a header)"
        )
    if len(text) > MAX_VALUE_CHARS:
        raise ConfigError(f"{where}: {column} is longer than {MAX_VALUE_CHARS} characters")
    return text


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` as ``(K, N)``, 1 ≤ K ≤ N ≤ :data:`MAX_SHARDS`; ConfigError naming
    ``--shard``."""
    found = _SHARD.fullmatch(text.strip())
    usage = f"--shard: must be K/N with 1 ≤ K ≤ N ≤ {MAX_SHARDS}, e.g. 1/2"
    if found is None:
        raise ConfigError(usage)
    k, n = int(found.group(1)), int(found.group(2))
    if not 1 <= k <= n <= MAX_SHARDS:
        raise ConfigError(f"{usage} (not {k}/{n})")
    return k, n


def shard(users: Sequence[User], k: int, n: int) -> list[User]:
    """Shard ``k`` of ``n``: users K, K+N, K+2N… (1-based), each row keeping its index."""
    if not 1 <= k <= n:
        raise ValueError(f"shard {k}/{n}: needs 1 ≤ K ≤ N")
    return list(users[k - 1 :: n])
