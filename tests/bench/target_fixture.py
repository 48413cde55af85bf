"""The seckill target (``seckill_target.py``) as a process for the tests: on a free loopback
port, its users file and a bench file for it in the test's folder, stopped by its own pid."""

from __future__ import annotations

import contextlib
import csv
import os
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import httpx

from sniper.store.process import free_port

SCRIPT = Path(__file__).with_name("seckill_target.py")

#: The keys DESIGN.md promises in ``sniper bench --json``.
DESIGN_KEYS = frozenset(
    {
        "requests",
        "ok",
        "sold_out",
        "errors",
        "oversold",
        "undersold",
        "duplicates",
        "sold_out_after_ms",
        "fairness",
        "latency_ms",
        "spread_ms",
        "first_send_server_ms",
    }
)


def run_sniper(*args: str) -> subprocess.CompletedProcess[str]:
    """``sniper ARGS`` as a user runs it (bounded), its table's lines unwrapped."""
    return subprocess.run(
        [sys.executable, "-m", "sniper", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


#: The bench file of DESIGN.md ("`sniper bench` on any shop"), for this target.
BENCH_FILE = string.Template("""\
request:
  method: POST
  url: "$url/seckill"
  headers: {Authorization: "Bearer {token}", Content-Type: application/json}
  body: '{"user":"{user}","sku":"$sku","rid":"{request_id}"}'
rules:
  success_status: [200]
  order_id: [{json: order}]
  sold_out: [{json: err, equals: sold_out}]
  limit_reached: [{json: err, equals: limit}]
users: $users
stock: $stock
""")
COUNT = string.Template('count: {url: "$url/count?sku=$sku", json: sold}\n')
CLOCK = string.Template('clock: {url: "$url/time", json: now_ms, unit: ms}\n')


class SeckillTarget:
    """``seckill_target.py`` in ``mode`` with ``stock`` units of ``sku`` and ``users`` users
    (plus a second session for the first ``duplicate_buyers``), its files in ``folder``."""

    def __init__(
        self,
        folder: Path,
        *,
        mode: str = "ok",
        stock: int = 10,
        users: int = 20,
        duplicate_buyers: int = 0,
        sku: str = "S1",
    ) -> None:
        self.folder, self.mode, self.stock, self.sku = folder, mode, stock, sku
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.users_file = folder / f"users-{self.port}.csv"
        self.log_path = folder / f"target-{self.port}.log"
        self._args = [
            *("--port", str(self.port), "--stock", str(stock), "--mode", mode, "--sku", sku),
            *("--users", str(users), "--users-out", str(self.users_file)),
            *("--duplicate-buyers", str(duplicate_buyers)),
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, timeout_s: float = 15.0) -> SeckillTarget:
        """Start the process and wait (bounded) until it answers ``GET /time``."""
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(SCRIPT), *self._args], stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the target exited with {self.proc.returncode}: {self.log()}")
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"{self.url}/time", timeout=1).raise_for_status()
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the target did not answer in {timeout_s} s: {self.log()}")

    def stop(self) -> None:
        """SIGTERM to our process (by its pid), SIGKILL if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self._log is not None:
            self._log.close()

    def log(self) -> str:
        """What the process printed so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def users(self) -> list[tuple[str, str]]:
        """The users file's ``(user, token)`` rows, in order."""
        with self.users_file.open(newline="") as rows:
            return [(row["user"], row["token"]) for row in csv.DictReader(rows)]

    def get(self, path: str) -> Any:
        """``GET path`` on the target, its JSON."""
        response = httpx.get(f"{self.url}{path}", timeout=10)
        response.raise_for_status()
        return response.json()

    def sold(self) -> int:
        """The target's own count of units sold."""
        return int(self.get(f"/count?sku={self.sku}")["sold"])

    def arrivals(self) -> list[tuple[str | None, float]]:
        """Every order request's ``(user, receive time)`` on the target's clock (epoch ms), in
        arrival order."""
        return [(a["user"], a["ms"]) for a in self.get("/arrivals")["arrivals"]]

    def write_bench(
        self, folder: Path, *, count: bool = True, clock: bool = True, stock: int | None = None
    ) -> Path:
        """A bench file for this target in ``folder`` (``count:`` and ``clock:`` optional;
        ``stock`` the declared one, the target's by default); its path."""
        fields = {"url": self.url, "sku": self.sku, "users": self.users_file}
        text = BENCH_FILE.substitute(fields, stock=self.stock if stock is None else stock)
        text += COUNT.substitute(fields) if count else ""
        text += CLOCK.substitute(fields) if clock else ""
        path = folder / f"bench-{self.port}.yaml"
        path.write_text(text)
        return path
