"""A flow run in process against a scripted shop (a real HTTP server on loopback): what a shop's
answers between the steps can and cannot do to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.client.fault_server import FaultServer, Step, ok
from tests.client.test_faults import make_task, snipe

TOKEN: dict[str, Any] = {
    "name": "token",
    "request": {"method": "POST", "url": "/api/orders"},
    "save": {"token": {"json": "data.token"}},
}
SUBMIT: dict[str, Any] = {
    "name": "submit",
    "request": {"method": "POST", "url": "/api/orders", "headers": {"X-Token": "{token}"}},
}


def flow_task(server: FaultServer, tmp_path: Path, *steps: dict[str, Any], **fields: Any) -> Any:
    """An http task running ``steps`` on the fault server, its clock read from /api/time."""
    return make_task(
        server,
        tmp_path,
        platform="http",
        flow=list(steps or (TOKEN, SUBMIT)),
        clock={"url": f"{server.url}/api/time", "json": "now_ms"},
        retry={"window_s": 2},
        **fields,
    )


def token(value: str, *headers: tuple[str, str]) -> Step:
    return Step(200, {"code": 0, "data": {"token": value}}, headers=headers)


async def test_values_the_shop_hands_out_never_reach_the_log(tmp_path: Path) -> None:
    """A saved token and a cookie the shop set, echoed back by the shop in other headers,
    are hidden in the run log, as the task's own cookie is."""
    answer = token(
        "tok-SECRET-777",
        ("Set-Cookie", "csrf=csrf-SECRET-888; Path=/"),
        ("X-Echo", "tok-SECRET-777 csrf-SECRET-888"),
    )
    echo = Step(**{**ok("O1").__dict__, "headers": (("X-Echo", "tok-SECRET-777"),)})
    async with FaultServer([answer, echo], repeat_last=False) as server:
        summary, out = await snipe(flow_task(server, tmp_path, concurrency=1))
    assert summary.exit_code == 0, out
    submit = server.orders[1]
    assert submit.headers["x-token"] == "tok-SECRET-777"
    assert "csrf=csrf-SECRET-888" in submit.headers["cookie"]
    log = (tmp_path / "sniper.log").read_text()
    assert '"step": "token"' in log
    assert "SECRET" not in log + out


async def test_a_cookie_that_is_not_ascii_is_ignored_and_the_flow_goes_on(tmp_path: Path) -> None:
    """A Set-Cookie of ``city=北京`` cannot go back in a Cookie header: the jar ignores it and
    every connection still sends its submit."""
    answer = Step(
        200, {"code": 0, "data": {"token": "t1"}}, (("Set-Cookie", "city=北京".encode()),)
    )
    async with FaultServer([answer, answer, ok("O2")], repeat_last=True) as server:
        summary, out = await snipe(flow_task(server, tmp_path, concurrency=2))
    assert (summary.exit_code, summary.order_id) == (0, "O2"), out
    assert [r.headers.get("x-token") for r in server.orders[2:]] == ["t1", "t1"]


async def test_a_connection_the_shop_closes_after_a_step_is_opened_again(tmp_path: Path) -> None:
    """The token's answer says ``Connection: close``: the submit goes on a new connection,
    and the token's answer is logged as having led on."""
    answer = token("t2", ("Connection", "close"))
    async with FaultServer([answer, ok("O3")], repeat_last=False) as server:
        summary, out = await snipe(flow_task(server, tmp_path, concurrency=1))
    assert (summary.exit_code, summary.order_id) == (0, "O3"), out
    first, second = server.orders
    assert second.headers["x-token"] == "t2"
    assert second.conn != first.conn
    records = [json.loads(line) for line in (tmp_path / "sniper.log").read_text().splitlines()]
    steps = [(r["step"], r["outcome"]) for r in records if r["event"] == "attempt"]
    assert steps == [("token", "next"), ("submit", "ordered")]


async def test_a_url_a_value_breaks_ends_the_run_said_and_logged(tmp_path: Path) -> None:
    """A saved whole URL with a port out of range: fatal at that step, said once, logged,
    nothing more sent."""
    steps = [
        {**TOKEN, "save": {"url": {"json": "data.token"}}},
        {"name": "submit", "request": {"method": "POST", "url": "{url}"}},
    ]
    async with FaultServer([token("http://127.0.0.1:99999/x")]) as server:
        summary, out = await snipe(flow_task(server, tmp_path, *steps, concurrency=1))
    assert summary.exit_code == 1
    assert "step submit: its URL is not an http(s) URL once filled" in out
    assert len(server.orders) == 1
    log = (tmp_path / "sniper.log").read_text()
    assert '"outcome": "fatal"' in log
