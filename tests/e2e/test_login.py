"""``sniper login`` and the demo store's banner, against a real store process."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sniper.store.process import free_port
from tests.conftest import ADMIN
from tests.e2e.conftest import StartStore


def sniper(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the ``sniper`` CLI to completion."""
    return subprocess.run(
        [sys.executable, "-m", "sniper", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
        input=stdin,
        env=env,
    )


@pytest.mark.parametrize("source", ["file", "env", "prompt"])
def test_login_writes_a_private_cookie_file(
    start_store: StartStore, tmp_path: Path, source: str
) -> None:
    """The password from a file, SNIPER_PASSWORD or a prompt; the cookie file is mode 600,
    holds ``session=TOKEN`` that the store accepts, and nothing secret is printed."""
    import os

    store = start_store(args=("--demo",))
    args = ["login", store.url, "demo", "-o", "demo.cookie"]
    env = {k: v for k, v in os.environ.items() if k != "SNIPER_PASSWORD"}
    stdin = ""
    if source == "file":
        (tmp_path / "pw").write_text("demo\n")
        args += ["--password-file", "pw"]
    elif source == "env":
        env["SNIPER_PASSWORD"] = "demo"
    else:
        stdin = "demo\n"
    done = sniper(*args, cwd=tmp_path, stdin=stdin, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    path = tmp_path / "demo.cookie"
    assert path.stat().st_mode & 0o777 == 0o600
    cookie = path.read_text().strip()
    assert re.fullmatch(r"session=[\w-]{20,}", cookie)
    token = cookie.split("=", 1)[1]
    assert token not in done.stdout + done.stderr
    assert done.stdout.endswith(f"cookie_file: {path}\n")  # absolute: a task may live elsewhere
    mine = httpx.get(f"{store.url}/api/orders?sku_id=demo-eggs", headers={"Cookie": cookie})
    assert mine.status_code == 200


def test_login_with_a_wrong_password(start_store: StartStore, tmp_path: Path) -> None:
    """Refused: one line, exit 4, no file written, the password not echoed."""
    store = start_store(args=("--demo",))
    (tmp_path / "pw").write_text("not-the-password\n")
    done = sniper("login", store.url, "demo", "--password-file", "pw", cwd=tmp_path)
    assert done.returncode == 4
    assert done.stderr.strip() == (
        f"sniper: login: 127.0.0.1:{store.port} refused user 'demo' and this password"
    )
    assert "not-the-password" not in done.stdout + done.stderr
    assert not (tmp_path / "demo.cookie").exists()


def test_login_past_the_stores_login_limit(start_store: StartStore, tmp_path: Path) -> None:
    """The store's per-user login limit (burst 5) spent: one line saying when to try again,
    exit 1, no file."""
    store = start_store(args=("--demo",))
    guesses = [
        httpx.post(
            f"{store.url}/api/login", json={"user": "demo", "password": "guess"}, timeout=30
        ).status_code
        for _ in range(5)
    ]
    assert guesses == [401] * 5
    (tmp_path / "pw").write_text("demo\n")
    done = sniper("login", store.url, "demo", "--password-file", "pw", cwd=tmp_path)
    assert done.returncode == 1
    assert re.fullmatch(
        rf"sniper: login: 127\.0\.0\.1:{store.port} refuses more login attempts "
        r"for now; try again in \d+ s",
        done.stderr.strip(),
    )
    assert not (tmp_path / "demo.cookie").exists()


def test_login_with_a_bad_user_name(tmp_path: Path) -> None:
    """A name the store could never hold: one line, exit 2, before the password is asked for
    (no prompt waits on stdin) and before anything is sent (nobody listens at the URL: trying
    to send would be "cannot connect", exit 1)."""
    done = sniper("login", f"http://127.0.0.1:{free_port()}", "de mo", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2,
        "sniper: user: a store user name is 1-64 letters, digits, - and _\n",
    )
    assert "password" not in done.stdout
    assert not list(tmp_path.iterdir())


def test_login_to_nothing(tmp_path: Path) -> None:
    """Nobody listens: one line that says so, exit 1."""
    (tmp_path / "pw").write_text("demo\n")
    port = free_port()
    done = sniper(
        "login", f"http://127.0.0.1:{port}", "demo", "--password-file", "pw", cwd=tmp_path
    )
    assert done.returncode == 1
    assert done.stderr.strip().startswith(
        f"sniper: cannot connect to 127.0.0.1:{port}: connection refused"
    )
    assert "Traceback" not in done.stderr


def test_demo_banner_says_how_to_log_in_and_move_the_opening(start_store: StartStore) -> None:
    """The banner's login body and PATCH body work as printed; the given admin token is not
    printed."""
    store = start_store(args=("--demo",))
    log = store.log()
    assert f"sniper login {store.url} demo -o demo.cookie" in log
    login_body = re.search(r"curl -i \S+/api/login .* -d '(.*)'", log)
    assert login_body is not None
    login = httpx.post(
        f"{store.url}/api/login",
        content=login_body.group(1),
        headers={"Content-Type": "application/json"},
    )
    assert login.status_code == 200
    patch = re.search(
        r"curl -X PATCH (\S+/admin/items/demo-eggs) .*"
        r"-H 'Authorization: Bearer \$SNIPER_ADMIN_TOKEN' .* -d '(.*)'",
        log,
    )
    assert patch is not None
    body = json.loads(patch.group(2))
    body["sale_start"] = "2030-01-01T07:00:00+08:00"
    moved = httpx.patch(patch.group(1), json=body, headers=ADMIN)
    assert moved.status_code == 200
    assert moved.json()["sale_start"] == "2030-01-01T07:00:00+08:00"
    assert ADMIN["Authorization"].split()[1] not in log
