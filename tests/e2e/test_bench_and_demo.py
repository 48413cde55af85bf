"""``sniper bench`` and ``sniper demo`` as a user runs them: subprocesses, real sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import sniper.bench.run
from sniper.bench.at import At
from sniper.bench.run import BenchOptions, run_bench
from tests.conftest import ADMIN_TOKEN
from tests.e2e.conftest import StartStore
from tests.e2e.oversell_store import OversellingStore
from tests.e2e.store_process import StoreProcess


def _held(store: StoreProcess) -> dict[str, int]:
    """How many items, users, live sessions and orders the store's SQLite file holds."""
    with contextlib.closing(sqlite3.connect(store.db)) as conn:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("items", "users", "sessions", "orders")
        }


def bench_argv(url: str, token: str, *, users: int, stock: int, at: str) -> list[str]:
    """``sniper bench --url`` with its required options, as a user types it."""
    return [
        *(sys.executable, "-m", "sniper", "bench", "--url", url, "--admin-token", token),
        *("--users", str(users), "--stock", str(stock), "--at", at),
    ]


def _bench(url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *bench_argv(url, ADMIN_TOKEN, users=300, stock=30, at="+1s"),
            "--json",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_bench_against_the_store(start_store: StartStore, tmp_path: Path) -> None:
    """300 users, stock 30: ok 30, sold_out 270, not oversold; one JSON object; a PNG."""
    store = start_store()
    done = _bench(store.url, "--plot", str(tmp_path / "bench.png"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # exactly one JSON object, nothing else on stdout
    assert set(report) >= {
        "requests",
        "ok",
        "sold_out",
        "errors",
        "oversold",
        "latency_ms",
        "throughput_rps",
        "spread_ms",
    }
    assert (report["requests"], report["ok"], report["sold_out"]) == (300, 30, 270)
    assert report["errors"] == {}
    assert report["oversold"] is False
    assert set(report["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert report["arrival_spread_ms"] >= 0  # the store's own stamps of its 30 orders
    assert (tmp_path / "bench.png").read_bytes().startswith(b"\x89PNG")
    assert f"wrote {tmp_path / 'bench.png'}" in done.stderr.splitlines()
    # The item and users made for the run are gone; the orders stay.
    assert _held(store) == {"items": 0, "users": 0, "sessions": 0, "orders": 30}
    [sku] = {o["sku_id"] for o in store.admin("GET", "/admin/orders").json()["orders"]}
    assert store.admin("GET", f"/api/items/{sku}").status_code == 404
    # A busy machine may write the first request late, and the run says so; nothing else warns.
    warnings = [line for line in done.stderr.splitlines() if "warning" in line]
    assert [line for line in warnings if "the first request left" not in line] == []


def test_bench_keep_leaves_the_item_and_users(start_store: StartStore) -> None:
    """--keep: the item and the 300 users stay on the store, and one line says so."""
    store = start_store()
    done = subprocess.run(
        [
            *bench_argv(store.url, ADMIN_TOKEN, users=300, stock=30, at="+1s"),
            "--keep",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [kept] = [line for line in done.stdout.splitlines() if line.startswith("kept")]
    [sku] = {o["sku_id"] for o in store.admin("GET", "/admin/orders").json()["orders"]}
    assert kept == f"kept on the store (--keep): item {sku} and 300 users"
    assert _held(store) == {"items": 1, "users": 300, "sessions": 300, "orders": 30}
    assert store.admin("GET", f"/api/items/{sku}").json()["stock"] == 0


async def test_bench_failing_midway_still_removes_what_it_made(
    start_store: StartStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run fails after the item and users were made (here: the volley): they are removed
    all the same, and the failure is what the caller gets."""
    store = start_store()

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("the volley broke")

    monkeypatch.setattr(sniper.bench.run, "fire_at", broken)
    said: list[str] = []
    opts = BenchOptions(store.url, ADMIN_TOKEN, 20, 5, At(delay_s=1.0))
    with pytest.raises(RuntimeError, match="the volley broke"):
        await run_bench(opts, said.append, warn=said.append)
    assert said[-1].startswith("removed from the store: item bench-")
    assert said[-1].endswith(" and 20 users (their orders stay)")
    assert _held(store) == {"items": 0, "users": 0, "sessions": 0, "orders": 0}


def test_bench_interrupted_still_removes_what_it_made(start_store: StartStore) -> None:
    """Ctrl-C while the run waits for its opening: exit 130, and the item and users it made
    are removed on the way out."""
    store = start_store()
    proc = subprocess.Popen(
        [
            *bench_argv(store.url, ADMIN_TOKEN, users=50, stock=5, at="+60s"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the item and users are made
        assert first.startswith("item bench-"), first
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130, err
    assert "removed from the store: item bench-" in out
    assert _held(store) == {"items": 0, "users": 0, "sessions": 0, "orders": 0}


async def test_bench_cleanup_that_fails_is_a_warning() -> None:
    """A store that cannot remove users: one warning line on stderr, and the run's own result
    (here: a good one, exit 0) stands."""
    async with OversellingStore() as store:
        proc = await asyncio.create_subprocess_exec(
            *bench_argv(store.url, "x", users=50, stock=50, at="+1s"),
            "--json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err
    assert json.loads(out)["ok"] == 50
    lines = err.decode().splitlines()
    # A loaded machine may add the warning of a late first request; the cleanup's is one line.
    assert all(line.startswith(("warning: ", "sniper: warning: ")) for line in lines), lines
    [warning] = [line for line in lines if "could not remove" in line]
    assert warning.startswith("warning: could not remove the run's 50 users: ")
    assert "HTTP 404" in warning


def test_bench_plot_without_matplotlib_stops_before_the_run(
    start_store: StartStore, tmp_path: Path
) -> None:
    """--plot where matplotlib cannot be imported: exit 2 and one line, before any item, user
    or request is made."""
    store = start_store()
    fake = tmp_path / "no-matplotlib"
    (fake / "matplotlib").mkdir(parents=True)
    (fake / "matplotlib" / "__init__.py").write_text("raise ImportError('not installed')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(fake), *sys.path])}
    done = subprocess.run(
        [
            *bench_argv(store.url, ADMIN_TOKEN, users=50, stock=5, at="+1s"),
            "--plot",
            str(tmp_path / "b.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip() == "sniper: plot: needs matplotlib: pip install "
        "'vegetable-sniper[plot]'"
    )
    assert done.stdout == ""
    assert store.admin("GET", "/admin/orders").json()["orders"] == []


def test_bench_at_an_absolute_time_on_the_store_clock(start_store: StartStore) -> None:
    """--at as an RFC 3339 instant on the store's clock (90 s ahead of this machine's)."""
    from datetime import UTC, datetime

    import httpx

    store = start_store(args=("--clock-skew-ms", "90000"))
    now_ms = httpx.get(f"{store.url}/api/time").json()["now_ms"]
    at = datetime.fromtimestamp(now_ms / 1000 + 3, tz=UTC).isoformat()
    done = _bench(store.url, "--at", at)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["requests"], report["ok"]) == (300, 30)
    orders = store.admin("GET", "/admin/orders").json()["orders"]
    opening_ms = round(datetime.fromisoformat(at).timestamp() * 1000)
    assert min(o["created_ms"] for o in orders) >= opening_ms


def test_bench_at_a_past_time_changes_nothing(start_store: StartStore) -> None:
    """--at that has passed on the store's clock: exit 2, one line, nothing made."""
    store = start_store(args=("--clock-skew-ms", "90000"))
    done = _bench(store.url, "--at", "2020-01-01T00:00:00Z")
    assert done.returncode == 2
    assert "has passed on the target's clock" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""


async def test_bench_catches_an_overselling_store() -> None:
    """A store that accepts every order: the check says oversold, exit 1."""
    async with OversellingStore() as store:
        proc = await asyncio.create_subprocess_exec(
            *bench_argv(store.url, "x", users=300, stock=30, at="+1s"),
            "--json",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 120)
    report = json.loads(out)
    assert proc.returncode == 1, err
    assert report["oversold"] is True
    assert report["ok"] == 300


def _demo_leftovers() -> tuple[list[str], list[int]]:
    tmp = tempfile.gettempdir()
    dirs = sorted(p for p in os.listdir(tmp) if p.startswith("sniper-demo-"))
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"sniper-demo-" in cmdline:
            pids.append(int(pid))
    return dirs, pids


def test_demo_orders_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """Exit 0, an order id in the output, and no process or temporary file left."""
    before = _demo_leftovers()
    done = subprocess.run(
        [sys.executable, "-m", "sniper", "demo"],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ order placed! order id: " in done.stdout
    assert "the sniper's order " in done.stdout
    assert _demo_leftovers() == before
    assert list(tmp_path.iterdir()) == []


def test_demo_in_chinese(tmp_path: Path) -> None:
    """--lang zh shows the Chinese lines."""
    done = subprocess.run(
        [sys.executable, "-m", "sniper", "demo", "--lang", "zh"],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ 下单成功!订单号:" in done.stdout
    assert "抢购器的订单" in done.stdout
    assert "预检:商品、登录 正常" in done.stdout
    assert "结果:下单成功" in done.stdout
    assert "201 下单成功" in done.stdout
    for english in ("ordered", "intersection", "login", "item"):
        assert english not in done.stdout


def test_bench_opens_its_connections_shortly_before_the_opening(
    start_store: StartStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that closes silent connections after 2 s, an opening 5 s ahead: the connections
    are opened shortly (about 1 s) before it, so every order is answered."""
    monkeypatch.setenv("SNIPER_HEADER_TIMEOUT_S", "2")
    store = start_store()
    done = _bench(store.url, "--at", "+5s")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["requests"], report["ok"], report["sold_out"]) == (300, 30, 270)
    assert report["errors"] == {}
