"""``sniper bench merge``: the shards of one opening, run on several machines, as one report.

Each shard's JSON carries its shots; the merged report is recomputed from all of them, so it
is exactly what one unsharded run with the same shots would have reported."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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
_KEYS: dict[str, tuple[str, bool]] = {  # name: (kind, may be null)
    "requests": (_INT, False),
    "ok": (_INT, False),
    "sold_out": (_INT, False),
    "errors": (_DICT, False),
    "oversold": (_BOOL, False),
    "undersold": (_BOOL, False),
    "duplicates": (_INT, False),
    "sold_out_after_ms": (_NUMBER, True),
    "fairness": (_DICT, False),
    "latency_ms": (_DICT, False),
    "spread_ms": (_NUMBER, False),
    "first_send_server_ms": (_NUMBER, True),
    "stock": (_INT, False),
    "opening_ms": (_NUMBER, False),
    "server_count": (_INT, True),
    "shard": ("a string", True),
    "shots": (_LIST, False),
}
_SHARD = re.compile(r"([1-9][0-9]*)/([1-9][0-9]*)")


def load_reports(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Read and check each file: one JSON object with a report's keys. A missing, unreadable,
    too large or malformed file is a ConfigError naming it."""
    return [_load(path) for path in paths]


def merge(reports: Sequence[dict[str, Any]], names: Sequence[str] | None = None) -> dict[str, Any]:
    """One report from the shards of one opening (``names`` name them in errors: the files).

    They must agree on the stock, the opening and the fairness's first N, and be the shards
    ``K/N`` of one N, each K once and none missing, each holding only its own users (index
    ``K - 1`` modulo N). The server's count is the highest any of them gives; ``target``
    stays when every report gives the same one."""
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
                raise ConfigError(f"{name}: {key} is {value}, {names[0]} has {agreed[key]}")
    _check_shards(reports, names)
    counts = [r["server_count"] for r in reports if r["server_count"] is not None]
    merged = summarize(
        (_shot(row) for report in reports for row in report["shots"]),
        stock=first["stock"],
        opening_ms=first["opening_ms"],
        server_count=max(counts, default=None),
        first_n=first["fairness"]["first_n"],
    )
    targets = {r.get("target") for r in reports}
    if len(targets) == 1 and None not in targets:
        merged["target"] = targets.pop()
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
    if not _is(_INT, first_n):
        raise ConfigError(f"{name}: fairness.first_n must be {_INT}")
    if report["shard"] is not None and _SHARD.fullmatch(report["shard"]) is None:
        raise ConfigError(f"{name}: shard must be K/N (like 1/2), not {report['shard']!r}")
    for i, row in enumerate(report["shots"]):
        problem = _row_problem(row)
        if problem:
            raise ConfigError(f"{name}: shots[{i}]: {problem}")


def _agreed(report: dict[str, Any]) -> dict[str, Any]:
    """What the shards of one opening share."""
    return {
        "stock": report["stock"],
        "opening_ms": report["opening_ms"],
        "fairness.first_n": report["fairness"]["first_n"],
    }


def _load(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise ConfigError(f"{path}: {size} bytes, more than a report's {MAX_REPORT_BYTES}")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        report = json.loads(text, parse_constant=_no_constant)
    except ValueError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from None
    check_report(report, str(path))
    return report  # type: ignore[no-any-return]


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _is(kind: str, value: Any) -> bool:
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
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
        ("index", index, _is(_INT, index) and index >= 0, "an integer from 0"),
        ("user", user, isinstance(user, str), "a string"),
        ("sent_ms", sent, _is(_NUMBER, sent), _NUMBER),
        ("done_ms", done, _is(_NUMBER, done), _NUMBER),
        ("status", status, status is None or _is(_INT, status), "an integer or null"),
        ("code", code, isinstance(code, str) and code != "", "a non-empty string"),
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
        k, n = (int(part) for part in report["shard"].split("/"))
        if k > n:
            raise ConfigError(f"{name}: shard {k}/{n}: K is past N")
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


def _shot(row: list[Any]) -> Shot:
    index, user, sent, done, status, code = row
    return Shot(user, float(sent), float(done), status, code, index)
