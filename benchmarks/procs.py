"""Processes the benchmarks start: servers on free loopback ports, stopped by their own pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sniper.store.process import free_port


def wait_for_port(port: int, proc: subprocess.Popen[bytes], limit_s: float = 30.0) -> None:
    """Until something accepts on the port (bounded)."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("server did not come up")


@contextmanager
def running(
    cmd: list[str], port: int, *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process we started (in ``cwd``, with ``env`` added to ours); stopped by its pid
    with SIGTERM, then SIGKILL."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=cwd,
        env=None if env is None else {**os.environ, **env},
    )
    try:
        wait_for_port(port, proc)
        time.sleep(0.5)  # let every worker finish starting
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> int:
    """SIGTERM to a process we started (by its pid), SIGKILL if it lingers; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


__all__ = ["free_port", "running", "stop", "wait_for_port"]
