"""Private files: created 0600, and an existing file narrowed, by every writer of one; an
output checked writable before the work it reports."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest

from sniper.clock import ManualClock
from sniper.errors import ConfigError
from sniper.files import check_writable, create_private, open_private, write_private
from sniper.store.backends.sqlite import SqliteBackend


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _shared(path: Path, text: str) -> Path:
    """A file someone made readable by all."""
    path.write_text(text)
    path.chmod(0o644)
    return path


def test_write_private_creates_and_narrows(tmp_path: Path) -> None:
    """A new file is 0600; an existing 0644 one is narrowed and its content replaced."""
    new = tmp_path / "new.cookie"
    write_private(new, "session=a\n")
    old = _shared(tmp_path / "old.cookie", "session=old-and-longer\n")
    write_private(old, "session=b\n")
    assert (_mode(new), new.read_text()) == (0o600, "session=a\n")
    assert (_mode(old), old.read_text()) == (0o600, "session=b\n")


def test_open_private_appends_and_narrows(tmp_path: Path) -> None:
    """Opened for appending, an existing file keeps its lines and loses its wider mode."""
    log = _shared(tmp_path / "sniper.log", "one\n")
    fd = open_private(log, os.O_WRONLY | os.O_APPEND)
    with os.fdopen(fd, "a") as handle:
        handle.write("two\n")
    assert (_mode(log), log.read_text()) == (0o600, "one\ntwo\n")


def test_create_private_keeps_content(tmp_path: Path) -> None:
    """An existing file is narrowed, not emptied; a path in a missing folder is left alone."""
    db = _shared(tmp_path / "store.db", "data")
    create_private(db)
    create_private(tmp_path / "missing" / "store.db")
    assert (_mode(db), db.read_text()) == (0o600, "data")
    assert not (tmp_path / "missing").exists()


async def test_an_existing_store_file_is_narrowed(tmp_path: Path) -> None:
    """A store.db made readable by all before (by another tool, an older version) is 0600 once
    the store opens it: it holds password and session hashes."""
    db = tmp_path / "store.db"
    db.touch()
    db.chmod(0o644)
    backend = SqliteBackend(db, ManualClock())
    await backend.open()
    try:
        assert _mode(db) == 0o600
    finally:
        await backend.aclose()


def test_check_writable(tmp_path: Path) -> None:
    """A new file in a folder we may write, or an existing file we may write: fine, and nothing
    is created; a folder, a missing folder, a read-only file: one line naming the option."""
    check_writable("plot", tmp_path / "new.png")
    assert not (tmp_path / "new.png").exists()
    existing = tmp_path / "old.png"
    existing.write_bytes(b"x")
    check_writable("plot", existing)
    existing.chmod(0o400)
    cases = {
        tmp_path: "plot: " + str(tmp_path) + " is a folder",
        tmp_path / "none" / "x.png": "no such folder",
    }
    if os.geteuid() != 0:  # root may write anything
        cases[existing] = "not writable"
    for path, said in cases.items():
        with pytest.raises(ConfigError, match=re.escape(said)):
            check_writable("plot", path)
