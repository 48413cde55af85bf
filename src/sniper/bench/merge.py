"""``sniper bench merge``: the shards of one opening, run on several machines, as one report.

Each shard's JSON carries its shots; the merged report is recomputed from all of them, so it
is exactly what one unsharded run with the same shots would have reported (the undersell
check, unknown inside a shard without the server's count, is judged here over every shot)."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sniper.bench import users
from sniper.bench.report import Shot, summarize
from sniper.errors import ConfigError

#: A report file larger than this is refused before it is read (a shot is about 80 bytes).
MAX_REPORT_BYTES = 256 * 1024 * 1024

#: The keys every report holds, and what each must be.
_INT, _NUMBER, _BOOL, _DICT, _LIST = (
    "an integer",
    "a number",
    "true or false",
    "an object",
    "a list",
)
_COUNT = "an integer from 0"
_KEYS: dict[str, tuple[str, bool]] = {  # name: (kind, may be null)
    "requests": (_INT, False),
    "ok": (_INT, False),
    "sold_out": (_INT, False),
    "errors": (_DICT, False),
    "oversold": (_BOOL, False),
    "undersold": (_BOOL, True),
    "duplicates": (_INT, False),
    "sold_out_after_ms": (_NUMBER, True),
    "fairness": (_DICT, False),
    "latency_ms": (_DICT, False),
    "spread_ms": (_NUMBER, False),
    "first_send_server_ms": (_NUMBER, True),
    "stock": (_COUNT, False),
    "opening_ms": (_NUMBER, False),
    "server_count": (_COUNT, True),
    "shard": ("a string", True),
    "shots": (_LIST, False),
}
#: A shot's code: shown in the table, so never markup.
_CODE = re.compile(r"[a-z0-9_]{1,40}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: The latest epoch ms a time may be (9999-12-31T23:59:59.999Z): later is no clock's reading.
MAX_TIME_MS = 253_402_300_799_999
#: What ties the shards to one users file, when the report has it (a bench file's run).
_USERS_KEYS = ("users_total", "users_sha256")


def load_reports(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Read and check each file: one JSON object with a report's keys. A missing, unreadable,
    too large or malformed file is a ConfigError naming it."""
    return [_load(path) for path in paths]


def merge(reports: Sequence[dict[str, Any]], names: Sequence[str] | None = None) -> dict[str, Any]:
    """One report from the shards of one opening (``names`` name them in errors: the files).

    They must agree on the stock, the opening, the fairness's first N, the target and the
    users file (``users_total``, ``users_sha256``), and be the shards ``K/N`` of one N, each K
    once and none missing, each holding only its own users (index ``K - 1`` modulo N), no user
    twice; with ``users_total`` known, every user of the file has its shot. The server's count
    is the highest any of them gives."""
    names = list(names) if names is not None else [f"report {i + 1}" for i in range(len(reports))]
    if len(names) != len(reports):
        raise ValueError("one name per report")
    if not reports:
        raise ConfigError("merge: no reports given")
    for name, report in zip(names, reports, strict=True):
        check_report(report, name)
    first = reports[0]
    agreed = _agreed(first)
    for name, report in zip(names, reports, strict=True):
        for key, value in _agreed(report).items():
            if value != agreed[key]:
                mine, theirs, hint = _said(value), _said(agreed[key]), ""
                if key == "opening_ms":  # epoch ms say little: the instants, and the likely cause
                    mine, theirs = _instant(value), _instant(agreed[key])
                    hint = " (shards fire together only with one absolute --at on every machine)"
                raise ConfigError(f"{name}: {key} is {mine}, {names[0]} has {theirs}{hint}")
    _check_shards(reports, names)
    _check_users(reports, names)
    counts = [r["server_count"] for r in reports if r["server_count"] is not None]
    merged = summarize(
        (_shot(row) for report in reports for row in report["shots"]),
        stock=first["stock"],
        opening_ms=first["opening_ms"],
        server_count=max(counts, default=None),
        first_n=first["fairness"]["first_n"],
    )
    for key in ("target", *_USERS_KEYS):
        if first.get(key) is not None:
            merged[key] = first[key]
    return merged


