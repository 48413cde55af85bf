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
