"""The attempt log: one JSON line each, bounded by rotation."""

from __future__ import annotations

import json
from pathlib import Path

from sniper.client.runlog import RunLog


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
    assert current[-2:] == [{"event": "tick", "task": "a", "n": 59},
                            {"event": "tick", "task": "b", "n": 59}]
    kept = sum(len(p.read_text().splitlines()) for p in tmp_path.iterdir())
    assert len(list(tmp_path.iterdir())) > 1  # it did rotate
    assert kept == 120  # 120 lines fit in four files of 3 kB: not one was lost
