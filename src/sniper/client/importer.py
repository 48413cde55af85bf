"""``sniper import-curl`` and ``sniper import-har``: from a capture to a task file and its
cookie file.

Everything that would make the files wrong, or lose what the user already has, is refused
before anything is written: a capture that cannot be read, a bad ``--target-time``, a folder
that does not exist, a task or cookie file already there (unless ``force``). The CLI then writes
the files it is given, readable by their owner only. Both importers go through the same checks
and the same files (:func:`_checked`, :func:`_files`).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from sniper.client.capture import FILL_TARGET
from sniper.client.config import redact
from sniper.client.curl import CURL_USER_AGENT, Machine, parse_curl
from sniper.client.curltask import to_task
from sniper.client.har import listing, pick, read_har
from sniper.client.harflow import build_flow
from sniper.clock import Clock
from sniper.errors import ConfigError
from sniper.rfc3339 import parse_rfc3339


@dataclass
class ImportPlan:
    """The files to write (path and text, both private: a cookie, an Authorization header), what
    to tell the user, and what to warn about."""

    files: list[tuple[Path, str]]
    summary: str
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plan_import(
    command: bytes,
    output: Path,
    *,
    sku_id: str | None,
    target_time: str | None,
    force: bool,
    clock: Clock,
    user_agent: str = CURL_USER_AGENT,
) -> ImportPlan:
    """What ``sniper import-curl`` writes for ``command`` (the file's bytes); ConfigError for
    anything it must refuse. Files the command names (``-d @file``, ``-b cookies.txt``) are read
    as curl would, from the current folder; ``user_agent`` is the one curl would send."""
    try:
        text = command.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError("curl: the command is not UTF-8 text (save it as UTF-8)") from None
    request = parse_curl(
        text, Machine(read_file=_read_file, now=clock.time(), user_agent=user_agent)
    )
    cookie_path, warnings = _checked(output, request.cookie, target_time, force, clock)
    imported = to_task(request, sku_id=sku_id, target_time=target_time, cookie_file=cookie_path)
    files, cookie = _files(output, imported.task, request.cookie)
    summary = f"wrote {output} ({request.method} {request.url.split('?')[0]}), cookie {cookie}"
    return ImportPlan(files, summary, imported.notes, warnings + imported.warnings)


def _read_file(name: str) -> bytes:
    return Path(name).read_bytes()


def curl_user_agent() -> str:
    """The ``User-Agent`` this machine's curl sends (``curl/8.5.0`` when there is no curl)."""
    curl = shutil.which("curl")
    if curl is None:
        return CURL_USER_AGENT
    try:
        shown = subprocess.run(
            [curl, "--version"], capture_output=True, text=True, timeout=5, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return CURL_USER_AGENT
    found = re.match(r"curl (\S+)", shown)
    return f"curl/{found.group(1)}" if found else CURL_USER_AGENT


def har_listing(data: bytes) -> list[str]:
    """What ``sniper import-har FILE`` prints without ``--pick``: one line per request."""
    return listing(read_har(data))


def plan_har_import(
    data: bytes,
    picks: list[str],
    output: Path,
    *,
    sku_id: str | None,
    target_time: str | None,
    force: bool,
    clock: Clock,
) -> ImportPlan:
    """What ``sniper import-har FILE --pick …`` writes for a HAR file (its bytes): a flow of
    the picked requests; ConfigError for anything it must refuse."""
    exchanges = read_har(data)
    picked = pick(exchanges, picks)
    flow = build_flow(exchanges, picked, sku_id)
    cookie_path, warnings = _checked(output, flow.cookie, target_time, force, clock)
    open_url = flow.steps[-1]["request"]["url"]
    parts = urlsplit(exchanges[picked[-1]].url)
    task: dict[str, object] = {
        "platform": "http",
        "base_url": f"{parts.scheme}://{parts.netloc}",
        **({"cookie_file": cookie_path} if cookie_path is not None else {}),
        "sku_id": sku_id or "FILL-ME",
        "target_time": target_time or FILL_TARGET,
        "flow": flow.steps,
    }
    files, cookie = _files(output, task, flow.cookie)
    if sku_id and not flow.sku_found:
        warnings.append(
            f"--sku-id {sku_id} appears nowhere in the picked requests' URLs or bodies: the "
            "task orders the item the requests name, whatever sku_id says"
        )
    if flow.cookie is None:
        warnings.append(_NO_COOKIE)
    steps = ", ".join(f"{s['name']} ({s['when']})" for s in flow.steps)
    summary = (
        f"wrote {output} ({len(flow.steps)} steps: {steps}; open: "
        f"{flow.steps[-1]['request']['method']} {open_url.split('?')[0]}), cookie {cookie}"
    )
    notes = list(flow.notes)
    if len(flow.steps) > 1:
        notes.append(_BEFORE_STEPS)
    return ImportPlan(files, summary, notes, warnings)


_BEFORE_STEPS = (
    "every step but the last is a `before` step, run ahead of the opening: give `when: open` "
    "to one the shop answers only at the opening (a seckill token), and the last step the "
    "`rules:` that find its order id"
)
_NO_COOKIE = (
    "no cookie in the open request: add cookie_file (or set SNIPER_COOKIE) before running the task"
)


def _checked(
    output: Path, cookie: str | None, target_time: str | None, force: bool, clock: Clock
) -> tuple[str | None, list[str]]:
    """The checks every import makes before it writes: the task's ``cookie_file:`` value (the
    cookie file's name, relative to the task as every path in a task file is; None without a
    cookie) and the warnings."""
    warnings = _target_warnings(target_time, clock)
    cookie_path = _cookie_path(output) if cookie else None
    _check_output(output, cookie_path, force)
    return (cookie_path.name if cookie_path is not None else None), warnings


_NO_FOLDING = 1 << 16


def _cookie_path(output: Path) -> Path:
    return output.with_name(output.name + ".cookie")


def _files(
    output: Path, task: dict[str, object], cookie: str | None
) -> tuple[list[tuple[Path, str]], str]:
    """The task file and (with a cookie) its cookie file, and how the cookie may be shown."""
    # No folding of long values (a User-Agent, a body): each stays on its line, as captured.
    text = yaml.safe_dump(task, allow_unicode=True, sort_keys=False, width=_NO_FOLDING)
    files = [(output, text)]
    if not cookie:
        return files, "none found"
    files.append((_cookie_path(output), cookie + "\n"))
    return files, f"{redact(cookie)} -> {_cookie_path(output)}"


def _target_warnings(target_time: str | None, clock: Clock) -> list[str]:
    """A ``--target-time`` that is not RFC 3339 with an offset is refused; one in the past (on
    this machine's clock) is a warning: ``sniper run`` would refuse it."""
    if target_time is None:
        return []
    try:
        target = parse_rfc3339(target_time)
    except ValueError as exc:
        raise ConfigError(f"--target-time: {exc}") from None
    if target.timestamp() < clock.time():
        return [
            f"--target-time {target_time} is in the past: sniper run will refuse it; give "
            "the next opening"
        ]
    return []


def _check_output(output: Path, cookie_path: Path | None, force: bool) -> None:
    """The folder exists, and nothing there is replaced unless ``force``."""
    folder = output.parent
    if not folder.is_dir():
        raise ConfigError(f"-o: the folder {folder} does not exist (create it first)")
    there = [p for p in (output, cookie_path) if p is not None and p.exists()]
    if there and not force:
        raise ConfigError(
            f"-o: {' and '.join(map(str, there))} already "
            f"{'exist' if len(there) > 1 else 'exists'}: give --force to replace"
        )