def check_report(report: Any, name: str) -> None:
    """ConfigError, naming ``name``, unless ``report`` is an object with a report's keys of the
    right types and well-formed shots."""
    if not isinstance(report, dict):
        raise ConfigError(f"{name}: not a JSON object")
    missing = sorted(set(_KEYS) - set(report))
    if missing:
        raise ConfigError(f"{name}: missing keys: {', '.join(missing)}")
    for key, (kind, nullable) in _KEYS.items():
        value = report[key]
        if not (nullable and value is None) and not _is(kind, value):
            raise ConfigError(f"{name}: {key} must be {kind}{' or null' if nullable else ''}")
    first_n = report["fairness"].get("first_n")
    if not _is(_COUNT, first_n):
        raise ConfigError(f"{name}: fairness.first_n must be {_COUNT}")
    _check_shard_text(report["shard"], name)
    if not _is_time(report["opening_ms"]):
        raise ConfigError(f"{name}: opening_ms must be {_TIME}")
    _check_optional(report, name)
    for i, row in enumerate(report["shots"]):
        problem = _row_problem(row)
        if problem:
            raise ConfigError(f"{name}: shots[{i}]: {problem}")


def _check_shard_text(shard: str | None, name: str) -> None:
    """A shard is ``K/N`` as ``--shard`` takes it (or null: the whole run)."""
    if shard is None:
        return
    try:
        users.parse_shard(shard)
    except ConfigError:
        raise ConfigError(f"{name}: shard must be K/N (like 1/2), not {shard!r}") from None


def _check_optional(report: dict[str, Any], name: str) -> None:
    """The keys a bench file's run adds: absent or null, or of the right kind."""
    for key, good, kind in (
        ("target", lambda v: isinstance(v, str), "a string"),
        ("users_total", lambda v: _is(_COUNT, v), _COUNT),
        ("users_sha256", lambda v: isinstance(v, str) and _SHA256.fullmatch(v), "64 hex digits"),
    ):
        value = report.get(key)
        if value is not None and not good(value):
            raise ConfigError(f"{name}: {key} must be {kind} or null")


def _instant(epoch_ms: float) -> str:
    """An opening as people read it (UTC, to the millisecond)."""
    when = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return when.isoformat(timespec="milliseconds")


def _agreed(report: dict[str, Any]) -> dict[str, Any]:
    """What the shards of one opening share."""
    return {
        "stock": report["stock"],
        "opening_ms": report["opening_ms"],
        "fairness.first_n": report["fairness"]["first_n"],
        "target": report.get("target"),
        **{key: report.get(key) for key in _USERS_KEYS},
    }


def _load(path: Path) -> dict[str, Any]:
    try:
        data = _read_regular(path, MAX_REPORT_BYTES)
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        report = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from None
    check_report(report, str(path))
    return report  # type: ignore[no-any-return]


