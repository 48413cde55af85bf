"""Several tasks of one file at once: one clock estimate per server, one retry bucket per host,
a guard against ordering twice for one account and item, and one exit code for all."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from sniper.client.clockboard import ClockBoard
from sniper.client.config import TaskConfig
from sniper.client.console import Console
from sniper.client.engine import RunSummary, Sniper
from sniper.client.gate import FireGate
from sniper.client.platforms import platform_for
from sniper.client.policy import Result
from sniper.client.repeating import Repeater
from sniper.clock import Clock, SystemClock
from sniper.ratelimit import TokenBucket


@dataclass(frozen=True)
class Planned:
    """A task, its cookie, the host its orders go to, and the earlier task it duplicates
    (then it is not run)."""

    task: TaskConfig
    cookie: str
    host: str
    duplicate_of: str | None = None


def plan_tasks(tasks: Sequence[tuple[TaskConfig, str]]) -> list[Planned]:
    """Mark every task whose account (cookie) and item (platform, host, sku) an earlier task
    already has: two such tasks would both order."""
    seen: dict[tuple[str, str, str, str], str] = {}
    planned = []
    for task, cookie in tasks:
        host = platform_for(task, cookie).origin.host_header
        key = (task.platform, host, task.sku_id, cookie)
        planned.append(Planned(task, cookie, host, seen.get(key)))
        seen.setdefault(key, task.name)
    return planned


def combined_exit(results: Sequence[Result]) -> int:
    """0 only if every task ordered; else the most telling failure: 4 (a dead cookie),
    2 (a bad task), 1 (unexpected), 3 (not ordered)."""
    for worst in (Result.AUTH_FAILED, Result.BAD_TASK, Result.FATAL, Result.NOT_ORDERED):
        if worst in results:
            return int(worst.value)
    return 0


def shared_buckets(tasks: Sequence[Planned], now_s: float) -> dict[str, TokenBucket]:
    """One bucket per host, as strict as the strictest task aimed at it."""
    buckets: dict[str, TokenBucket] = {}
    for planned in tasks:
        task, host = planned.task, planned.host
        rate, burst = task.retry.rate_per_s, task.retry.burst
        if host in buckets:
            rate, burst = min(rate, buckets[host].rate), min(burst, int(buckets[host].burst))
        buckets[host] = TokenBucket(rate, burst, burst, now_s)
    return buckets


async def run_many(
    tasks: Sequence[tuple[TaskConfig, str]],
    lang: str,
    clock: Clock | None = None,
    stream: TextIO | None = None,
) -> int:
    """Run every task at once; print one line per task at the end; the combined exit code."""
    clock = clock or SystemClock()
    planned = plan_tasks(tasks)
    board = ClockBoard()
    gate = FireGate(clock)
    runnable = [p for p in planned if p.duplicate_of is None]
    buckets = shared_buckets(runnable, clock.monotonic())
    console = Console(lang, stream)
    for p in planned:
        if p.duplicate_of is not None:
            console.say("duplicate", name=p.task.name, other=p.duplicate_of)
    if any(p.task.openings.repeats for p in runnable):
        repeaters = [
            _repeater(
                p,
                Console(p.task.lang, stream, prefix=f"[{p.task.name}] "),
                clock,
                (board, buckets[p.host], gate),
            )
            for p in runnable
        ]
        results = await asyncio.gather(*(r.run() for r in repeaters))
        for repeater, result in zip(repeaters, results, strict=True):
            console.say(
                "task_result",
                name=repeater.task.name,
                result=console.word(result.name.lower()),
                order_id=repeater.order_id or "-",
            )
        return combined_exit(results)
    snipers = [
        Sniper(
            p.task,
            Console(p.task.lang, stream, prefix=f"[{p.task.name}] "),
            clock=clock,
            cookie=p.cookie,
            clocks=board,
            bucket=buckets[p.host],
            gate=gate,
        )
        for p in runnable
    ]
    summaries: list[RunSummary] = list(await asyncio.gather(*(s.run() for s in snipers)))
    # (run() turns every failure into a result, so one task cannot end the others.)
    for sniper, summary in zip(snipers, summaries, strict=True):
        console.say(
            "task_result",
            name=sniper.task.name,
            result=console.word(summary.result.name.lower()),
            order_id=", ".join(summary.order_ids) or "-",
        )
    return combined_exit([s.result for s in summaries])


def _repeater(
    planned: Planned,
    console: Console,
    clock: Clock,
    shared: tuple[ClockBoard, TokenBucket, FireGate],
) -> Repeater:
    """A repeating task of the file, its openings run with what the run's tasks share."""
    board, bucket, gate = shared

    async def one_opening(task: TaskConfig, cookie: str, aim_ms: float) -> RunSummary:
        sniper = Sniper(
            task,
            console,
            clock=clock,
            cookie=cookie,
            clocks=board,
            bucket=bucket,
            gate=gate,
            aim_ms=aim_ms,
        )
        return await sniper.run()

    return Repeater(planned.task, planned.cookie, console, one_opening, clock=clock)
