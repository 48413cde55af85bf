"""A private PostgreSQL server for the tests: ``initdb`` into a temporary directory, the server on a
free loopback port and a private Unix socket directory, trust authentication, one database; stopped
(fast shutdown) by its pid and its directory removed on exit.

The binaries are found on PATH or in Debian's ``/usr/lib/postgresql/<version>/bin`` (not on PATH
after ``apt-get install postgresql``). PostgreSQL refuses to run as root: as root, the server runs
as the unprivileged ``postgres`` account that Debian's package creates, and owns its directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import asyncpg

from sniper.store.process import free_port

T = TypeVar("T")

#: The account the server runs as when the tests run as root.
SERVER_ACCOUNT = "postgres"
USER = "sniper"
DATABASE = "sniper"

#: Server settings for tests. fsync and synchronous_commit stay on: the tests prove that an
#: acknowledged order survives an immediate stop, which ``synchronous_commit=off`` would break
#: (commits acknowledged before their WAL is written), and on this hardware they cost the tests
#: little (benchmarks/README.md, "A private PostgreSQL").
SETTINGS = {
    "fsync": "on",
    "synchronous_commit": "on",
    "shared_buffers": "16MB",
    "max_connections": "200",
    "listen_addresses": "127.0.0.1",
    "log_min_messages": "warning",
}

#: Signals for pg_ctl's shutdown modes: fast (roll back, checkpoint, exit) and immediate (exit at
#: once; crash recovery at the next start).
_STOP_SIGNALS = {"fast": signal.SIGINT, "immediate": signal.SIGQUIT}


def bin_dir() -> Path:
    """The directory that holds ``initdb`` and ``postgres``: PATH's (symlinks resolved), else the
    newest ``/usr/lib/postgresql/<version>/bin``; raises if there is none."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise RuntimeError(
            "no PostgreSQL server: initdb is neither on PATH nor in /usr/lib/postgresql/*/bin "
            "(Debian: apt-get install postgresql)"
        )
    return versions[-1].parent


def _account() -> pwd.struct_passwd | None:
    """The account to run the server as: ``postgres`` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_ACCOUNT)
    except KeyError:
        raise RuntimeError(
            f"running as root and no {SERVER_ACCOUNT!r} account to run PostgreSQL as "
            "(Debian's postgresql package creates it)"
        ) from None


@dataclass
class PgServer:
    """One private server: its directory, port and process; ``url`` is what a store is given."""

    root: Path
    port: int
    bins: Path
    account: pwd.struct_passwd | None
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    @property
    def sockets(self) -> Path:
        """The private Unix socket directory (``host=`` for libpq)."""
        return self.root / "sockets"

    @property
    def url(self) -> str:
        """``postgresql://sniper@127.0.0.1:PORT/sniper`` (trust authentication, no password)."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def _run(self, *cmd: str) -> None:
        """Runs one of the server's tools as the server's account; raises with its output."""
        uid, gid, groups = self._as_account()
        done = subprocess.run(
            cmd,
            capture_output=True,
            check=False,
            cwd=self.root,
            user=uid,
            group=gid,
            extra_groups=groups,
        )
        if done.returncode != 0:
            output = (done.stdout + done.stderr).decode(errors="replace").strip()
            raise RuntimeError(f"{Path(cmd[0]).name} failed ({done.returncode}): {output}")

    def _as_account(self) -> tuple[int | None, int | None, list[int] | None]:
        # Popen switches the user itself (as ``runuser -u postgres --`` would), so that the pid
        # we signal is the server's own, with no wrapper process between us and it.
        if self.account is None:
            return None, None, None
        return self.account.pw_uid, self.account.pw_gid, []

    def init(self) -> None:
        """``initdb``: a new cluster, its superuser ``sniper``, trust authentication, UTF-8."""
        self._run(
            str(self.bins / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            USER,
            "--auth",
            "trust",
            "--encoding",
            "UTF8",
            "--locale",
            "C",
            "--no-sync",  # a test cluster need not survive a power cut during its own creation
            "--no-instructions",
        )

    def start(self, timeout_s: float = 30.0) -> None:
        """Starts the server and waits (bounded) until it accepts connections on its port."""
        options = [f"-c{key}={value}" for key, value in SETTINGS.items()]
        cmd = [
            str(self.bins / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            f"-cunix_socket_directories={self.sockets}",
            *options,
        ]
        uid, gid, groups = self._as_account()
        log = (self.root / "server.log").open("ab")
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                user=uid,
                group=gid,
                extra_groups=groups,
            )
        finally:
            log.close()
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"postgres exited with {self.proc.returncode}: {self.log_tail()}"
                )
            ready = subprocess.run(
                [str(self.bins / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.05)
        raise RuntimeError(f"postgres did not accept connections in {timeout_s} s")

    def stop(self, mode: Literal["fast", "immediate"] = "fast", timeout_s: float = 30.0) -> None:
        """Stops the server it started (by that pid only): ``fast`` as ``pg_ctl stop -m fast``,
        ``immediate`` as ``-m immediate``; killed if it has not exited after ``timeout_s``."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(_STOP_SIGNALS[mode])
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log (for error messages)."""
        path = self.root / "server.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def pg_server() -> Iterator[PgServer]:
    """A private server with an empty database ``sniper``, running until the block ends; then
    stopped (fast) and its directory removed."""
    account = _account()
    root = Path(tempfile.mkdtemp(prefix="sniper-pg-"))
    try:
        (root / "sockets").mkdir()
        if account is not None:
            for path in (root, root / "sockets"):
                os.chown(path, account.pw_uid, account.pw_gid)
        server = PgServer(root=root, port=free_port(), bins=bin_dir(), account=account)
        server.init()
        try:
            server.start()
            server._run(
                str(server.bins / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(server.port),
                "-U",
                USER,
                DATABASE,
            )
            yield server
        finally:
            server.stop("fast")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_sync(call: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on a loop of its own, in a thread of its own: callable from
    plain code and from inside a running event loop (an async test) alike."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, call).result()


async def _empty(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        # A store a test left running (or killed) must not hold the tables: its sessions go.
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    finally:
        await conn.close()


def empty(url: str) -> None:
    """Drop everything in the database's ``public`` schema (the store makes its tables again)."""
    run_sync(_empty(url))