def _read_regular(path: Path, cap: int) -> bytes:
    """The bytes of the regular file at ``path``, at most ``cap`` of them (ConfigError past
    it). Opened without blocking, so that a FIFO or a device is refused, not waited on."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{path}: not a regular file")
        if info.st_size > cap:
            raise ConfigError(f"{path}: {info.st_size} bytes, more than a report's {cap}")
        data = file.read(cap + 1)
    if len(data) > cap:
        raise ConfigError(f"{path}: more than a report's {cap} bytes")
    return data


def users_sha256(path: Path) -> str | None:
    """The sha256 (hex) of the users file at ``path``, which ties the shards of one run to
    one file; ``None`` when it is no longer a users file that can be read."""
    try:
        data = _read_regular(path, users.MAX_BYTES)
    except (OSError, ConfigError):
        return None
    return hashlib.sha256(data).hexdigest()


def _said(value: Any) -> str:
    return "none" if value is None else str(value)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


_TIME = f"an epoch time in ms from 0 to {MAX_TIME_MS}"


def _is_time(value: Any) -> bool:
    return _is(_NUMBER, value) and 0 <= value <= MAX_TIME_MS


def _is(kind: str, value: Any) -> bool:
    if kind in (_INT, _COUNT):
        whole = isinstance(value, int) and not isinstance(value, bool)
        return whole and (kind == _INT or value >= 0)
    if kind == _NUMBER:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return number and math.isfinite(value)
    types = {_BOOL: bool, _DICT: dict, _LIST: list, "a string": str}
    return isinstance(value, types[kind])


def _row_problem(row: Any) -> str | None:
    """What is wrong with one ``[index, user, sent_ms, done_ms, status, code]`` row, if
    anything."""
    if not isinstance(row, list) or len(row) != 6:
        return "must be [index, user, sent_ms, done_ms, status, code]"
    index, user, sent, done, status, code = row
    fields = (
        ("index", index, _is(_COUNT, index), _COUNT),
        ("user", user, isinstance(user, str), "a string"),
        ("sent_ms", sent, _is_time(sent), _TIME),
        ("done_ms", done, _is_time(done), _TIME),
        ("status", status, status is None or _is(_INT, status), "an integer or null"),
        (
            "code",
            code,
            isinstance(code, str) and _CODE.fullmatch(code) is not None,
            "1 to 40 of a-z, 0-9, _",
        ),
    )
    for field, _, good, kind in fields:
        if not good:
            return f"{field} must be {kind}"
    return None


def _check_shards(reports: Sequence[dict[str, Any]], names: Sequence[str]) -> None:
    """One N, each K once, none missing, and every shot in its own shard."""
    if len(reports) == 1 and reports[0]["shard"] is None:
        return
    seen: dict[int, str] = {}
    total: int | None = None
    for name, report in zip(names, reports, strict=True):
        if report["shard"] is None:
            raise ConfigError(
                f"{name}: not a shard (shard is null): only the shards of a run merge"
            )
        k, n = users.parse_shard(report["shard"])
        if total is None:
            total = n
        elif n != total:
            raise ConfigError(f"{name}: shard {k}/{n}, but {names[0]} is one of {total}")
        if k in seen:
            raise ConfigError(f"{name}: shard {k}/{n} again (also {seen[k]})")
        seen[k] = name
        stray = next((row[0] for row in report["shots"] if row[0] % n != k - 1), None)
        if stray is not None:
            raise ConfigError(f"{name}: user index {stray} is not in shard {k}/{n}")
    assert total is not None
    missing = [f"{k}/{total}" for k in range(1, total + 1) if k not in seen]
    if missing:
        raise ConfigError(f"merge: shard {', '.join(missing)} missing")


def _check_users(reports: Sequence[dict[str, Any]], names: Sequence[str]) -> None:
    """No user's index twice, across the files or in one; with the users file's size known
    (the reports agree on it), every index inside it and every user there."""
    seen: dict[int, str] = {}
    for name, report in zip(names, reports, strict=True):
        for row in report["shots"]:
            index = row[0]
            if index in seen:
                also = "" if seen[index] == name else f" (also in {seen[index]})"
                raise ConfigError(f"{name}: user index {index} has two shots{also}")
            seen[index] = name
    total = reports[0].get("users_total")
    if total is None:
        return
    past = next((i for i in sorted(seen) if i >= total), None)
    if past is not None:
        raise ConfigError(f"{seen[past]}: user index {past} is past the users file's {total} users")
    missing = total - len(seen)
    if missing:
        first = next(i for i in range(total) if i not in seen)
        raise ConfigError(
            f"merge: {missing} user{'s' if missing > 1 else ''} of the file "
            f"{'have' if missing > 1 else 'has'} no shot (the first: index {first})"
        )


def _shot(row: list[Any]) -> Shot:
    index, user, sent, done, status, code = row
    return Shot(user, float(sent), float(done), status, code, index)
