"""A real ``sniper run`` process against a real hostile server on loopback: bounded memory
(peak RSS from the kernel's own account of the child), one clear line, the documented exit
code, and SIGTERM honoured, whatever the server sends."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.client.fault_server import FaultServer, Step, ok

COOKIE = "session=hostile-test-cookie-0123456789"
MAX_RSS_MB = 200


@contextmanager
def serving(server: FaultServer) -> Iterator[FaultServer]:
    """Run the fault server on its own event loop in a thread while the block runs."""
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()

    async def main() -> None:
        async with server:
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    try:
        assert ready.wait(10), "the fault server did not start"
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@dataclass(frozen=True)
class Finished:
    """How a sniper process ended."""

    code: int
    out: str
    err: str
    peak_rss_mb: float
    stopped_in_s: float | None  # from SIGTERM to exit


def _high_water_kb(pid: int) -> int:
    """The process's peak resident memory so far, in kB (0 once it is gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
    return int(found.group(1)) if found else 0


def run_sniper(task: Path, *, term_after_s: float | None = None, limit_s: float = 60.0) -> Finished:
    """``sniper run TASK``; SIGTERM after ``term_after_s`` if given; killed after
    ``limit_s``. The peak RSS is the kernel's high-water mark of the program itself
    (``VmHWM``, read while it runs): ``wait4``'s counts the test process's own memory from
    before the ``exec``, which grows with the suite."""
    cwd = task.parent
    with (cwd / "out.txt").open("w") as out, (cwd / "err.txt").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sniper", "run", str(task)], stdout=out, stderr=err, cwd=cwd
        )
    started = time.monotonic()
    signalled: float | None = None
    peak_kb = 0
    while True:
        peak_kb = max(peak_kb, _high_water_kb(proc.pid))
        pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        now = time.monotonic()
        if term_after_s is not None and signalled is None and now - started >= term_after_s:
            proc.send_signal(signal.SIGTERM)
            signalled = now
        if now - started > limit_s:
            proc.kill()
            pid, status, _ = os.wait4(proc.pid, 0)
            break
        time.sleep(0.02)
    ended = time.monotonic()
    proc.returncode = os.waitstatus_to_exitcode(status)
    finished = Finished(
        proc.returncode,
        (cwd / "out.txt").read_text(),
        (cwd / "err.txt").read_text(),
        peak_kb / 1024,
        None if signalled is None else ended - signalled,
    )
    print(
        f"\n{task.parent.name}: exit {finished.code}, peak RSS {finished.peak_rss_mb:.1f} MB"
        + ("" if signalled is None else f", stopped {finished.stopped_in_s:.3f} s after TERM")
    )
    return finished


def task_file(
    server: FaultServer,
    tmp_path: Path,
    *,
    target: datetime | None = None,
    window_s: float = 2.0,
    extra: str = "",
) -> Path:
    """A store task aimed at the fault server, opening 3 s from now unless told."""
    target = target or datetime.fromtimestamp(server.now_ms() / 1000 + 3, tz=UTC)
    path = tmp_path / "task.yaml"
    path.write_text(
        f'platform: store\nbase_url: "{server.url}"\ncookie: "{COOKIE}"\n'
        f'sku_id: eggs\ntarget_time: "{target.isoformat()}"\n'
        f'log_file: "{tmp_path}/s.log"\nconcurrency: 2\ntimeout_s: 2\n'
        f"retry: {{window_s: {window_s}, rate_per_s: 5, burst: 2}}\n{extra}"
    )
    return path


@pytest.mark.parametrize(
    ("time_body", "shown"),
    [
        (b'{"now_ms": -99999999999999}', "(-99999999999999)"),
        (b'{"now_ms": true}', "(True)"),
    ],
)
def test_nonsense_time_is_one_line_and_exit_1(tmp_path: Path, time_body: bytes, shown: str) -> None:
    """A time endpoint that answers nonsense: exit 1 at once, one line naming the server,
    nothing ordered, a small process."""
    with serving(FaultServer([ok()], time_body=time_body)) as server:
        done = run_sniper(task_file(server, tmp_path))
        where = server.url.removeprefix("http://")
    assert done.code == 1, done.out + done.err
    [line] = [ln for ln in done.out.splitlines() if ln.startswith("✗")]
    assert f"server {where}: the time endpoint gave no usable now_ms {shown}" in line
    assert "Traceback" not in done.err
    assert server.orders == []
    assert done.peak_rss_mb < MAX_RSS_MB


def test_an_opening_in_2999_waits_small_and_stops_on_sigterm(tmp_path: Path) -> None:
    """target_time in 2999: the wait costs no memory, and SIGTERM ends it at once (143)."""
    with serving(FaultServer([ok()])) as server:
        task = task_file(server, tmp_path, target=datetime(2999, 1, 1, tzinfo=UTC))
        done = run_sniper(task, term_after_s=4.0)
    assert done.code == 143, done.out + done.err
    assert "opening at 2999-01-01T00:00:00+00:00" in done.out
    assert done.stopped_in_s is not None
    assert done.stopped_in_s < 2.0
    assert done.peak_rss_mb < MAX_RSS_MB


@pytest.mark.parametrize(
    "step",
    [Step(201, endless=True), Step(201, length=100_000_000)],
    ids=["endless-chunked", "100MB-content-length"],
)
def test_an_endless_answer_costs_no_memory(tmp_path: Path, step: Step) -> None:
    """A 201 whose body never ends (or is 100 MB): each answer cut at 64 KiB, no order id in
    it, so no order: exit 3 when the window closes; a small process."""
    with serving(FaultServer([step])) as server:
        done = run_sniper(task_file(server, tmp_path))
    assert done.code == 3, done.out + done.err
    assert "✗ retry window over: no order placed" in done.out
    assert len(server.orders) >= 2
    assert done.peak_rss_mb < MAX_RSS_MB


def test_sigterm_while_an_endless_answer_arrives(tmp_path: Path) -> None:
    """SIGTERM in the middle of the burst, every connection reading an endless answer."""
    with serving(FaultServer([Step(201, endless=True)])) as server:
        done = run_sniper(task_file(server, tmp_path, window_s=60.0), term_after_s=5.0)
    assert done.code == 143, done.out + done.err
    assert done.stopped_in_s is not None
    assert done.stopped_in_s < 2.0
    assert done.peak_rss_mb < MAX_RSS_MB


def test_sigterm_while_a_push_service_hangs(tmp_path: Path) -> None:
    """The "stopped" notification goes to a webhook that never answers: SIGTERM still ends
    the run within a second or so (the drain is cut short), exit 143."""
    with (
        serving(FaultServer([ok()])) as server,
        serving(FaultServer([Step(200, hang=True)])) as hook,
    ):
        hook_line = f'notify: [{{type: webhook, url: "{hook.url}/api/orders"}}]\n'
        task = task_file(server, tmp_path, target=datetime(2999, 1, 1, tzinfo=UTC), extra=hook_line)
        done = run_sniper(task, term_after_s=4.0)
        told = len(hook.orders)
    assert done.code == 143, done.out + done.err
    assert told == 1  # the webhook was asked
    assert done.stopped_in_s is not None
    assert done.stopped_in_s < 2.0
