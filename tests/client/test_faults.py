"""The sniper against a scripted server over real sockets: every kind of answer."""

from __future__ import annotations

import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sniper.client.config import TaskConfig
from sniper.client.console import Console
from sniper.client.engine import RunSummary, Sniper
from tests.client.fault_server import FaultServer, Step, ok, refuse

COOKIE = "session=secret-cookie-value-0123456789"


def make_task(
    server: FaultServer, tmp_path: Path, opens_in_s: float = 0.6, **fields: Any
) -> TaskConfig:
    """A store task aimed at the fault server, opening shortly on its clock."""
    target = datetime.fromtimestamp(server.now_ms() / 1000 + opens_in_s, tz=UTC)
    return TaskConfig.model_validate(
        {
            "base_url": server.url,
            "sku_id": "eggs",
            "target_time": target,
            "cookie": COOKIE,
            "log_file": tmp_path / "sniper.log",
            "preheat_ms": 300,
            "timeout_s": 2.0,
            **fields,
        }
    )


async def snipe(task: TaskConfig) -> tuple[RunSummary, str]:
    """Run the task in-process; its summary and everything it printed."""
    out = io.StringIO()
    summary = await Sniper(task, Console(task.lang, out)).run()
    return summary, out.getvalue()


class TestOutcomes:
    """One scripted opening per answer kind."""

    async def test_not_started_then_ordered(self, tmp_path: Path) -> None:
        """425 then 201: ordered, exit 0."""
        async with FaultServer([refuse(425, "not_started"), ok("A1")]) as server:
            summary, out = await snipe(make_task(server, tmp_path, concurrency=1))
        assert (summary.exit_code, summary.order_id) == (0, "A1")
        assert "✓ order placed! order id: A1" in out
        assert len(server.orders) == 2

    async def test_siblings_limit_reached_then_late_success(self, tmp_path: Path) -> None:
        """Two of the burst answer limit_reached at once, the third 201 50 ms later: ordered."""
        script = [
            refuse(409, "limit_reached"),
            refuse(409, "limit_reached"),
            Step(**{**ok("LATE").__dict__, "delay_s": 0.05}),
        ]
        async with FaultServer(script, repeat_last=False) as server:
            summary, _out = await snipe(make_task(server, tmp_path, concurrency=3))
        assert (summary.exit_code, summary.order_id, summary.existing) == (0, "LATE", False)
        assert len(server.orders) == 3  # nothing new after limit_reached

    async def test_limit_reached_alone_finds_the_existing_order(self, tmp_path: Path) -> None:
        """Only limit_reached, but the account holds an order: looked up, reported, exit 0."""
        async with FaultServer([refuse(409, "limit_reached")], existing=["OLD7"]) as server:
            summary, out = await snipe(make_task(server, tmp_path, concurrency=2))
        assert (summary.exit_code, summary.order_id, summary.existing) == (0, "OLD7", True)
        assert "already holds an order: OLD7" in out

    async def test_rate_limited_waits_for_retry_after(self, tmp_path: Path) -> None:
        """429 with Retry-After: 1: the next try comes no sooner than a second later."""
        script = [refuse(429, "rate_limited", headers=(("Retry-After", "1"),)), ok("B2")]
        async with FaultServer(script) as server:
            summary, _ = await snipe(make_task(server, tmp_path, concurrency=1))
        assert summary.exit_code == 0
        first, second = server.orders
        assert second.at - first.at >= 1.0

    async def test_cookie_expired(self, tmp_path: Path) -> None:
        """401 at the opening: stop at once, say so, exit 4."""
        async with FaultServer([refuse(401, "unauthorized")]) as server:
            summary, out = await snipe(make_task(server, tmp_path, concurrency=2))
        assert summary.exit_code == 4
        assert "cookie expired" in out
        assert len(server.orders) == 2

    async def test_server_errors_then_ordered(self, tmp_path: Path) -> None:
        """500, 502 then 201: retried under the bucket, ordered."""
        script = [Step(500), Step(502), ok("C3")]
        async with FaultServer(script) as server:
            summary, _ = await snipe(make_task(server, tmp_path, concurrency=1))
        assert (summary.exit_code, summary.order_id) == (0, "C3")
        assert len(server.orders) == 3

    async def test_outcome_unknown_is_retried_with_the_same_request_id(
        self, tmp_path: Path
    ) -> None:
        """503 outcome_unknown, then the store's replay (200, the same order): every try
        carried the run's one request id, and the run is won with that order."""
        script = [refuse(503, "outcome_unknown", headers=(("Retry-After", "1"),)), ok("R1")]
        async with FaultServer(script) as server:
            summary, _ = await snipe(make_task(server, tmp_path, concurrency=1))
        assert (summary.exit_code, summary.order_id) == (0, "R1")
        sent = [json.loads(seen.body)["request_id"] for seen in server.orders]
        assert len(sent) == 2
        assert sent[0] == sent[1]
        assert sent[0].startswith("snp-")

    async def test_outcome_unknown_to_the_end_finds_the_order(self, tmp_path: Path) -> None:
        """Only outcome_unknown until the window ends, but the order was placed: looked up,
        reported, exit 0 (not "no order")."""
        script = [refuse(503, "outcome_unknown")]
        async with FaultServer(script, existing=["PLACED9"]) as server:
            task = make_task(
                server,
                tmp_path,
                concurrency=1,
                retry={"window_s": 0.5, "rate_per_s": 5, "burst": 2},
            )
            summary, out = await snipe(task)
        assert (summary.exit_code, summary.order_id, summary.existing) == (0, "PLACED9", True)
        assert "already holds an order: PLACED9" in out

    async def test_sold_out(self, tmp_path: Path) -> None:
        """409 sold_out everywhere: exit 3, nothing new sent after the burst."""
        async with FaultServer([refuse(409, "sold_out")]) as server:
            summary, out = await snipe(make_task(server, tmp_path, concurrency=3))
        assert summary.exit_code == 3
        assert "sold out" in out
        assert len(server.orders) == 3

    async def test_server_that_never_answers(self, tmp_path: Path) -> None:
        """Silence: each try times out, the window ends, exit 3, in bounded time."""
        async with FaultServer([Step(200, hang=True)]) as server:
            task = make_task(
                server,
                tmp_path,
                concurrency=2,
                timeout_s=0.3,
                retry={"window_s": 1.0, "rate_per_s": 5, "burst": 2},
            )
            started = time.monotonic()
            summary, out = await snipe(task)
            elapsed = time.monotonic() - started
        assert summary.exit_code == 3
        assert "retry window over" in out
        assert elapsed < 0.6 + 1.0 + 0.3 + 1.5  # opening + window + one timeout + slack
        assert 2 <= len(server.orders) <= 2 + 10


