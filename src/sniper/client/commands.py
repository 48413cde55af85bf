"""What ``sniper run``, ``check`` and ``clock`` do, once the CLI has parsed its arguments."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from pathlib import Path

import pydantic

from sniper.client.before import BeforeResult, shown_value
from sniper.client.config import ClockConfig, TaskConfig, redact
from sniper.client.connection import (
    Connection,
    ConnectionBroken,
    HttpCall,
    Origin,
    Response,
    ssl_context,
)
from sniper.client.console import Console
from sniper.client.engine import Sniper
from sniper.client.notify import unresolved_secret
from sniper.client.outcome import error_message
from sniper.client.platforms import Platform, Probe
from sniper.client.probe import ClockError, TimeSource, measure, wall_offset
from sniper.client.repeating import Repeater, earlier_order, learned_aim, sniper_runs
from sniper.client.schedule import past_target, plan
from sniper.client.scrub import printable
from sniper.client.servertime import TimeEndpoint
from sniper.client.shop import Shop
from sniper.client.timesync import Estimate
from sniper.clock import Clock, SystemClock
from sniper.errors import ConfigError
from sniper.validation import describe


async def run(task: TaskConfig, cookie: str, console: Console) -> int:
    """``sniper run``: the whole timeline (every opening, for a task that repeats); the exit
    code."""
    if not task.openings.repeats:
        summary = await Sniper(task, console, cookie=cookie).run()
        return summary.exit_code
    clock = SystemClock()
    result = await Repeater(task, cookie, console, sniper_runs(console, clock), clock=clock).run()
    return result.value


async def check(task: TaskConfig, cookie: str, console: Console, clock: Clock | None = None) -> int:
    """``sniper check``: probe the login and the item, measure the clock, say when it would
    fire, and resolve every notify channel's secrets. Sends no order. 0 if everything answered
    as expected, else 1 (4 for a dead cookie, 2 for a bad task: an item the platform does not
    have, a target_time long past, a notify secret that cannot be read)."""
    code = await _check_platform(task, cookie, console, clock or SystemClock())
    for channel in task.notify:
        missing = unresolved_secret(channel)
        if missing is not None:
            print(f"  ✗ {missing}", file=console.stream)
            code = max(code, 2)
    return code


async def _check_platform(task: TaskConfig, cookie: str, console: Console, clock: Clock) -> int:
    shop = Shop(task, cookie, clock)
    platform, origin = shop.platform, shop.origin
    # The default name "task" is not repeated ("task task:"); a name of its own is shown.
    label = f"task {task.name}" if "name" in task.model_fields_set else "task"
    print(
        f"{label}: {task.platform} at {origin.host_header}, sku {task.sku_id}, "
        f"cookie {redact(cookie)}",
        file=console.stream,
    )
    if task.concurrency > 1 and not platform.carries_request_id():
        print("  " + console.text("no_request_id", n=task.concurrency), file=console.stream)
    if not platform.probes() and not any(step.when == "before" for step in task.steps):
        print("  " + console.text("not_probed", platform=task.platform), file=console.stream)
    code = 0
    where = origin
    try:
        if shop.clock_apart:
            where = shop.clock_origin
            async with shop.clock_connected(task.timeout_s) as conn:
                est, _ = await measure(conn, shop.time, clock, timeout_s=task.timeout_s)
            where = origin
        async with shop.connected(task.timeout_s) as conn:
            for probe in platform.probes():
                response = await conn.request(probe.call, task.timeout_s)
                code = max(code, _probe_answer(platform, probe, response, console))
            if not shop.clock_apart:
                est, _ = await measure(conn, shop.time, clock, timeout_s=task.timeout_s)
            before = await platform.before_opening(
                conn,
                request_id=f"snp-check-{secrets.token_hex(4)}",
                timeout_s=lambda: task.timeout_s,
                server_now_ms=lambda: est.server_time(clock.monotonic() * 1000),
            )
    except (ConnectionBroken, ClockError) as exc:
        print(f"  cannot reach {where.host_header}: {console.detail(exc)}", file=console.stream)
        return 1
    print(f"  clock source: {shop.clock_source}", file=console.stream)
    if before is not None:
        code = max(code, _say_before(before, platform, console))
    _say_clock(console, est, clock)
    return max(code, _say_when(task, est, clock, console, origin.host_header))


def _say_when(task: TaskConfig, est: Estimate, clock: Clock, console: Console, shop: str) -> int:
    """When the task would fire (at its next opening, with its aim); 2 if it never would."""
    server_now_ms = est.server_time(clock.monotonic() * 1000)
    aim_ms = 0.0
    if task.openings.repeats:
        # As the run picks it: an opening whose retry window is still open is run.
        window_s = task.retry.window_s
        after = datetime.fromtimestamp(server_now_ms / 1000 - window_s, UTC)
        opening = task.openings.next_opening(after)
        if opening is None:
            print("  ✗ no openings left: every date is past", file=console.stream)
            return 2
        print(f"  next openings: {_upcoming(task, after)}", file=console.stream)
        if task.history_file.is_dir():
            print(f"  ✗ history_file: {task.history_file} is a folder", file=console.stream)
            return 2
        earlier = earlier_order(task, shop)
        if earlier is not None:
            print(
                f"  ✓ already ordered at the opening {printable(earlier.opening)} (order "
                f"{printable(earlier.order_id or '-')}, in {task.history_file}): with "
                "repeat_until: ordered, sniper run ends at once",
                file=console.stream,
            )
            return 0
        aim_ms = _say_aim(task, shop, console)
        task = task.at(opening)
    late = past_target(task.opening, server_now_ms, task.retry.window_s)
    if late is not None:
        print(f"  ✗ {late}", file=console.stream)
        return 2
    fire = plan(task.target_ms + aim_ms, est, task.preheat_ms)
    in_s = (fire.send_at - clock.monotonic() * 1000) / 1000
    arrive = datetime.fromtimestamp((task.target_ms + aim_ms) / 1000, task.opening.tzinfo)
    print(
        f"  would fire at local {_local_iso(clock, fire.send_at)} "
        f"(in {console.duration(in_s)}), {task.concurrency} request(s), arriving at "
        f"{arrive.isoformat(timespec='milliseconds' if aim_ms else 'auto')} on the server's clock",
        file=console.stream,
    )
    return 0


def _upcoming(task: TaskConfig, after: datetime, count: int = 3) -> str:
    """The next ``count`` openings, as written in their zone."""
    shown: list[str] = []
    at: datetime | None = after
    while len(shown) < count and at is not None:
        at = task.openings.next_opening(at)
        if at is not None:
            shown.append(at.isoformat(timespec="seconds"))
    return ", ".join(shown)


def _say_aim(task: TaskConfig, shop: str, console: Console) -> float:
    """With ``aim: learned``, the aim and the openings it was learned from; the aim (ms after
    the opening)."""
    if task.aim != "learned":
        return 0.0
    learned = learned_aim(task, shop)
    out = console.stream
    if not learned.openings:
        print(
            f"  aim: learned: nothing to learn from yet in {task.history_file} (no opening of "
            f"{task.sku_id} at {shop} seen late): the published time",
            file=out,
        )
        return 0.0
    print(
        f"  aim: learned: {learned.offset_ms:+.1f} ms after the opening (median "
        f"{learned.center_ms:+.1f} ms less {learned.margin_ms:.1f} ms), from:",
        file=out,
    )
    for record, at in zip(learned.openings, learned.points, strict=True):
        closed = record.last_not_started_ms
        print(
            f"    {printable(record.opening)}: open by {at:+.1f} ms"
            + (f", not started at {closed:+.1f} ms" if closed is not None else ""),
            file=out,
        )
    return learned.offset_ms


def _probe_answer(platform: Platform, probe: Probe, response: Response, console: Console) -> int:
    """Say what one probe's answer means; the exit code it calls for: 4 a refused login (with a
    hint), 2 a task naming what the platform does not have, 1 any other failure, else 0."""
    out = console.stream
    ok = response.status in probe.ok_status
    print(f"  {probe.label}: HTTP {response.status} {'ok' if ok else 'FAILED'}", file=out)
    if not ok and response.status in (401, 403):
        console.cookie_hint(platform.task.platform, platform.cookie, error_message(response))
        return 4
    if not ok and response.status == 404 and probe.missing:
        print(f"  ✗ {probe.missing}", file=out)
        return 2
    if not ok:
        return 1
    opens = platform.sale_start(probe, response)
    target = platform.task.target_time  # None for a task that repeats: no one instant
    if opens is not None and target is not None and opens != target:
        print(
            f"  ! target_time {target.isoformat()} differs from the item's sale_start "
            f"{opens.isoformat()}: the sale opens at sale_start",
            file=out,
        )
    return 0


def _say_before(before: BeforeResult, platform: Platform, console: Console) -> int:
    """What the ``before`` steps answered and saved (a value that looks like a secret is
    redacted); the exit code: 4 a refused cookie, 1 a step that failed, else 0."""
    out = console.stream
    for step, status in before.statuses.items():
        print(f"  step {step}: HTTP {status if status is not None else '---'}", file=out)
    for name, value in before.saved.items():
        print(f"    saved {name} = {shown_value(name, value)}", file=out)
    if before.dead_cookie:
        console.cookie_hint(platform.task.platform, platform.cookie, before.refused)
        return 4
    if before.failure:
        print(f"  ✗ {before.failure}", file=out)
        return 1
    return 0


def time_endpoint(url: str, json_path: str, unit: str) -> TimeEndpoint:
    """The time endpoint that ``sniper clock URL --json PATH --unit U`` names; ConfigError
    naming what is wrong with it."""
    try:
        given = ClockConfig.model_validate({"url": url, "json": json_path, "unit": unit})
    except pydantic.ValidationError as exc:
        problem = describe(exc, ClockConfig)
        raise ConfigError(problem if problem.startswith("url") else f"--{problem}") from None
    return TimeEndpoint.from_url(given.url, given.json_path, given.unit)


async def clock_report(
    url: str,
    console: Console,
    *,
    samples: int = 8,
    ca_file: str | None = None,
    clock: Clock | None = None,
    endpoint: TimeEndpoint | None = None,
) -> int:
    """``sniper clock URL``: offset, RTT and uncertainty against a server: read from
    ``endpoint`` when given, else from ``/api/time`` if the server has it, else its ``Date``."""
    clock = clock or SystemClock()
    origin = endpoint.origin if endpoint is not None else Origin.from_url(url)
    conn = Connection(origin, clock, ssl_context(origin, Path(ca_file) if ca_file else None))
    try:
        await conn.open(5.0)
        if endpoint is not None:
            source, shown = TimeSource(endpoint), endpoint.name
        else:
            first = await conn.request(HttpCall("GET", "/api/time"), 5.0)
            has_endpoint = first.status == 200 and b"now_ms" in first.body
            source = TimeSource(TimeEndpoint.api_time(origin) if has_endpoint else None)
            shown = "/api/time" if has_endpoint else "Date header"
        est, _ = await measure(conn, source, clock, count=samples, timeout_s=5.0)
    except (ConnectionBroken, ClockError) as exc:
        print(f"sniper: cannot measure {origin.host_header}: {exc}", file=console.stream)
        return 1
    finally:
        await conn.aclose()
    _say_clock(console, est, clock)
    print(
        json.dumps(
            {
                "offset_ms": round(wall_offset(est, clock), 3),
                "uncertainty_ms": round(est.uncertainty, 3),
                "date_lag_ms": round(est.lag, 3),
                "rtt_ms": round(est.rtt, 3),
                "samples": est.samples,
                "method": est.method,
                "source": shown,
            }
        ),
        file=console.stream,
    )
    return 0


def _say_clock(console: Console, est: Estimate, clock: Clock) -> None:
    console.clock(est, wall_offset(est, clock))


def _local_iso(clock: Clock, mono_ms: float) -> str:
    wall = mono_ms / 1000 + clock.time() - clock.monotonic()
    return datetime.fromtimestamp(wall, tz=UTC).astimezone().isoformat(timespec="milliseconds")
