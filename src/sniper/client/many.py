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
from sniper.client.gate import FireGate
from sniper.client.platforms import platform_for
from sniper.client.policy import Result
from sniper.client.repeating import Repeater, Shared, sniper_runs
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
    outcomes = await asyncio.gather(
        *(
            _run_task(
                p,
                Console(p.task.lang, stream, prefix=f"[{p.task.name}] "),
                clock,
                Shared(board, buckets[p.host], gate),
            )
            for p in runnable
        )
    )
    # (Each run turns every failure into a result, so one task cannot end the others.)
    for p, (result, order_ids) in zip(runnable, outcomes, strict=True):
        console.say(
            "task_result",
            name=p.task.name,
            result=console.word(result.name.lower()),
            order_id=", ".join(order_ids) or "-",
        )
    return combined_exit([result for result, _ in outcomes])


async def _run_task(
    planned: Planned, console: Console, clock: Clock, shared: Shared
) -> tuple[Result, tuple[str, ...]]:
    """One task of the file: its one opening, or every opening of its schedule; the result
    and the orders it says."""
    runs = sniper_runs(console, clock, shared)
    if not planned.task.openings.repeats:
        summary = await runs(planned.task, planned.cookie, 0.0)
        return summary.result, summary.order_ids
    repeater = Repeater(planned.task, planned.cookie, console, runs, clock=clock)
    result = await repeater.run()
    return result, (repeater.order_id,) if repeater.order_id else ()