async def test_connections_are_exactly_concurrency_and_opened_late(tmp_path: Path) -> None:
    """The burst uses exactly `concurrency` connections, opened within preheat_ms (+ margin)
    of the opening; the clock probe's own connection closes before them and sends no order."""
    async with FaultServer([ok("D4")]) as server:
        task = make_task(server, tmp_path, opens_in_s=1.5, concurrency=4, preheat_ms=300)
        opening_mono = time.monotonic() + 1.5
        summary, _ = await snipe(task)
    assert summary.exit_code == 0
    order_conns = {r.conn for r in server.orders}
    assert len(order_conns) == 4
    for conn in order_conns:
        assert server.connections[conn] >= opening_mono - 0.300 - 0.050
    probes = set(range(len(server.connections))) - order_conns
    for conn in probes:
        assert {r.method for r in server.requests if r.conn == conn} == {"GET"}
    assert len(server.connections) == 4 + len(probes)


@pytest.mark.parametrize("lang", ["en", "zh"])
async def test_cookie_never_in_output_or_log(tmp_path: Path, lang: str) -> None:
    """Neither the console nor the log file holds the cookie."""
    async with FaultServer(
        [
            refuse(
                429,
                "rate_limited",
                headers=(("Retry-After", "0"), ("Set-Cookie", "session=rotated-secret")),
            ),
            ok("E5"),
        ]
    ) as server:
        summary, out = await snipe(make_task(server, tmp_path, concurrency=1, lang=lang))
    log = (tmp_path / "sniper.log").read_text()
    assert summary.exit_code == 0
    for secret in ("secret-cookie-value", "rotated-secret"):
        assert secret not in out
        assert secret not in log
    assert ("下单成功" in out) == (lang == "zh")


