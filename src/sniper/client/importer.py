"""``sniper import-curl``: from a pasted command to a task file and its cookie file.

Everything that would make the files wrong, or lose what the user already has, is refused
before anything is written: a command that cannot be read, a bad ``--target-time``, a folder that
does not exist, a task or cookie file already there (unless ``force``). The CLI then writes the
files it is given, readable by their owner only.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from sniper.client.config import redact
from sniper.client.curl import CURL_USER_AGENT, Machine, parse_curl
from sniper.client.curltask import to_task
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
    warnings = _target_warnings(target_time, clock)
    cookie_path = output.with_name(output.name + ".cookie")
    _check_output(output, cookie_path if request.cookie else None, force)
    # The task names its cookie file relative to itself, as every path in a task file is.
    imported = to_task(
        request,
        sku_id=sku_id,
        target_time=target_time,
        cookie_file=cookie_path.name if request.cookie else None,
    )
    files = [(output, yaml.safe_dump(imported.task, allow_unicode=True, sort_keys=False))]
    cookie = "none found"
    if request.cookie:
        files.append((cookie_path, request.cookie + "\n"))
        cookie = f"{redact(request.cookie)} -> {cookie_path}"
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
