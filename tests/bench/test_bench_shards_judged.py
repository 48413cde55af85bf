"""Shards of a correct endpoint whose bench file has no ``count:``, as a user runs them: each
shard alone cannot judge the undersell (unknown, not a failure); ``bench merge`` judges it over
every shot, and refuses shards of another users file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.bench.conftest import StartTarget
from tests.bench.target_fixture import run_sniper


def test_shards_without_a_count_are_judged_when_merged(
    start_target: StartTarget, tmp_path: Path
) -> None:
    """Stock 10, 30 users in two shards at one instant: some told sold out in a shard that
    bought fewer than the stock. Neither shard alone can say undersold; the merge judges."""
    target = start_target(mode="ok", stock=10, users=30)
    bench_file = target.write_bench(tmp_path, count=False)
    at = datetime.fromtimestamp(target.get("/time")["now_ms"] / 1000 + 3, tz=UTC).isoformat()
    run = [sys.executable, "-m", "sniper", "bench", "--file", str(bench_file)]
    outs = [tmp_path / "1.json", tmp_path / "2.json"]
    procs = []
    for k, out in enumerate(outs, start=1):
        with out.open("w") as sink:
            cmd = [*run, "--at", at, "--shard", f"{k}/2", "--json"]
            procs.append(subprocess.Popen(cmd, stdout=sink, text=True))
    assert [p.wait(60) for p in procs] == [0, 0]
    reports = [json.loads(out.read_text()) for out in outs]
    assert [r["undersold"] for r in reports] == [None, None]
    assert [r["users_total"] for r in reports] == [30, 30]
    assert len({r["users_sha256"] for r in reports}) == 1
    assert sum(r["ok"] for r in reports) == 10

    # A shard's table: 15 users buy 15 of 20 units; the whole sale is judged by the merge.
    fresh = start_target(mode="ok", stock=20, users=30).write_bench(tmp_path, count=False)
    soon = datetime.fromtimestamp(time.time() + 2, tz=UTC).isoformat()  # the target's clock is ours
    table = run_sniper("bench", "--file", str(fresh), "--at", soon, "--shard", "2/2")
    assert table.returncode == 0, table.stdout + table.stderr
    for check in ("undersold", "time to sold out"):
        (line,) = [line for line in table.stdout.splitlines() if check in line]
        assert "n/a: judged when the shards are merged" in line

    merged = run_sniper("bench", "merge", *map(str, outs), "--json")
    assert merged.returncode == 0, merged.stderr
    joined = json.loads(merged.stdout)
    assert (joined["requests"], joined["ok"], joined["sold_out"]) == (30, 10, 20)
    assert (joined["undersold"], joined["users_total"]) == (False, 30)
    assert joined["sold_out_after_ms"] is not None

    digest = json.loads(outs[0].read_text())["users_sha256"]
    other = json.loads(outs[1].read_text())
    other["users_sha256"] = "0" * 64
    outs[1].write_text(json.dumps(other))
    refused = run_sniper("bench", "merge", *map(str, outs))
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        f"sniper: {outs[1]}: users_sha256 is {'0' * 64}, {outs[0]} has {digest}"
    ]
