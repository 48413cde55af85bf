"""A real ``sniper serve`` process on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

from sniper.store.process import free_port
from tests.conftest import ADMIN, ADMIN_TOKEN


class StoreProcess:
    """``sniper serve`` on a private SQLite file (or the ``store`` URL given, its log named after
    ``db``); ended only by its own pid (and its group)."""

    def __init__(
        self, db: Path, *, workers: int = 1, args: tuple[str, ...] = (), store: str | None = None
    ) -> None:
        self.db, self.workers, self.args = db, workers, args
        self.store = store or f"sqlite:///{db}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = db.with_suffix(f".{self.port}.log")
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout: float = 30.0) -> StoreProcess:
        """Start and wait (bounded) until /healthz answers."""
        self.start_async()
        return self.wait_ready(timeout)

    def start_async(self) -> None:
        """Start the process and return at once (several stores starting together)."""
        self._log = self.log_path.open("ab")
        cmd = [
            sys.executable,
            "-m",
            "sniper",
            "serve",
            "--port",
            str(self.port),
            "--store",
            self.store,
            "--admin-token",
            ADMIN_TOKEN,
            "--workers",
            str(self.workers),
            "--log-level",
            "warning",
            *self.args,
        ]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )

    def wait_ready(self, timeout: float = 30.0) -> StoreProcess:
        """Wait (bounded) until /healthz answers."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"store exited with {self.proc.returncode}: {self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"store did not come up: {self.log()}")

    def log(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, then wait for the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the process and the workers it started (its own process group)."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def close(self) -> None:
        """Stop whatever is still running: politely first."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.terminate(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        if self.proc is not None:
            # Workers of a group whose parent died must not outlive the test.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """A synchronous admin request."""
        return httpx.request(method, f"{self.url}{path}", headers=ADMIN, timeout=30, **kwargs)
