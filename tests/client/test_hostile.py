"""The sniper against a hostile server over real sockets: nonsense time, endless answers,
fake order ids, control characters, an echoed cookie."""

from __future__ import annotations

import json
import stat
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from sniper.client.config import TaskConfig
from tests.client.fault_server import FaultServer, Step, ok
from tests.client.receiver import Receiver
from tests.client.test_faults import COOKIE, make_task, snipe

SHORT: dict[str, Any] = {
    "concurrency": 1,
    "timeout_s": 0.5,
    "retry": {"window_s": 0.5, "rate_per_s": 5, "burst": 2},
}


class TestNonsenseTime:
    """A clock that is no clock ends the run at once: exit 1, one line naming the server."""

    @pytest.mark.parametrize(
        ("time_body", "shown"),
        [
            (b'{"now_ms": true}', "(True)"),
            (b'{"now_ms": "1764633600000 ms"}', "('1764633600000 ms')"),
            (b'{"now_ms": -99999999999999}', "(-99999999999999)"),
            (b'{"now_ms": 1}', "(1)"),
        ],
    )
    async def test_time_endpoint(self, tmp_path: Path, time_body: bytes, shown: str) -> None:
        """Booleans, text that is no numeral, times of 1970: nothing sent, no plan made."""
        async with FaultServer([ok()], time_body=time_body) as server:
            summary, out = await snipe(make_task(server, tmp_path, **SHORT))
            where = server.url.removeprefix("http://")
        assert summary.exit_code == 1
        assert server.orders == []
        [line] = [ln for ln in out.splitlines() if ln.startswith("✗")]
        assert f"server {where}: the time endpoint gave no usable now_ms {shown}" in line

    @pytest.mark.parametrize(
        "date", ["Thu, 01 Jan 1970 00:00:00 GMT", "Mon, 01 Jan 1990 00:00:00 GMT"]
    )
    async def test_date_header(self, tmp_path: Path, date: str) -> None:
        """A shop without a time endpoint whose Date says 1970 or 1990."""
        async with FaultServer([ok()], date=date) as server:
            task = http_task(server, tmp_path)
            summary, out = await snipe(task)
        assert summary.exit_code == 1
        assert server.orders == []
        assert f"Date header '{date}' is no time to plan by" in out


def http_task(server: FaultServer, tmp_path: Path) -> TaskConfig:
    """An http-platform task aimed at the fault server's order endpoint."""
    store = make_task(server, tmp_path, **SHORT)
    return TaskConfig.model_validate(
        {
            **store.model_dump(exclude={"cookie"}),
            "cookie": COOKIE,
            "platform": "http",
            "request": {"method": "POST", "url": f"{server.url}/api/orders", "body": "{}"},
            "rules": {"success_status": [201], "order_id": [{"json": "order_id"}]},
        }
    )


async def test_an_endless_answer_is_cut_off(tmp_path: Path) -> None:
    """A 201 whose chunked body never ends: 64 KiB kept, the connection dropped, no order
    (no id in what was kept), and memory stays small."""
    tracemalloc.start()
    try:
        async with FaultServer([Step(201, endless=True)]) as server:
            summary, out = await snipe(make_task(server, tmp_path, **SHORT))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.exit_code == 3
    assert "retry window over" in out
    assert peak < 16 << 20
    assert len(server.orders) >= 1
    assert len(server.connections) >= 1 + len(server.orders)  # each cut-off answer: a new one
    log = [json.loads(ln) for ln in (tmp_path / "sniper.log").read_text().splitlines()]
    cut = [ln["body_cut_at"] for ln in log if ln.get("status") == 201]
    assert cut
    assert set(cut) == {64 * 1024}


@pytest.mark.parametrize("order_id", [None, "", {}, [], True])
async def test_success_without_an_order_id(tmp_path: Path, order_id: Any) -> None:
    """201 with a null, empty or object order id is no order: tried again, then exit 3."""
    step = Step(201, {"order_id": order_id, "sku_id": "eggs"})
    async with FaultServer([step]) as server:
        summary, out = await snipe(make_task(server, tmp_path, **SHORT))
    assert summary.exit_code == 3
    assert summary.order_id is None
    assert "✓ order placed" not in out
    assert len(server.orders) >= 2  # tried again within the window


async def test_control_characters_never_reach_the_terminal(tmp_path: Path) -> None:
    """An order id that would retitle and clear the terminal and overwrite the line is
    printed (and pushed) without its control characters; the log keeps it, escaped."""
    evil = "\x1b]0;pwned\x07A1\x1b[2J\r✗ sold out\x9b"
    async with FaultServer([ok(evil)]) as server, Receiver() as phone:
        hook = [{"type": "webhook", "url": f"{phone.url}/hook"}]
        summary, out = await snipe(make_task(server, tmp_path, **SHORT, notify=hook))
    assert summary.exit_code == 0
    [pushed] = [json.loads(r.body)["message"] for r in phone.got]
    assert "order ]0;pwnedA1[2J✗ sold out" in pushed  # the notification too
    assert not {"\x1b", "\x07", "\r", "\x9b"} & set(pushed)
    assert not {"\x1b", "\x07", "\r", "\x9b"} & set(out)
    assert "✓ order placed! order id: ]0;pwnedA1[2J✗ sold out\n" in out
    log = (tmp_path / "sniper.log").read_text()
    assert not {"\x1b", "\x07", "\r", "\x9b"} & set(log)
    orders = {json.loads(ln).get("order_id") for ln in log.splitlines()}
    assert evil.strip() in orders


async def test_an_error_code_with_control_characters(tmp_path: Path) -> None:
    """The store's error code is the server's text too."""
    async with FaultServer([Step(418, {"error": "\x1b[2Jteapot\x07"})]) as server:
        summary, out = await snipe(make_task(server, tmp_path, **SHORT))
    assert summary.exit_code == 1
    assert "✗ unexpected answer, stopping: HTTP 418 [2Jteapot\n" in out


async def test_an_echoed_cookie_stays_out_of_log_and_console(tmp_path: Path) -> None:
    """A server that sends the cookie back in a header (and in its error text): neither the
    log nor the console shows it; the log is 0600."""
    secret = COOKIE.partition("=")[2]
    script = [Step(500, {"error": COOKIE}), ok("EC1")]
    async with FaultServer(script, echo_cookie=True) as server:
        summary, out = await snipe(make_task(server, tmp_path, **SHORT))
    assert summary.exit_code == 0
    log_file = tmp_path / "sniper.log"
    log = log_file.read_text()
    assert secret not in log
    assert secret not in out
    assert '"x-echo": "[redacted]"' in log
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