class TestHttps:
    """TLS with a custom CA file; a certificate from an unknown CA is refused."""

    async def test_custom_ca_file(self, tmp_path: Path) -> None:
        """The server's certificate is signed by a private CA given as ca_file: ordered."""
        import ssl

        import trustme

        ca = trustme.CA()
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost").configure_cert(server_ctx)
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        async with FaultServer([ok("TLS1")], tls=server_ctx) as server:
            summary, _ = await snipe(
                make_task(server, tmp_path, concurrency=2, ca_file=tmp_path / "ca.pem")
            )
            assert (summary.exit_code, summary.order_id) == (0, "TLS1")
            untrusted, out = await snipe(make_task(server, tmp_path, concurrency=1))
        assert untrusted.exit_code == 1
        assert "certificate is not trusted" in out
        assert "ca_file" in out


async def test_unreachable_server_is_one_clear_line(tmp_path: Path) -> None:
    """Nobody listens: exit 1 and a message naming the address, no traceback."""
    async with FaultServer([ok()]) as server:
        task = make_task(server, tmp_path, concurrency=1)
    summary, out = await snipe(task)  # the server is gone now
    assert summary.exit_code == 1
    assert "cannot connect to 127.0.0.1:" in out


async def test_server_that_closes_after_every_answer(tmp_path: Path) -> None:
    """`Connection: close` on every answer (clock samples, warm-up): reconnect, still order."""
    async with FaultServer([ok("CL1")], close_each=True) as server:
        summary, _ = await snipe(make_task(server, tmp_path, concurrency=2))
    assert (summary.exit_code, summary.order_id) == (0, "CL1")


async def test_unwritable_log_does_not_cost_the_order(tmp_path: Path, capsys: Any) -> None:
    """The log file turns out unwritable mid-run: one warning, and the order still counts."""
    (tmp_path / "logdir").mkdir()
    async with FaultServer([ok("LG1")]) as server:
        task = make_task(server, tmp_path, concurrency=1).model_copy(
            update={"log_file": tmp_path / "logdir"}
        )
        summary, _ = await snipe(task)
    assert (summary.exit_code, summary.order_id) == (0, "LG1")
    assert capsys.readouterr().err.count("log_file: cannot write") == 1


async def test_a_server_down_long_before_the_opening_is_waited_out(tmp_path: Path) -> None:
    """Nobody listens yet, the opening is seconds away: the run says so once, tries again
    with growing pauses, and orders once the server is up."""
    import asyncio

    from sniper.store.process import free_port

    port = free_port()
    target = datetime.fromtimestamp(time.time() + 8.0, tz=UTC)
    task = TaskConfig.model_validate(
        {
            "base_url": f"http://127.0.0.1:{port}",
            "sku_id": "eggs",
            "target_time": target,
            "cookie": COOKIE,
            "log_file": tmp_path / "sniper.log",
            "preheat_ms": 300,
            "timeout_s": 2.0,
            "concurrency": 1,
        }
    )
    run = asyncio.create_task(snipe(task))
    await asyncio.sleep(1.5)
    async with FaultServer([ok("LATE1")], port=port):
        summary, out = await asyncio.wait_for(run, 30)
    assert (summary.exit_code, summary.order_id) == (0, "LATE1")
    assert out.count("connection refused") == 1
    assert "trying again until preheat" in out
    assert f"127.0.0.1:{port} answers again" in out


async def test_a_server_that_stays_down_ends_the_run_before_preheat(tmp_path: Path) -> None:
    """Waiting out is bounded: with nobody listening, the run ends (exit 1) before its
    opening, having said once that it waits."""
    from sniper.store.process import free_port

    target = datetime.fromtimestamp(time.time() + 7.0, tz=UTC)
    task = TaskConfig.model_validate(
        {
            "base_url": f"http://127.0.0.1:{free_port()}",
            "sku_id": "eggs",
            "target_time": target,
            "cookie": COOKIE,
            "log_file": tmp_path / "sniper.log",
            "preheat_ms": 300,
            "timeout_s": 2.0,
            "concurrency": 1,
        }
    )
    summary, out = await snipe(task)
    assert summary.exit_code == 1
    assert time.time() < target.timestamp()
    assert out.count("trying again until preheat") == 1
    assert "✗ stopping: cannot connect to" in out
