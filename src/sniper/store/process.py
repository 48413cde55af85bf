"""A store in a child process, for ``sniper demo``: started on a free loopback port, stopped by
its own pid."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from sniper.errors import SniperError


class StoreDidNotStart(SniperError):
    """The child store exited or did not answer in time."""


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def child_store(
    db: Path,
    admin_token: str,
    *,
    extra: tuple[str, ...] = (),
    log: Path | None = None,
    start_timeout_s: float = 30.0,
) -> AsyncIterator[str]:
    """Run ``sniper serve`` on ``db``; yields its URL; SIGTERM (then SIGKILL) on the way out."""
    port = free_port()
    env = {**os.environ, "SNIPER_ADMIN_TOKEN": admin_token}  # not on the command line
    out = log.open("wb") if log is not None else subprocess.DEVNULL
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "sniper",
        "serve",
        "--port",
        str(port),
        "--store",
        f"sqlite:///{db}",
        "--log-level",
        "warning",
        *extra,
        stdout=out,
        stderr=subprocess.STDOUT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await _wait_healthy(url, proc, start_timeout_s)
        yield url
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(10):
                    await proc.wait()
            except TimeoutError:
                proc.kill()
                async with asyncio.timeout(5):
                    await proc.wait()
        if log is not None and not isinstance(out, int):
            out.close()


async def _wait_healthy(url: str, proc: asyncio.subprocess.Process, limit_s: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=1.0) as client:
        for _ in range(int(limit_s / 0.05)):
            if proc.returncode is not None:
                raise StoreDidNotStart(f"the store exited with code {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise StoreDidNotStart(f"the store did not answer within {limit_s:g} s")
