"""``sniper bench --file``: an opening against anyone's seckill endpoint.

The bench file says what each user's order request is and how to read its answer; the users file
who the buyers are. The target's clock is measured as the sniper measures a shop's (its time
endpoint, or the ``Date`` header's edge), so that ``--at`` is an instant on *its* clock: shards of
one users file, started on several machines with the same absolute ``--at``, fire the same instant,
each aligned on its own, with no coordinator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sniper.bench.answers import CountError, classify, count_from
from sniper.bench.at import IN_TWO_SECONDS, At, local_zone
from sniper.bench.at import opening_ms as at_ms
from sniper.bench.benchfile import Bench, load_bench
from sniper.bench.merge import users_sha256
from sniper.bench.order import new_run_id, request_id
from sniper.bench.report import summarize
from sniper.bench.users import User, shard
from sniper.bench.volley import fire_at, shown_url, target_clock
from sniper.client.connection import (
    Connection,
    ConnectionBroken,
    HttpCall,
    Origin,
    Response,
    ssl_context,
)
from sniper.client.probe import TimeSource
from sniper.client.servertime import TimeEndpoint
from sniper.clock import Clock, SystemClock
from sniper.errors import ConfigError
from sniper.fdlimit import check_fd_room


@dataclass(frozen=True)
class TargetOptions:
    """What ``sniper bench --file`` was asked."""

    file: Path
    at: At = IN_TWO_SECONDS
    shard: tuple[int, int] | None = None
    timeout_s: float = 30.0
    ca_file: Path | None = None


async def run_target(
    opts: TargetOptions, say: Callable[[str], None], clock: Clock | None = None
) -> dict[str, Any]:
    """Run one opening against the bench file's target; its report (every shot in it). Nothing
    is sent before the bench file, the users file and ``--at`` are found good."""
    clock = clock or SystemClock()
    bench = load_bench(opts.file)
    rows = _rows(bench, opts.shard)
    check_fd_room(len(rows))
    source, clock_origin = _time_source(bench)
    tls = ssl_context(bench.origin, opts.ca_file)
    est = await target_clock(
        clock_origin,
        source,
        clock,
        tls=ssl_context(clock_origin, opts.ca_file),
        timeout_s=opts.timeout_s,
    )
    opening_ms = at_ms(opts.at, round(est.server_time(clock.monotonic() * 1000)), local_zone())
    run_id = new_run_id()
    calls = [bench.call(row, request_id(run_id, row.index)) for row in rows]
    when = datetime.fromtimestamp(opening_ms / 1000, tz=UTC).isoformat(timespec="milliseconds")
    part = "" if opts.shard is None else f" (shard {opts.shard[0]}/{opts.shard[1]})"
    say(f"{len(rows)} users of {bench.users.name}{part}, stock {bench.file.stock}; opening {when}")
    answers = await fire_at(
        bench.origin,
        tls,
        calls,
        opening_ms=opening_ms,
        est=est,
        clock=clock,
        timeout_s=opts.timeout_s,
        say=say,
    )
    rules = bench.file.rules

    def code(response: Response) -> str:
        return classify(rules, response.status, response.headers, response.body)

    shots = [a.shot(row.user, row.index, est, code) for a, row in zip(answers, rows, strict=True)]
    try:
        server_count, count_error = await _server_count(bench, clock, opts), None
    except (CountError, ConnectionBroken) as exc:
        # The run's own checks stand without it: reported, not a failed run.
        server_count, count_error = None, str(exc)
    report = summarize(
        shots,
        stock=bench.file.stock,
        opening_ms=opening_ms,
        server_count=server_count,
        shard=None if opts.shard is None else f"{opts.shard[0]}/{opts.shard[1]}",
    )
    report["target"] = shown_url(bench.file.request.url)
    report["users"] = len(rows)
    # What ties the shards of one run to one users file: merge checks them.
    report["users_total"] = len(bench.users.rows)
    report["users_sha256"] = users_sha256(Path(bench.users.name))
    if count_error is not None:
        report["count_error"] = count_error
    return report


def _rows(bench: Bench, which: tuple[int, int] | None) -> list[User]:
    rows = list(bench.users.rows)
    if which is not None:
        rows = shard(rows, *which)
    # A shard may be empty (fewer users than shards): its report, with no shot, still merges.
    if not rows and which is None:
        raise ConfigError(f"{bench.users.name}: no users")
    return rows


def _time_source(bench: Bench) -> tuple[TimeSource, Origin]:
    """What tells the target's time (its ``clock`` endpoint, else the ``Date`` header of its
    order origin) and the origin to ask."""
    given = bench.file.clock
    if given is None:
        return TimeSource(None), bench.origin
    endpoint = TimeEndpoint.from_url(given.url, given.json_path, given.unit)
    return TimeSource(endpoint), endpoint.origin


async def _server_count(bench: Bench, clock: Clock, opts: TargetOptions) -> int | None:
    """The target's own count of units sold, read after the run (None: no ``count`` given)."""
    count = bench.file.count
    if count is None:
        return None
    parts = urlsplit(count.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    origin = Origin.from_url(count.url)
    conn = Connection(origin, clock, ssl_context(origin, opts.ca_file))
    await conn.open(opts.timeout_s)
    try:
        call = HttpCall("GET", target, (("Accept", "application/json"),))
        response = await conn.request(call, opts.timeout_s)
    finally:
        await conn.aclose()
    if not 200 <= response.status < 300:
        raise CountError(f"count: the target answered HTTP {response.status}")
    return count_from(response.body, count.json_path)
