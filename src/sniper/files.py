"""Files that are their owner's alone (mode 0600): cookie files, task files, run logs, the
store's database. One place opens them, so that each is created private and an existing one
is narrowed, however it came to be there."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from sniper.errors import ConfigError

#: Read and write for the owner, nothing for anyone else.
PRIVATE = 0o600


def open_private(path: Path, flags: int) -> int:
    """A descriptor of ``path`` opened with ``flags`` (``O_CREAT`` added), the file mode 0600:
    created so, or narrowed if it existed (unless it is not ours to narrow: then it is used as
    it is). OSError if it cannot be opened."""
    fd = os.open(path, flags | os.O_CREAT, PRIVATE)
    try:
        with contextlib.suppress(PermissionError):
            os.fchmod(fd, PRIVATE)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_private(path: Path, text: str) -> None:
    """Replace ``path``'s content with ``text`` (UTF-8), the file mode 0600; OSError if it
    cannot be written."""
    fd = open_private(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def create_private(path: Path) -> None:
    """Make sure ``path`` exists with mode 0600 (its content untouched). A path that cannot be
    created is left for whoever opens it next to report, in its own words."""
    with contextlib.suppress(OSError):
        os.close(open_private(path, os.O_RDWR))


def check_writable(name: str, path: Path) -> None:
    """``path`` can be written (an existing file we may write, or a new one in a folder we may
    write to), checked without creating it: so that an output asked for is refused before the
    work it would report. ConfigError naming ``name`` otherwise."""
    if path.is_dir():
        raise ConfigError(f"{name}: {path} is a folder")
    folder = path.parent if str(path.parent) else Path(".")
    if path.exists():
        ok, reason = os.access(path, os.W_OK), "not writable"
    else:
        ok = folder.is_dir() and os.access(folder, os.W_OK | os.X_OK)
        reason = "no such folder" if not folder.is_dir() else "folder not writable"
    if not ok:
        raise ConfigError(f"{name}: cannot write {path}: {reason}")
