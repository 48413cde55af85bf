"""The attempt log: one JSON line each, bounded by rotation."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from sniper.client.connection import Response
from sniper.client.runlog import Attempt, RunLog
from sniper.client.scrub import HIDDEN, Secrets


def test_rotation_keeps_the_log_bounded(tmp_path: Path) -> None:
    """Past max_bytes the file moves to .1 (then .2 …); at most `keep` old files remain."""
    log = RunLog(tmp_path / "s.log", "t", max_bytes=2000, keep=2)
    for i in range(200):
        log.event("tick", n=i)
    log.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["s.log", "s.log.1", "s.log.2"]
    assert all(p.stat().st_size < 2200 for p in tmp_path.iterdir())
    last = [json.loads(ln) for ln in (tmp_path / "s.log").read_text().splitlines()]
    assert last[-1] == {"event": "tick", "task": "t", "n": 199}


def test_tasks_sharing_a_log_follow_each_others_rotation(tmp_path: Path) -> None:
    """Two tasks, one file: after either rotates, both write to the new file; nothing fails."""
    path = tmp_path / "s.log"
    logs = [RunLog(path, name, max_bytes=3000, keep=3) for name in ("a", "b")]
    for i in range(60):
        for log in logs:
            log.event("tick", n=i)
    for log in logs:
        log.close()
        assert not log.failed
    current = [json.loads(ln) for ln in path.read_text().splitlines()]
    assert current[-2:] == [
        {"event": "tick", "task": "a", "n": 59},
        {"event": "tick", "task": "b", "n": 59},
    ]
    kept = sum(len(p.read_text().splitlines()) for p in tmp_path.iterdir())
    assert len(list(tmp_path.iterdir())) > 1  # it did rotate
    assert kept == 120  # 120 lines fit in four files of 3 kB: not one was lost


def test_an_echoed_cookie_is_redacted_everywhere(tmp_path: Path) -> None:
    """A server that echoes the cookie (in a header, an error, an order id) does not get it
    into the log: the header value and each cookie's value are hidden."""
    cookie = "session=abc123secret; csrf=tok-99887766"
    log = RunLog(tmp_path / "s.log", "t", secrets=Secrets.of_cookie(cookie))
    echoed = Response(500, (("x-echo", cookie), ("x-csrf", "tok-99887766")), b"", 1.0)
    log.attempt(
        Attempt(
            seq=1,
            attempt=1,
            step="",
            sent_server_ms=0.0,
            latency_ms=1.0,
            response=echoed,
            outcome="retry",
            order_id="abc123secret",
            detail="HTTP 500 abc123secret",
        )
    )
    log.close()
    text = (tmp_path / "s.log").read_text()
    assert "abc123secret" not in text
    assert "tok-99887766" not in text
    line = json.loads(text)
    assert line["headers"] == {"x-echo": HIDDEN, "x-csrf": HIDDEN}
    assert line["detail"] == f"HTTP 500 {HIDDEN}"


def test_log_files_are_private_rotated_ones_too(tmp_path: Path) -> None:
    """0600 from the first line, also for a file that was there before, and after rotation."""
    path = tmp_path / "s.log"
    for old in (path, tmp_path / "s.log.1"):  # left by an older version, world-readable
        old.write_text("")
        old.chmod(0o644)
    log = RunLog(path, "t", max_bytes=500, keep=2)
    for n in range(40):
        log.event("tick", n=n, pad="x" * 50)
    log.close()
    files = sorted(tmp_path.iterdir())
    assert {f.name for f in files} >= {"s.log.1", "s.log.2"}
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
