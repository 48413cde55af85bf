"""Several tasks in one file: parsing, the duplicate guard, shared clock and bucket, exit code."""

from __future__ import annotations

import asyncio
import io
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from sniper.client.config import TaskConfig, load_tasks
from sniper.client.many import combined_exit, plan_tasks, run_many, shared_buckets
from sniper.client.policy import Result
from sniper.errors import ConfigError
from tests.client.fault_server import FaultServer, Step

FILE = {
    "platform": "store",
    "base_url": "http://127.0.0.1:8000",
    "target_time": "2024-04-15T07:00:00+08:00",
    "concurrency": 2,
    "tasks": [
        {"name": "mum-eggs", "cookie": "session=mum", "sku_id": "eggs-30"},
        {"name": "me-milk", "cookie": "session=me", "sku_id": "milk-1l", "concurrency": 5},
        {"cookie": "session=me", "sku_id": "eggs-30"},
    ],
}


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    """A task file."""
    path = tmp_path / "tasks.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class TestParsing:
    """Top-level fields are defaults; each entry overrides what it names."""

    def test_defaults_and_overrides(self, tmp_path: Path) -> None:
        """Three tasks, names given or numbered, concurrency per task."""
        tasks = load_tasks(write(tmp_path, FILE))
        assert [(t.name, t.sku_id, t.concurrency) for t in tasks] == [
            ("mum-eggs", "eggs-30", 2),
            ("me-milk", "milk-1l", 5),
            ("task-3", "eggs-30", 2),
        ]
        assert all(t.base_url == "http://127.0.0.1:8000" for t in tasks)

    def test_flags_override_every_task(self, tmp_path: Path) -> None:
        """A flag is the highest layer, for all tasks."""
        tasks = load_tasks(write(tmp_path, FILE), {"concurrency": 1})
        assert {t.concurrency for t in tasks} == {1}

    @pytest.mark.parametrize(
        ("tasks", "message"),
        [
            ([], "tasks: must be a non-empty list"),
            ("eggs", "tasks: must be a non-empty list"),
            ([{"cookie": "session=a"}], "tasks.0.sku_id: Field required"),
            (
                [
                    {"name": "a", "sku_id": "x", "cookie": "session=a"},
                    {"name": "a", "sku_id": "y", "cookie": "session=b"},
                ],
                "a is used twice",
            ),
            ([{"sku_id": "x", "cookie": "session=a", "qty": 0}], "tasks.0.qty:"),
        ],
    )
    def test_errors_name_the_task_and_field(self, tmp_path: Path, tasks: Any, message: str) -> None:
        """One line naming tasks.N.field."""
        with pytest.raises(ConfigError, match=message):
            load_tasks(write(tmp_path, {**FILE, "tasks": tasks}))


def _task(name: str, cookie: str, sku: str, **extra: Any) -> tuple[TaskConfig, str]:
    task = TaskConfig.model_validate(
        {
            "name": name,
            "base_url": "http://127.0.0.1:8000",
            "sku_id": sku,
            "cookie": cookie,
            "target_time": datetime(2024, 4, 15, tzinfo=UTC),
            **extra,
        }
    )
    return task, cookie


def test_duplicate_guard() -> None:
    """The same account and item twice: the second is marked, the rest run."""
    planned = plan_tasks(
        [
            _task("a", "session=1", "eggs"),
            _task("b", "session=2", "eggs"),
            _task("c", "session=1", "eggs"),
            _task("d", "session=1", "milk"),
        ]
    )
    assert [p.duplicate_of for p in planned] == [None, None, "a", None]


@pytest.mark.parametrize(
    ("results", "code"),
    [
        ([Result.ORDERED, Result.ORDERED], 0),
        ([Result.ORDERED, Result.NOT_ORDERED], 3),
        ([Result.NOT_ORDERED, Result.FATAL], 1),
        ([Result.FATAL, Result.AUTH_FAILED, Result.ORDERED], 4),
        ([Result.NOT_ORDERED, Result.BAD_TASK, Result.FATAL], 2),
    ],
)
def test_combined_exit_code(results: list[Result], code: int) -> None:
    """0 only if every task ordered; otherwise the most telling failure."""
    assert combined_exit(results) == code


