"""The sniper CLI against a real store process: on time, on the store's clock, and stoppable."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import StartStore
from tests.e2e.crowd import users
from tests.e2e.store_process import StoreProcess


def sniper(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the ``sniper`` CLI to completion."""
    return subprocess.run(
        [sys.executable, "-m", "sniper", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        check=False,
    )


def task_file(
    store: StoreProcess, tmp_path: Path, *, opens_in_s: float, stock: int = 1, extra: str = ""
) -> tuple[Path, int, str]:
    """An item opening ``opens_in_s`` from now on the store's clock, a user, a task file."""
    now_ms = httpx.get(f"{store.url}/api/time").json()["now_ms"]
    opening_ms = (now_ms // 1000 + 1 + int(opens_in_s)) * 1000  # a whole second, as in life
    opening = datetime.fromtimestamp(opening_ms / 1000, tz=UTC).isoformat()
    response = store.admin(
        "PUT",
        "/admin/items/eggs",
        json={"name": "eggs", "price_cents": 1299, "stock": stock, "sale_start": opening},
    )
    assert response.status_code == 200
    [(_, token)] = users(store, 1)
    path = tmp_path / "task.yaml"
    path.write_text(
        f'platform: store\nbase_url: "{store.url}"\ncookie: "session={token}"\n'
        f'sku_id: eggs\ntarget_time: "{opening}"\nlog_file: "{tmp_path}/s.log"\n' + extra
    )
    return path, opening_ms, token


@pytest.mark.parametrize("skew_ms", [1500, -800])
def test_order_lands_at_the_opening_on_the_store_clock(
    start_store: StartStore, tmp_path: Path, skew_ms: int
) -> None:
    """Exit 0; the order's created_ms is at or after the opening, within 20 ms of it."""
    store = start_store(args=("--clock-skew-ms", str(skew_ms)))
    path, opening_ms, token = task_file(store, tmp_path, opens_in_s=2)
    done = sniper("run", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ order placed! order id: " in done.stdout
    assert "→ request sent [seq=3]" in done.stdout
    assert "seq 1-3 share request id snp-" in done.stdout
    orders = store.admin("GET", "/admin/orders?sku_id=eggs").json()["orders"]
    assert len(orders) == 1
    assert 0 <= orders[0]["created_ms"] - opening_ms <= 20
    assert token not in done.stdout + done.stderr
    lines = [json.loads(ln) for ln in (tmp_path / "s.log").read_text().splitlines()]
    attempts = [ln for ln in lines if ln["event"] == "attempt"]
    assert len(attempts) == 3  # the winner, and its siblings (answered or cancelled)
    assert {a["seq"] for a in attempts} == {1, 2, 3}
    assert [a["outcome"] for a in attempts].count("ordered") >= 1
    for a in attempts:
        assert set(a) >= {
            "seq",
            "attempt",
            "sent_server_ms",
            "latency_ms",
            "status",
            "outcome",
            "order_id",
            "headers",
        }
        assert "set-cookie" not in a["headers"]
        assert abs(a["sent_server_ms"] - opening_ms) < 20
    assert lines[-1]["event"] == "summary"
    assert lines[-1]["result"] == "ordered"


def test_config_flag_form_and_chinese(start_store: StartStore, tmp_path: Path) -> None:
    """``sniper --config FILE``, the first form of ``sniper run FILE`` and still accepted, with
    lang zh: the console's Chinese lines."""
    store = start_store()
    path, _, _ = task_file(store, tmp_path, opens_in_s=1, extra="lang: zh\n")
    done = sniper("--config", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "→ 请求已发出 [seq=1]" in done.stdout
    assert "✓ 下单成功!订单号:" in done.stdout


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_while_waiting(
    start_store: StartStore, tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    """A signal while waiting: summary, log flushed, exit 130/143 within a second."""
    store = start_store()
    path, _, _ = task_file(store, tmp_path, opens_in_s=30)
    proc = subprocess.Popen(
        [sys.executable, "-m", "sniper", "run", str(path)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3.0)  # started and waiting for an opening 30 s away
        proc.send_signal(sig)
        started = time.monotonic()
        out, err = proc.communicate(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, out + err
    assert elapsed < 1.0
    assert "result: interrupted" in out
    summary = json.loads((tmp_path / "s.log").read_text().splitlines()[-1])
    assert summary["event"] == "summary"
    assert summary["result"] == "interrupted"
    assert "Traceback" not in err


def test_check_sends_no_order(start_store: StartStore, tmp_path: Path) -> None:
    """``sniper check``: probes pass, the clock is measured, a fire time is given; no order."""
    store = start_store(args=("--clock-skew-ms", "1500"))
    path, _, _ = task_file(store, tmp_path, opens_in_s=5)
    done = sniper("check", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("task: store at 127.0.0.1:")  # not "task task:"
    assert "item: HTTP 200 ok" in done.stdout
    assert "login: HTTP 200 ok" in done.stdout
    assert "would fire at" in done.stdout
    assert "clock is +1" in done.stdout
    assert store.admin("GET", "/admin/orders").json()["orders"] == []


def test_check_reports_a_dead_cookie(start_store: StartStore, tmp_path: Path) -> None:
    """A forged session: check exits 4 and says which probe failed."""
    store = start_store()
    path, _, token = task_file(store, tmp_path, opens_in_s=5)
    path.write_text(path.read_text().replace(token, "forged-session-token"))
    done = sniper("check", str(path), cwd=tmp_path)
    assert done.returncode == 4
    assert "login: HTTP 401 FAILED" in done.stdout
    assert "yours has no" not in done.stdout
    assert (
        "the store does not know this session (expired or logged out); the store says: "
        in done.stdout
    )
    assert "log in again with `sniper login" in done.stdout
    assert "forged-session-token" not in done.stdout + done.stderr


def test_check_resolves_notify_secrets(
    start_store: StartStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notify secret that cannot be read now: check exits 2 with one line naming the
    channel and the field (the secret's value is never printed)."""
    monkeypatch.delenv("SNIPER_TEST_NO_SUCH_TOKEN", raising=False)
    store = start_store()
    path, _, _ = task_file(
        store,
        tmp_path,
        opens_in_s=5,
        extra=(
            "notify:\n  - {type: pushplus, token: 'env:SNIPER_TEST_NO_SUCH_TOKEN'}\n"
            f"  - {{type: serverchan, key: 'file:{tmp_path}/no-such-key'}}\n"
        ),
    )
    done = sniper("check", str(path), cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        "  ✗ notify.pushplus.token: environment variable SNIPER_TEST_NO_SUCH_TOKEN is not "
        "set" in done.stdout.splitlines()
    )
    assert any(
        line.startswith("  ✗ notify.serverchan.key: cannot read ")
        for line in done.stdout.splitlines()
    )


def test_check_explains_a_cookie_without_session(start_store: StartStore, tmp_path: Path) -> None:
    """The bare token, without ``session=``: the refusal comes with what a store cookie looks
    like and how to get one."""
    store = start_store()
    path, _, token = task_file(store, tmp_path, opens_in_s=5)
    path.write_text(path.read_text().replace(f"session={token}", token))
    done = sniper("check", str(path), cwd=tmp_path)
    assert done.returncode == 4
    assert "login: HTTP 401 FAILED" in done.stdout
    assert "a store cookie looks like session=TOKEN (yours has no session=)" in done.stdout
    assert "sniper login URL USER" in done.stdout
    assert token not in done.stdout + done.stderr


def test_https_against_the_store_says_use_http(start_store: StartStore, tmp_path: Path) -> None:
    """https:// to the store's plain HTTP port: one line saying to use http://, exit 1."""
    store = start_store()
    path, _, _ = task_file(store, tmp_path, opens_in_s=5)
    path.write_text(path.read_text().replace("http://", "https://"))
    done = sniper("check", str(path), cwd=tmp_path)
    assert done.returncode == 1
    assert (
        "the server does not speak TLS on this port (use http:// instead of https://)"
        in done.stdout
    )
    assert "WRONG_VERSION_NUMBER" not in done.stdout + done.stderr


def test_clock_command(start_store: StartStore, tmp_path: Path) -> None:
    """``sniper clock URL``: offset within a few ms of the store's skew, with RTT and ±."""
    store = start_store(args=("--clock-skew-ms", "-800"))
    done = sniper("clock", store.url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert abs(report["offset_ms"] - -800) < 5
    assert report["source"] == "/api/time"
    assert report["rtt_ms"] > 0
    assert report["uncertainty_ms"] < 5
    assert report["date_lag_ms"] == 0  # a time endpoint: no Date lag in the bound


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ("platform: nope\n", "platform"),
        ('target_time: "2024-04-15T07:00:00"\n', "target_time"),
        ("concurrency: -2\n", "concurrency"),
    ],
)
def test_bad_task_file_exits_2_before_sending(tmp_path: Path, content: str, field: str) -> None:
    """One line naming the field, exit 2, no traceback."""
    base = (
        'base_url: "http://127.0.0.1:9"\ncookie: "session=x"\nsku_id: eggs\n'
        'target_time: "2030-01-01T00:00:00+08:00"\n'
    )
    lines = {ln.split(":")[0]: ln for ln in base.splitlines()}
    lines[content.split(":", maxsplit=1)[0]] = content.strip()
    path = tmp_path / "task.yaml"
    path.write_text("\n".join(lines.values()) + "\n")
    done = sniper("run", str(path), cwd=tmp_path)
    assert done.returncode == 2
    err = done.stderr.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"sniper: {field}")
    assert "Traceback" not in done.stderr


def test_import_curl_task_runs_through_the_http_platform(
    start_store: StartStore, tmp_path: Path
) -> None:
    """A Chrome-style curl of the store's order call becomes a task that orders, with the
    clock read from the store's Date header (the http platform has no time endpoint)."""
    store = start_store(args=("--clock-skew-ms", "1500"))
    _, opening_ms, token = task_file(store, tmp_path, opens_in_s=4)
    opening = datetime.fromtimestamp(opening_ms / 1000, tz=UTC).isoformat()
    curl = (
        f"curl '{store.url}/api/orders' \\\n  -H 'accept: application/json' \\\n"
        f"  -H 'content-type: application/json' \\\n  -b 'session={token}' \\\n"
        '  --data-raw $\'{"sku_id":"eggs","qty":1}\'\n'
    )
    (tmp_path / "order.curl").write_text(curl)
    made = sniper(
        "import-curl",
        "order.curl",
        "-o",
        "imported.yaml",
        "--sku-id",
        "eggs",
        "--target-time",
        opening,
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert token not in made.stdout + made.stderr
    assert (tmp_path / "imported.yaml.cookie").stat().st_mode & 0o077 == 0
    text = (tmp_path / "imported.yaml").read_text()
    assert "platform: http" in text
    assert token not in text
    (tmp_path / "imported.yaml").write_text(text + f'log_file: "{tmp_path}/h.log"\n')
    done = sniper("run", "imported.yaml", cwd=tmp_path, timeout=90)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Date" not in done.stderr
    orders = store.admin("GET", "/admin/orders?sku_id=eggs").json()["orders"]
    assert len(orders) == 1
    # Timed from the Date header (whole seconds, refined by edge probes as time allows): the
    # order lands after the opening and well within the second a plain Date reading allows.
    assert 0 <= orders[0]["created_ms"] - opening_ms < 1000
    # check (after the opening: it says so, exit 2) says what it cannot probe there.
    checked = sniper("check", "imported.yaml", cwd=tmp_path)
    assert (
        "  item and login: not probed on the http platform (it has no request for them); "
        "only the clock is measured" in checked.stdout.splitlines()
    ), checked.stdout


def test_store_date_header_follows_its_skewed_clock(start_store: StartStore) -> None:
    """The Date header is the store's own clock, skew included, on every route."""
    from email.utils import parsedate_to_datetime

    store = start_store(args=("--clock-skew-ms", "-3000"))
    for response in (
        httpx.get(f"{store.url}/healthz"),
        httpx.post(f"{store.url}/api/orders", json={"sku_id": "eggs"}),
    ):
        shown = parsedate_to_datetime(response.headers["date"]).timestamp()
        assert abs(shown - (time.time() - 3.0)) <= 1.5
        assert len(response.headers.get_list("date")) == 1


def test_two_accounts_two_items_one_file(start_store: StartStore, tmp_path: Path) -> None:
    """Four tasks (2 accounts × 2 items) and a duplicated entry: four orders, one each, exit 0."""
    store = start_store(args=("--clock-skew-ms", "700"))
    now_ms = httpx.get(f"{store.url}/api/time").json()["now_ms"]
    opening_ms = (now_ms // 1000 + 3) * 1000
    opening = datetime.fromtimestamp(opening_ms / 1000, tz=UTC).isoformat()
    for sku in ("eggs", "milk"):
        assert (
            store.admin(
                "PUT",
                f"/admin/items/{sku}",
                json={
                    "name": sku,
                    "price_cents": 1,
                    "stock": 10,
                    "sale_start": opening,
                    "limit_per_user": 5,
                },
            ).status_code
            == 200
        )
    (mum, mum_token), (me, me_token) = users(store, 2)
    entries = [
        {"name": f"{who}-{sku}", "cookie": f"session={token}", "sku_id": sku}
        for who, token in (("mum", mum_token), ("me", me_token))
        for sku in ("eggs", "milk")
    ]
    entries.append({"name": "mum-eggs-again", "cookie": f"session={mum_token}", "sku_id": "eggs"})
    import yaml

    path = tmp_path / "tasks.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "platform": "store",
                "base_url": store.url,
                "target_time": opening,
                "log_file": str(tmp_path / "s.log"),
                "tasks": entries,
            }
        )
    )
    done = sniper("run", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "task mum-eggs-again has the same account and item as mum-eggs: not run" in done.stdout
    orders = store.admin("GET", "/admin/orders").json()["orders"]
    assert sorted((o["user"], o["sku_id"]) for o in orders) == sorted(
        [(mum, "eggs"), (mum, "milk"), (me, "eggs"), (me, "milk")]
    )
    assert all(0 <= o["created_ms"] - opening_ms <= 20 for o in orders)


def test_preflight_reports_a_dead_cookie_before_the_opening(
    start_store: StartStore, tmp_path: Path
) -> None:
    """Two tasks, one with a forged session and preflight_s 2: that one is reported (console and
    log) about 2 s before the opening and ends with 4; the other still orders."""
    import yaml

    store = start_store()
    now_ms = httpx.get(f"{store.url}/api/time").json()["now_ms"]
    opening_ms = (now_ms // 1000 + 5) * 1000
    opening = datetime.fromtimestamp(opening_ms / 1000, tz=UTC).isoformat()
    assert (
        store.admin(
            "PUT",
            "/admin/items/eggs",
            json={"name": "eggs", "price_cents": 1, "stock": 5, "sale_start": opening},
        ).status_code
        == 200
    )
    [(_, token)] = users(store, 1)
    path = tmp_path / "tasks.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "platform": "store",
                "base_url": store.url,
                "target_time": opening,
                "sku_id": "eggs",
                "preflight_s": 2,
                "tasks": [
                    {
                        "name": "good",
                        "cookie": f"session={token}",
                        "log_file": str(tmp_path / "g.log"),
                    },
                    {
                        "name": "stale",
                        "cookie": "session=expired-long-ago",
                        "log_file": str(tmp_path / "s.log"),
                    },
                ],
            }
        )
    )
    done = sniper("run", str(path), cwd=tmp_path)
    assert done.returncode == 4, done.stdout + done.stderr
    assert "[stale] ✗ pre-flight failed: login HTTP 401" in done.stdout
    assert "[good] ✓ order placed!" in done.stdout
    events = [json.loads(ln) for ln in (tmp_path / "s.log").read_text().splitlines()]
    preflight = next(e for e in events if e["event"] == "preflight")
    assert preflight["probes"]["login"] == 401
    assert preflight["ok"] is False
    assert opening_ms - 2500 < preflight["at_server_ms"] < opening_ms - 1500
    assert events[-1]["result"] == "auth_failed"
    assert len(store.admin("GET", "/admin/orders").json()["orders"]) == 1


def test_preheat_longer_than_the_store_header_timeout(
    start_store: StartStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """preheat_ms 3000 against a store that closes silent connections after 1 s: the
    connections it closed are opened again before the burst, and the order is placed."""
    monkeypatch.setenv("SNIPER_HEADER_TIMEOUT_S", "1")
    store = start_store()
    path, opening_ms, _ = task_file(store, tmp_path, opens_in_s=5, extra="preheat_ms: 3000\n")
    done = sniper("run", str(path), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "✓ order placed! order id: " in done.stdout
    orders = store.admin("GET", "/admin/orders?sku_id=eggs").json()["orders"]
    assert len(orders) == 1
    assert 0 <= orders[0]["created_ms"] - opening_ms <= 50
