"""A shop's own clock (``clock:`` in a task, ``sniper clock URL --json PATH``): configured, read on
its own origin, measured, and used for the plan; against real shops on loopback."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from sniper.client.config import ClockConfig, TaskConfig, load_task
from sniper.client.connection import Connection, HttpCall, Origin
from sniper.client.console import Console
from sniper.client.engine import Sniper
from sniper.client.outcome import Kind, Verdict
from sniper.client.platforms import HttpPlatform, Platform, StorePlatform
from sniper.client.policy import Result
from sniper.client.probe import TimeSource, measure, wall_offset
from sniper.client.servertime import TimeEndpoint
from sniper.client.shop import Shop
from sniper.clock import SystemClock
from sniper.errors import ConfigError
from tests.client.shop_clock import TIME_PATH, ShopServer

SECRET = "session=s3cret-cookie-value"


def http_task(order_url: str, clock_url: str | None, **fields: Any) -> dict[str, Any]:
    """An http task ordering at ``order_url``, reading the clock at ``clock_url`` (seconds)."""
    data: dict[str, Any] = {
        "platform": "http",
        "base_url": order_url,
        "cookie": SECRET,
        "sku_id": "eggs",
        "target_time": "2030-04-15T07:00:00+08:00",
        "request": {
            "url": f"{order_url}/api/order",
            "body": '{"sku":"{sku_id}","rid":"{request_id}"}',
        },
        **fields,
    }
    if clock_url is not None:
        data["clock"] = {"url": clock_url + TIME_PATH, "json": "data.now", "unit": "s"}
    return data


def opening(shop: ShopServer, in_s: float) -> str:
    """An opening ``in_s`` from now on ``shop``'s clock."""
    return datetime.fromtimestamp(shop.now_ms() / 1000 + in_s, tz=UTC).isoformat()


