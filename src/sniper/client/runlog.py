"""The run's JSON Lines log: one line per attempt, then one summary line.

Response headers are kept except ``Set-Cookie``; the cookie never appears: every value of it is
replaced wherever it shows (a server may echo it in a header or an error). The files are the
user's alone (0600), rotated ones too.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sniper.client.connection import Response
from sniper.client.scrub import Secrets, log_line
from sniper.files import PRIVATE, open_private

_SECRET_HEADERS = frozenset({"set-cookie", "cookie", "authorization"})


@dataclass(frozen=True, slots=True)
class Attempt:
    """One request of the burst or a retry, and what came of it."""

    seq: int
    attempt: int
    #: The flow step it was ("" for a one-request order).
    step: str
    sent_server_ms: float
    latency_ms: float | None
    response: Response | None
    outcome: str
    order_id: str | None
    detail: str


class RunLog:
    """Appends JSON lines to ``path``; flushed after every line."""

    def __init__(
        self,
        path: Path,
        task: str,
        *,
        max_bytes: int = 10_000_000,
        keep: int = 3,
        secrets: Secrets | None = None,
    ) -> None:
        self.path, self.task = path, task
        self.secrets = secrets or Secrets()
        self.max_bytes, self.keep = max_bytes, keep
        self._file: IO[str] | None = None
        self.attempts = 0
        self.failed = False

    def open(self) -> None:
        """Open (and create) the file now; OSError if it cannot be written. Several tasks may
        share one file: if another one rotated it away, this one follows to the new file."""
        if self._file is not None and not self._still_ours():
            self._file.close()
            self._file = None
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = open_private(self.path, os.O_WRONLY | os.O_APPEND)
            self._file = os.fdopen(fd, "a", encoding="utf-8")

    def _still_ours(self) -> bool:
        assert self._file is not None
        try:
            return os.stat(self.path).st_ino == os.fstat(self._file.fileno()).st_ino
        except OSError:
            return False

    def _rotate_if_full(self) -> None:
        """Past ``max_bytes``: ``sniper.log`` → ``.1`` → ``.2`` …, keeping ``keep`` old files."""
        try:
            size = os.stat(self.path).st_size  # the file's, not this handle's: it may be shared
        except OSError:
            return
        if self._file is None or size < self.max_bytes:
            return
        self._file.close()
        self._file = None
        for n in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n}")
            if older.exists():
                newer = self.path.with_name(f"{self.path.name}.{n + 1}")
                older.replace(newer)
                newer.chmod(PRIVATE)
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))

    def _write(self, record: dict[str, Any]) -> None:
        try:
            self.open()
            assert self._file is not None
            line = json.dumps(self.secrets.scrub(record), ensure_ascii=False)
            self._file.write(log_line(line) + "\n")
            self._file.flush()
            self._rotate_if_full()
        except OSError as exc:  # a full disk must not cost the order: say it once, go on
            if not self.failed:
                self.failed = True
                print(
                    f"sniper: log_file: cannot write {self.path}: {exc.strerror}", file=sys.stderr
                )

    def attempt(self, record: Attempt) -> None:
        """One request and what came of it."""
        self.attempts += 1
        response = record.response
        headers = (
            {}
            if response is None
            else {k: v for k, v in response.headers if k not in _SECRET_HEADERS}
        )
        self._write(
            {
                "event": "attempt",
                "task": self.task,
                "seq": record.seq,
                "attempt": record.attempt,
                **({"step": record.step} if record.step else {}),
                "sent_server_ms": round(record.sent_server_ms, 3),
                "latency_ms": None if record.latency_ms is None else round(record.latency_ms, 3),
                "status": None if response is None else response.status,
                "outcome": record.outcome,
                "order_id": record.order_id,
                "detail": record.detail,
                "headers": headers,
                **({"body_cut_at": len(response.body)} if response and response.truncated else {}),
            }
        )

    def event(self, kind: str, **fields: Any) -> None:
        """Something that happened before the opening (a pre-flight check, say)."""
        self._write({"event": kind, "task": self.task, **fields})

    def summary(self, **fields: Any) -> None:
        """The final line."""
        self._write({"event": "summary", "task": self.task, "attempts": self.attempts, **fields})

    def close(self) -> None:
        """Flush and close."""
        if self._file is not None:
            self._file.close()
            self._file = None
