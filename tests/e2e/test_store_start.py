"""Starting ``sniper serve``: the demo as the README gives it, and starts that fail (one line,
exit 2, nothing written, a running store's data left alone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from sniper.store.process import free_port
from tests.e2e.store_process import StoreProcess
from tests.redis_servers import redis_server


def _serve(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``sniper serve ARGS`` run to its end (a start that fails), without any admin token."""
    env = {k: v for k, v in os.environ.items() if k != "SNIPER_ADMIN_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "sniper", "serve", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _one_line_exit_2(done: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("sniper: ")
    for needle in needles:
        assert needle in lines[0]
    assert "Traceback" not in done.stderr + done.stdout


def test_demo_as_the_readme_gives_it_prints_a_token_that_works(tmp_path: Path) -> None:
    """``sniper serve --demo`` without --admin-token or SNIPER_ADMIN_TOKEN: it starts, prints
    a generated admin token, the admin API takes it (the banner's PATCH too); SIGTERM ends it
    with 0."""
    port = free_port()
    out = tmp_path / "out.txt"
    env = {k: v for k, v in os.environ.items() if k != "SNIPER_ADMIN_TOKEN"}
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sniper",
                "serve",
                "--demo",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=tmp_path,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while "listening on" not in out.read_text() and proc.poll() is None:
                assert time.monotonic() < deadline, out.read_text()
                time.sleep(0.05)
            text = out.read_text()
            assert proc.poll() is None, text
            token = next(
                line.split(": ", 1)[1] for line in text.splitlines() if "admin token:" in line
            )
            answer = httpx.get(
                f"http://127.0.0.1:{port}/admin/orders",
                timeout=10,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert answer.status_code == 200
            assert httpx.get(f"http://127.0.0.1:{port}/api/items/demo-eggs").status_code == 200
            # The banner's PATCH line carries the generated token, and it moves the opening.
            assert f"Authorization: Bearer {token}'" in text
            moved = httpx.patch(
                f"http://127.0.0.1:{port}/admin/items/demo-eggs",
                timeout=10,
                json={"sale_start": "2030-01-01T07:00:00+08:00"},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert moved.status_code == 200
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(15)
    assert code == 0
    assert "Traceback" not in out.read_text()


def _sell_one_demo_egg(store: StoreProcess) -> dict[str, object]:
    """Open the demo item now, order one as user demo; the item as it is then."""
    now = datetime.fromtimestamp(time.time() - 1, tz=UTC).isoformat()
    assert (
        store.admin("PATCH", "/admin/items/demo-eggs", json={"sale_start": now}).status_code == 200
    )
    login = httpx.post(f"{store.url}/api/login", json={"user": "demo", "password": "demo"})
    order = httpx.post(
        f"{store.url}/api/orders",
        json={"sku_id": "demo-eggs"},
        cookies={"session": login.cookies["session"]},
    )
    assert order.status_code == 201, order.text
    item: dict[str, object] = httpx.get(f"{store.url}/api/items/demo-eggs").json()
    assert item["stock"] == 9
    return item


def test_a_failed_start_and_a_restart_leave_a_sold_demo_item_alone(tmp_path: Path) -> None:
    """A second ``serve --demo`` on the port of a running demo store (same file) fails with one
    line and changes nothing; restarted later, --demo keeps an item that has orders as it is
    (stock and opening)."""
    db = tmp_path / "store.db"
    first = StoreProcess(db, args=("--demo",)).start()
    try:
        sold = _sell_one_demo_egg(first)
        done = _serve(tmp_path, "--demo", "--port", str(first.port), "--store", f"sqlite:///{db}")
        _one_line_exit_2(done, "cannot listen", str(first.port))
        assert httpx.get(f"{first.url}/api/items/demo-eggs").json() == sold
        assert first.terminate() == 0
    finally:
        first.close()
    again = StoreProcess(db, args=("--demo",)).start()
    try:
        assert httpx.get(f"{again.url}/api/items/demo-eggs").json() == sold
    finally:
        again.close()


def test_a_start_on_a_taken_port_writes_nothing(tmp_path: Path) -> None:
    """Port taken: one line, exit 2, and no database file made."""
    running = StoreProcess(tmp_path / "other.db").start()
    try:
        done = _serve(tmp_path, "--demo", "--port", str(running.port))
    finally:
        running.close()
    _one_line_exit_2(done, "cannot listen")
    assert not (tmp_path / "store.db").exists()


@pytest.mark.parametrize("where", ["/proc/self/store.db", "{tmp}/a-file/store.db"])
def test_a_store_file_that_cannot_be_made_is_one_line(tmp_path: Path, where: str) -> None:
    """A directory that cannot be written (even by root), or a path through a file: one line
    naming the store, exit 2, no traceback."""
    (tmp_path / "a-file").write_text("")
    done = _serve(
        tmp_path, "--store", f"sqlite:///{where.format(tmp=tmp_path)}", "--port", str(free_port())
    )
    _one_line_exit_2(done, "cannot open")


@pytest.mark.redis
def test_a_redis_that_is_down_or_refuses_the_password_is_one_line(tmp_path: Path) -> None:
    """Redis down, or a wrong password: one line, exit 2, no traceback, the password never
    printed."""
    down = _serve(
        tmp_path, "--store", f"redis://127.0.0.1:{free_port()}/0", "--port", str(free_port())
    )
    _one_line_exit_2(down, "ConnectionError")
    with redis_server(tmp_path / "locked", "--requirepass", "right-one") as (port, _):
        wrong = _serve(
            tmp_path,
            "--store",
            f"redis://:wrong-one@127.0.0.1:{port}/0",
            "--port",
            str(free_port()),
        )
    _one_line_exit_2(wrong, "AuthenticationError")
    assert "wrong-one" not in wrong.stderr


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("store", "needle"),
    [
        ("postgresql://sniper:pg-secret-1@127.0.0.1:{free}/sniper", "ConnectionRefusedError"),
        ("postgres://sniper:pg-secret-1@127.0.0.1:{port}/no_such_db", 'database "no_such_db"'),
        ("postgresql://sniper:pg-secret-1@127.0.0.1:{port}/sniper?sslmode=nope", "sslmode"),
        ("postgresql://sniper:pg-secret-1@127.0.0.1:{port}", "names no database"),
    ],
    ids=["down", "no-database", "bad-option", "no-database-named"],
)
def test_a_postgresql_start_that_fails_is_one_line_without_the_password(
    tmp_path: Path, pg_url: str, store: str, needle: str
) -> None:
    """PostgreSQL down, a database that is not there, a bad libpq option, no database in the
    URL: one line that says why, exit 2, no traceback, the password never printed."""
    port = str(urlsplit(pg_url).port)
    url = store.format(free=free_port(), port=port)
    done = _serve(tmp_path, "--store", url, "--port", str(free_port()))
    _one_line_exit_2(done, needle, "postgres")
    assert "pg-secret-1" not in done.stderr + done.stdout


def test_demo_banner_patch_example_moves_the_opening(tmp_path: Path) -> None:
    """The banner's PATCH example names a time 2 min ahead on the store's (skewed) clock, not
    the item's current opening: run as printed, it moves the sale there."""
    store = StoreProcess(tmp_path / "store.db", args=("--demo", "--clock-skew-ms", "90000"))
    store.start()
    try:
        now_ms = httpx.get(f"{store.url}/api/time").json()["now_ms"]
        line = next(ln for ln in store.log().splitlines() if "curl -X PATCH" in ln)
        example = line.split('"sale_start": "', 1)[1].split('"', 1)[0]
        ahead_s = datetime.fromisoformat(example).timestamp() - now_ms / 1000
        assert 100 < ahead_s <= 121, line
        before = httpx.get(f"{store.url}/api/items/demo-eggs").json()["sale_start"]
        assert example != before
        assert (
            store.admin("PATCH", "/admin/items/demo-eggs", json={"sale_start": example}).status_code
            == 200
        )
        after = httpx.get(f"{store.url}/api/items/demo-eggs").json()["sale_start"]
        assert datetime.fromisoformat(after) == datetime.fromisoformat(example)
    finally:
        store.close()
