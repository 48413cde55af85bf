"""``sniper bench --file`` against a seckill endpoint that is not our store (its own sessions, its
own count, its own clock), as a user runs it: a subprocess, real sockets. The broken variants of
that endpoint must each be caught (exit 1); shards of one users file, started as two processes
with one absolute ``--at``, fire together and merge into what one run gives."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sniper.store.process import free_port
from tests.bench.conftest import StartTarget
from tests.bench.target_fixture import DESIGN_KEYS, SeckillTarget, run_sniper


def _bench(bench_file: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    done = run_sniper("bench", "--file", str(bench_file), "--at", "+1s", "--json", *extra)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, json.loads(done.stdout)


def test_a_correct_endpoint_passes_every_check(start_target: StartTarget, tmp_path: Path) -> None:
    """200 users (10 of them buyers with a second session), stock 50: 50 ok, the rest sold out
    or refused past the limit; nothing oversold, undersold or sold twice to one buyer; the
    target's own count agrees; the table says so too."""
    target = start_target(mode="ok", stock=50, users=190, duplicate_buyers=10)
    bench_file = target.write_bench(tmp_path)
    code, report = _bench(bench_file, "--hdr", str(tmp_path / "latency.hgrm"))
    assert code == 0
    assert set(report) >= DESIGN_KEYS
    assert report["requests"] == 200
    assert report["ok"] == 50 == target.sold()
    assert report["sold_out"] + report["errors"].get("limit_reached", 0) == 150
    assert set(report["errors"]) <= {"limit_reached"}
    assert (report["oversold"], report["undersold"], report["duplicates"]) == (False, False, 0)
    assert report["server_count"] == 50
    assert report["sold_out_after_ms"] is not None
    assert report["sold_out_after_ms"] >= 0
    assert set(report["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert report["latency_ms"]["p50"] <= report["latency_ms"]["p99"] <= report["latency_ms"]["max"]
    assert set(report["fairness"]) >= {"kendall_tau", "winners_in_first_n"}
    assert "Percentile" in (tmp_path / "latency.hgrm").read_text()


def test_the_table_names_every_check(start_target: StartTarget, tmp_path: Path) -> None:
    """Without --json: a table with the checks, exit 0 on a correct endpoint."""
    target = start_target(mode="ok", stock=5, users=20)
    done = run_sniper("bench", "--file", str(target.write_bench(tmp_path)), "--at", "+1s")
    assert done.returncode == 0, done.stderr
    text = done.stdout.lower()
    for word in ("oversold", "undersold", "duplicate", "kendall", "p99", "spread"):
        assert word in text, word


@pytest.mark.parametrize(
    ("mode", "check", "stock"),
    # Enough stock for every request when one buyer's two sessions must both be served.
    [("oversell", "oversold", 20), ("undersell", "undersold", 20), ("double", "duplicates", 200)],
)
def test_each_broken_endpoint_is_caught(
    start_target: StartTarget, tmp_path: Path, mode: str, check: str, stock: int
) -> None:
    """An endpoint that oversells, one that refuses with stock left, one that gives a buyer two
    units: the matching check fires and the exit code is 1."""
    target = start_target(mode=mode, stock=stock, users=180, duplicate_buyers=20)
    code, report = _bench(target.write_bench(tmp_path))
    assert code == 1
    assert report[check], report
    others = {"oversold", "undersold", "duplicates"} - {check}
    if mode != "oversell":  # an oversell may also sell one buyer two units: not asserted
        assert not any(report[k] for k in others), report


def test_shards_fire_together_and_merge_into_one_run(
    start_target: StartTarget, tmp_path: Path
) -> None:
    """``--shard 1/2`` and ``--shard 2/2``, two processes started apart with one absolute
    ``--at`` on the target's clock: their first requests arrive close together at the target
    (the 1 ms figure is measured by benchmarks/bench_shards.py; here a gross misalignment
    fails), and ``bench merge`` counts what one unsharded run against a fresh target counts."""
    target = start_target(mode="ok", stock=40, users=200)
    bench_file = target.write_bench(tmp_path)
    at = datetime.fromtimestamp(target.get("/time")["now_ms"] / 1000 + 4, tz=UTC).isoformat()
    cmd = [sys.executable, "-m", "sniper", "bench", "--file", str(bench_file), "--at", at]
    outs = [tmp_path / "a.json", tmp_path / "b.json"]
    procs = []
    for k, out in enumerate(outs, start=1):
        with out.open("w") as sink:
            procs.append(
                subprocess.Popen([*cmd, "--shard", f"{k}/2", "--json"], stdout=sink, text=True)
            )
    assert [p.wait(60) for p in procs] == [0, 0]
    users = dict(target.users())
    shard_of = {user: 1 + i % 2 for i, user in enumerate(users)}
    firsts: dict[int, float] = {}
    for user, ms in target.arrivals():
        assert user is not None
        firsts.setdefault(shard_of[user], ms)
    assert abs(firsts[1] - firsts[2]) < 50, firsts
    merged = run_sniper("bench", "merge", *map(str, outs), "--json")
    assert merged.returncode == 0, merged.stderr
    joined = json.loads(merged.stdout)

    fresh = start_target(mode="ok", stock=40, users=200)
    code, whole = _bench(fresh.write_bench(tmp_path))
    assert code == 0
    for key in ("requests", "ok", "sold_out", "errors", "oversold", "undersold", "duplicates"):
        assert joined[key] == whole[key], key
    assert joined["server_count"] == 40


def test_bench_file_mistakes_are_one_line_and_send_nothing(
    start_target: StartTarget, tmp_path: Path
) -> None:
    """A bench file with a wrong field, a shard past N, an option of --url (or --keep) beside
    --file, an output that cannot be written: exit 2, one line on stderr, no request reached the
    target."""
    target: SeckillTarget = start_target(mode="ok", stock=5, users=10)
    good = target.write_bench(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(good.read_text().replace("stock: 5", "stock: many"))
    for args in (
        ["--file", str(bad)],
        ["--file", str(good), "--shard", "3/2"],
        ["--file", str(good), "--shard", "1/2"],  # with --at +1s: a relative --at cannot line up
        ["--file", str(good), "--users", "10"],
        ["--file", str(good), "--limit", "2"],
        ["--file", str(good), "--hdr", str(tmp_path / "no-such-folder" / "x.hgrm")],
        ["--file", str(good), "--plot", str(tmp_path)],
        ["--file", str(good), "--plot", str(tmp_path / "plot.txt")],
        ["--file", str(good), "--keep"],
        ["--file", str(tmp_path / "missing.yaml")],
    ):
        done = run_sniper("bench", *args, "--at", "+1s")
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith("sniper: ")
    assert target.arrivals() == []


def test_the_date_header_is_the_clock_without_a_clock_endpoint(
    start_target: StartTarget, tmp_path: Path
) -> None:
    """No ``clock:`` in the bench file: the target's clock is read from its ``Date`` header's
    edge (as the sniper reads a shop's), and the opening goes as with a time endpoint."""
    target = start_target(mode="ok", stock=5, users=20)
    code, report = _bench(target.write_bench(tmp_path, clock=False), "--at", "+2s")
    assert code == 0
    assert (report["requests"], report["ok"], report["sold_out"]) == (20, 5, 15)


def test_a_target_that_refuses_connections_is_a_result(
    start_target: StartTarget, tmp_path: Path
) -> None:
    """The order URL on a port where nothing listens (the clock on a live target): every user
    is a ``connection_error`` in a full report, not an aborted run; nothing sold: exit 1."""
    target = start_target(mode="ok", stock=5, users=20)
    bench_file = target.write_bench(tmp_path)
    dead = free_port()
    text = bench_file.read_text()
    order_url = f"{target.url}/seckill"
    bench_file.write_text(text.replace(order_url, f"http://127.0.0.1:{dead}/seckill"))
    code, report = _bench(bench_file)
    assert code == 1
    assert report["requests"] == 20
    assert report["errors"] == {"connection_error": 20}
    assert target.arrivals() == []


def test_options_of_a_run_are_refused_before_merge(tmp_path: Path) -> None:
    """``sniper bench --json merge …``: the option belongs after ``merge``; one line, exit 2."""
    done = run_sniper("bench", "--json", "merge", str(tmp_path / "a.json"))
    assert done.returncode == 2
    assert done.stderr.startswith("sniper: --json: not with `bench merge`")
    assert len(done.stderr.strip().splitlines()) == 1


def _few_files() -> None:
    # In the child: a hard limit of 64 open files, which sniper bench cannot raise.
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))


def test_more_users_than_open_files_is_refused_before_anything_is_sent(
    start_target: StartTarget, tmp_path: Path
) -> None:
    """More users than the process's open-files limit can hold as connections: exit 2, one
    line naming the users and the limit; the target saw no request, and with ``--url`` no store
    was asked (nothing listens there)."""
    target = start_target(mode="ok", stock=5, users=40)
    runs = (
        ["--file", str(target.write_bench(tmp_path))],
        ["--url", "http://127.0.0.1:9", "--admin-token", "t", "--users", "100", "--stock", "1"],
    )
    for args in runs:
        done = subprocess.run(
            [sys.executable, "-m", "sniper", "bench", *args, "--at", "+1s"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            preexec_fn=_few_files,
        )
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "connections at once need" in done.stderr
        assert "may have 64" in done.stderr
    assert target.arrivals() == []