async def sniper(*args: str, cwd: Path) -> tuple[int, str, str]:
    """The ``sniper`` CLI as a real process (the shops it talks to run in this loop)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sniper",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=cwd,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class TestConfig:
    """``clock:`` in the task file."""

    def test_defaults(self, tmp_path: Path) -> None:
        """``unit`` is ms unless given; the platform reads the clock there."""
        data = http_task("http://www.shop.example", None)
        data["clock"] = {"url": "https://api.shop.example/t?a=1", "json": "data.t"}
        path = tmp_path / "task.yaml"
        path.write_text(yaml.safe_dump(data))
        task = load_task(path)
        assert task.clock == ClockConfig.model_validate(
            {"url": "https://api.shop.example/t?a=1", "json": "data.t", "unit": "ms"}
        )
        endpoint = HttpPlatform(task, SECRET).time_endpoint()
        assert endpoint == TimeEndpoint.from_url("https://api.shop.example/t?a=1", "data.t", "ms")

    @pytest.mark.parametrize(
        ("clock", "message"),
        [
            ({"json": "data.now"}, "clock.url: Field required"),
            ({"url": "ftp://x/t", "json": "t"}, "clock.url: must be an http:// or https:// URL"),
            ({"url": "http:///t", "json": "t"}, "clock.url: must be an http:// or https:// URL"),
            ({"url": "http://x:99999/t", "json": "t"}, "clock.url: has a bad port"),
            ({"url": "http://x/a b", "json": "t"}, "clock.url: must be a URL without spaces"),
            ({"url": "http://x/t"}, "clock.json: Field required"),
            ({"url": "http://x/t", "json": ""}, "clock.json: must be a dotted path"),
            ({"url": "http://x/t", "json": "data..now"}, "clock.json: must be a dotted path"),
            ({"url": "http://x/t", "json": ".now"}, "clock.json: must be a dotted path"),
            ({"url": "http://x/t", "json": "t", "unit": "us"}, "clock.unit: Input should be"),
            ({"url": "http://x/t", "json": "t", "units": "s"}, "clock.units: unknown field"),
            ("http://x/t", "clock: Input should be a valid dictionary"),
        ],
    )
    def test_bad_clock(self, tmp_path: Path, clock: object, message: str) -> None:
        """One line naming the field and what is wrong."""
        path = tmp_path / "task.yaml"
        path.write_text(
            yaml.safe_dump({**http_task("http://www.shop.example", None), "clock": clock})
        )
        with pytest.raises(ConfigError) as caught:
            load_task(path)
        assert str(caught.value).startswith(message)
        assert "\n" not in str(caught.value)


class _PluginWithTime(Platform):
    """A plugin as written before ``clock:``: only ``time_call``."""

    name: ClassVar[str] = "plugin"

    def order_call(self, request_id: str) -> HttpCall:
        return HttpCall("POST", "/order")

    def classify(self, response: Any) -> Verdict:
        return Verdict(Kind.FATAL)

    def time_call(self) -> HttpCall:
        return HttpCall("GET", "/now")


class _PluginWithout(_PluginWithTime):
    def time_call(self) -> None:  # type: ignore[override]
        return None


STORE_URL = "http://127.0.0.1:8000"
SHOP_CLOCK = {"url": "http://api.shop.example/api/serverTime", "json": "data.now", "unit": "s"}


@pytest.mark.parametrize(
    ("platform", "fields", "expected"),
    [
        (StorePlatform, {}, TimeEndpoint.api_time(Origin.from_url(STORE_URL))),
        (
            StorePlatform,
            {"clock": SHOP_CLOCK},
            TimeEndpoint.from_url(SHOP_CLOCK["url"], "data.now", "s"),
        ),
        (_PluginWithTime, {}, TimeEndpoint(Origin.from_url(STORE_URL), HttpCall("GET", "/now"))),
        (
            _PluginWithTime,
            {"clock": SHOP_CLOCK},
            TimeEndpoint.from_url(SHOP_CLOCK["url"], "data.now", "s"),
        ),
        (_PluginWithout, {}, None),
    ],
)
def test_where_a_platform_reads_the_clock(
    platform: type[Platform], fields: dict[str, Any], expected: TimeEndpoint | None
) -> None:
    """The task's ``clock:`` first; else ``time_call()`` (``{now_ms}`` on the order origin, as
    plugins have always had it); else the ``Date`` header."""
    task = TaskConfig.model_validate(
        {
            "base_url": STORE_URL,
            "cookie": SECRET,
            "sku_id": "e",
            "target_time": "2030-01-01T00:00:00Z",
            **fields,
        }
    )
    assert platform(task, SECRET).time_endpoint() == expected


def test_clock_keys() -> None:
    """Tasks share clock measurements only when they read the same clock the same way."""

    def key(clock: dict[str, str] | None, order: str = "http://www.shop.example") -> object:
        data = http_task(order, None)
        if clock is not None:
            data["clock"] = clock
        return Shop(TaskConfig.model_validate(data), SECRET, SystemClock()).clock_key

    a = {"url": "http://api.shop.example/time", "json": "data.now"}
    assert key(a) == key(a, order="http://m.shop.example")  # one clock, two order origins
    assert key(a) != key({**a, "url": "http://api.shop.example/time2"})
    assert key(a) != key({**a, "url": "http://api2.shop.example/time"})
    assert key(a) != key({**a, "json": "data.t"})
    assert key(a) != key({**a, "unit": "s"})
    assert key(None) == Origin.from_url("http://www.shop.example")  # its Date header
    assert key(None) != key(None, order="http://m.shop.example")


async def test_sniper_clock_reads_a_shop_endpoint(tmp_path: Path) -> None:
    """``sniper clock URL --json data.now --unit s`` (a real process) against a shop whose
    clock is 1.5 s ahead, answering epoch seconds with a fraction: the offset within a few ms,
    the endpoint and path named."""
    async with ShopServer(skew_ms=1500) as shop:
        url = shop.url + TIME_PATH
        code, out, err = await sniper(
            "clock", url, "--json", "data.now", "--unit", "s", cwd=tmp_path
        )
        assert code == 0, err
        report = json.loads(out.strip().splitlines()[-1])
        assert abs(report["offset_ms"] - 1500) < 5
        assert report["uncertainty_ms"] < 5
        assert report["date_lag_ms"] == 0
        assert report["source"] == f"{shop.url.removeprefix('http://')}{TIME_PATH} data.now (s)"
        assert len(shop.paths("GET", TIME_PATH)) == report["samples"] == 8
        assert "the server's clock is +1" in out  # the human line, then the JSON


async def test_whole_seconds_are_probed_at_their_edges() -> None:
    """An endpoint in whole seconds (as text, as some shops send it) is a one-second tick:
    the measurement probes its edges and finds the offset to milliseconds, with no Date lag
    in the bound."""

    class WholeSeconds(ShopServer):
        def _answer(self, method: str, target: str, now: float) -> tuple[int, bytes]:
            return 200, json.dumps({"t": str(int(now // 1000))}).encode()

    clock = SystemClock()
    async with WholeSeconds(skew_ms=-700) as shop:
        endpoint = TimeEndpoint.from_url(f"{shop.url}/ts?api=time", "t", "s")
        conn = Connection(endpoint.origin, clock)
        try:
            await conn.open(5.0)
            # Good enough only below what eight whole-second samples give even by luck, so
            # that the edges are always probed (at 2 ms a lucky eight ended it, once in CI).
            est, samples = await measure(
                conn, TimeSource(endpoint), clock, edge_rounds=4, good_enough_ms=0.05
            )
        finally:
            await conn.aclose()
    assert {s.server_hi - s.server_lo for s in samples} == {1000.0}
    assert abs(wall_offset(est, clock) - -700) < 5
    assert est.uncertainty < 5
    assert est.lag == 0
    assert len(samples) > 8  # edge probes beyond the first eight
    assert {r.target for r in shop.requests} == {"/ts?api=time"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--unit", "s"), "sniper: --unit: goes with --json"),
        (("--json", ""), "sniper: --json: must be a dotted path"),
        (("--json", "a..b", "--unit", "s"), "sniper: --json: must be a dotted path"),
    ],
)
async def test_sniper_clock_bad_flags(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    """One line, exit 2, nothing sent."""
    async with ShopServer() as shop:
        code, out, err = await sniper("clock", shop.url + TIME_PATH, *args, cwd=tmp_path)
        assert shop.requests == []
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith(message)


async def test_sniper_clock_names_a_missing_path(tmp_path: Path) -> None:
    """A path the answer does not have: exit 1, the host and the path named."""
    async with ShopServer() as shop:
        code, out, _ = await sniper(
            "clock", shop.url + TIME_PATH, "--json", "data.nowMs", cwd=tmp_path
        )
    host = shop.url.removeprefix("http://")
    assert code == 1
    assert f"server {host}: the time endpoint gave no usable data.nowMs (none)" in out


@pytest.mark.parametrize(
    ("clock", "field"),
    [
        ({"json": "data.now", "unit": "s"}, "clock.url"),
        ({"url": "http://127.0.0.1:9/t", "json": "data.now", "unit": "minutes"}, "clock.unit"),
        ({"url": "http://127.0.0.1:9/t", "json": ""}, "clock.json"),
    ],
)
async def test_check_refuses_a_bad_clock(tmp_path: Path, clock: dict[str, str], field: str) -> None:
    """``sniper check`` with a bad ``clock:``: one line naming the field, exit 2."""
    path = tmp_path / "task.yaml"
    path.write_text(yaml.safe_dump({**http_task("http://127.0.0.1:9", None), "clock": clock}))
    code, out, err = await sniper("check", str(path), cwd=tmp_path)
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [err.strip()]
    assert err.startswith(f"sniper: {field}: ")


async def test_check_measures_the_task_clock(tmp_path: Path) -> None:
    """``sniper check`` on a task whose clock is another origin (1.5 s ahead): it says which
    clock, measures it there, and would fire 1.5 s before the opening on this machine's clock;
    the order origin is sent no time request and no order."""
    async with ShopServer() as orders, ShopServer(skew_ms=1500) as clock:
        target = opening(clock, 30)
        path = tmp_path / "task.yaml"
        path.write_text(yaml.safe_dump(http_task(orders.url, clock.url, target_time=target)))
        code, out, err = await sniper("check", str(path), cwd=tmp_path)
    assert code == 0, out + err
    host = clock.url.removeprefix("http://")
    assert f"  clock source: {host}{TIME_PATH} data.now (s)\n" in out
    offset = float(re.search(r"clock is ([-+][0-9.]+) ms", out).group(1))  # type: ignore[union-attr]
    assert abs(offset - 1500) < 5
    fire = re.search(r"would fire at local (\S+) ", out).group(1)  # type: ignore[union-attr]
    fire_s = datetime.fromisoformat(fire).timestamp()
    assert abs(fire_s - (datetime.fromisoformat(target).timestamp() - 1.5)) < 0.05
    assert SECRET.split("=")[1] not in out
    assert [r.target for r in orders.requests] == []
    assert len(clock.paths("GET", TIME_PATH)) == 8


async def test_a_run_with_the_clock_on_another_origin(tmp_path: Path) -> None:
    """The clock (1.5 s ahead) is read at its own origin; the order origin's clock is 3 s
    behind and answers a time at the same path, but the warming requests on the burst's
    connections are only that: the order arrives at the opening on the shop's clock."""
    async with ShopServer(skew_ms=-3000) as orders, ShopServer(skew_ms=1500) as clock:
        target = opening(clock, 1.5)
        task = TaskConfig.model_validate(
            http_task(orders.url, clock.url, target_time=target, log_file=str(tmp_path / "s.log"))
        )
        out = io.StringIO()
        summary = await asyncio.wait_for(Sniper(task, Console("en", out)).run(), 20)
    assert summary.result is Result.ORDERED, out.getvalue()
    assert orders.paths("GET", TIME_PATH) == []
    warm = orders.paths("HEAD", "/")
    posts = orders.paths("POST", "/api/order")
    assert {r.conn for r in warm} == {r.conn for r in posts}  # one warm-up per burst connection
    assert len(warm) == task.concurrency
    assert [r.target for r in clock.requests] == [TIME_PATH] * len(clock.requests)
    # On the shop's clock (the order server's is 4.5 s behind it):
    late_ms = posts[0].shop_ms + 4500 - datetime.fromisoformat(target).timestamp() * 1000
    assert -2 < late_ms < 200


async def test_a_run_with_the_clock_on_the_order_origin(tmp_path: Path) -> None:
    """The clock on the burst's own origin: the warming requests are samples of it (the time
    request on each burst connection), as with the store's ``/api/time``."""
    async with ShopServer(skew_ms=1500) as shop:
        target = opening(shop, 1.5)
        task = TaskConfig.model_validate(
            http_task(shop.url, shop.url, target_time=target, log_file=str(tmp_path / "s.log"))
        )
        out = io.StringIO()
        summary = await asyncio.wait_for(Sniper(task, Console("en", out)).run(), 20)
    assert summary.result is Result.ORDERED, out.getvalue()
    posts = shop.paths("POST", "/api/order")
    burst = {r.conn for r in posts}
    warm = [r for r in shop.paths("GET", TIME_PATH) if r.conn in burst]
    assert len(warm) == task.concurrency
    assert shop.paths("HEAD", "/") == []
    late_ms = posts[0].shop_ms - datetime.fromisoformat(target).timestamp() * 1000
    assert -2 < late_ms < 200