def test_shared_bucket_is_as_strict_as_the_strictest_task() -> None:
    """One bucket per host, with the lowest rate and burst among its tasks."""
    planned = plan_tasks(
        [
            _task("a", "session=1", "eggs", retry={"rate_per_s": 5, "burst": 5}),
            _task("b", "session=2", "eggs", retry={"rate_per_s": 2, "burst": 8}),
        ]
    )
    [(host, bucket)] = shared_buckets(planned, 0.0).items()
    assert (host, bucket.rate, bucket.burst) == ("127.0.0.1:8000", 2, 5)


async def test_tasks_share_one_bucket_and_one_clock(tmp_path: Path) -> None:
    """Three tasks against a server that always answers 503: together they send no more
    retries than one bucket allows, and the clock is measured once for all of them."""
    async with FaultServer([Step(503)]) as server:
        target = datetime.fromtimestamp(server.now_ms() / 1000 + 0.6, tz=UTC).isoformat()
        tasks = [
            _task(
                f"t{i}",
                f"session=user{i}",
                "eggs",
                base_url=server.url,
                concurrency=1,
                target_time=target,
                log_file=str(tmp_path / f"t{i}.log"),
                timeout_s=1.0,
                retry={"window_s": 2.0, "rate_per_s": 5, "burst": 1},
            )
            for i in range(3)
        ]
        started = time.monotonic()
        code = await asyncio.wait_for(run_many(tasks, "en"), 30)
        assert time.monotonic() - started < 10
    assert code == 3
    posts = len(server.orders)
    # 3 first shots, then one bucket for all: burst 1 + 5/s over a 2 s window (+1 for edges).
    assert 3 < posts <= 3 + 1 + 5 * 2 + 1
    time_calls = [r for r in server.requests if r.path == "/api/time"]
    assert len(time_calls) <= 8 + 3  # one measurement of 8 samples, plus one warm-up each


async def test_preflight_failure_is_pushed_before_the_opening(tmp_path: Path) -> None:
    """Two tasks, one with a dead session, preflight_s 1: a notification about it arrives
    before the opening, that task ends with 4, and the other still orders."""
    from tests.client.fault_server import ok
    from tests.client.receiver import Receiver

    async with (
        FaultServer([ok("P1")], dead_cookies=frozenset({"session=dead"})) as server,
        Receiver() as hook,
    ):
        opening_s = server.now_ms() / 1000 + 2.5
        target = datetime.fromtimestamp(opening_s, tz=UTC).isoformat()
        tasks = [
            _task(
                name,
                cookie,
                "eggs",
                base_url=server.url,
                target_time=target,
                preflight_s=1.0,
                log_file=str(tmp_path / f"{name}.log"),
                notify=[{"type": "webhook", "url": hook.url}],
            )
            for name, cookie in (("good", "session=fine"), ("stale", "session=dead"))
        ]
        out = io.StringIO()
        code = await asyncio.wait_for(run_many(tasks, "en", stream=out), 30)
    arrived = {json.loads(r.body)["title"]: r.at for r in hook.got}
    assert code == 4
    assert (
        "[stale]   the store does not know this session (expired or logged out); the store "
        "says: " in out.getvalue()
    )
    assert "[good]   hint" not in out.getvalue()
    assert arrived["sniper: pre-flight failed"] < opening_s - 0.5  # the server's clock is ours
    assert arrived["sniper: order placed"] >= opening_s
    messages = [json.loads(r.body)["message"] for r in hook.got]
    assert any(m.startswith("task stale:") for m in messages)
    assert any(m.startswith("task good: order P1") for m in messages)
    first = hook.got[0]
    assert json.loads(first.body)["title"] == "sniper: pre-flight failed"
