"""Notification channels against local receiving servers (HTTP and SMTP), over real sockets."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
import json
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pydantic
import pytest

from sniper.client.config import TaskConfig
from sniper.client.many import run_many
from sniper.client.notify import Channel, Notifier, unresolved_secret
from sniper.store.process import free_port
from tests.client.fault_server import FaultServer, ok
from tests.client.receiver import Receiver

adapter: pydantic.TypeAdapter[Channel] = pydantic.TypeAdapter(Channel)


async def deliver(spec: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Send one message through one channel."""
    return await Notifier([adapter.validate_python(spec)], lambda _: None).check(
        "sniper: order placed", 'task mum-eggs: order 2024 "quoted"'
    )


class TestPresets:
    """Method, path, headers and body of each preset, as its service expects them."""

    async def test_webhook(self) -> None:
        """A JSON body template with the title and message escaped into it."""
        async with Receiver() as r:
            result = await deliver(
                {
                    "type": "webhook",
                    "url": f"{r.url}/hook?x=1",
                    "headers": {"X-Token": "t"},
                    "body": '{"msgtype": "text", "content": "{message}"}',
                }
            )
        assert result == [("webhook", None)]
        [got] = r.got
        assert (got.method, got.target, got.headers["x-token"]) == ("POST", "/hook?x=1", "t")
        assert json.loads(got.body) == {
            "msgtype": "text",
            "content": 'task mum-eggs: order 2024 "quoted"',
        }

    async def test_bark_with_key_from_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """POST /{key}; the key read from the environment."""
        monkeypatch.setenv("BARK_KEY", "k3y")
        async with Receiver() as r:
            await deliver({"type": "bark", "key": "env:BARK_KEY", "url": r.url})
        [got] = r.got
        assert (got.method, got.target) == ("POST", "/k3y")
        assert json.loads(got.body)["title"] == "sniper: order placed"

    async def test_pushplus(self) -> None:
        """The token in the JSON body."""
        async with Receiver() as r:
            await deliver({"type": "pushplus", "token": "tok", "url": f"{r.url}/send"})
        [got] = r.got
        assert got.target == "/send"
        assert json.loads(got.body)["token"] == "tok"
        assert json.loads(got.body)["content"].startswith("task mum-eggs")

    async def test_serverchan(self, tmp_path: Path) -> None:
        """POST /{key}.send with title and desp; the key read from a file."""
        (tmp_path / "sct").write_text("SCT123\n")
        async with Receiver() as r:
            await deliver({"type": "serverchan", "key": f"file:{tmp_path}/sct", "url": r.url})
        [got] = r.got
        assert got.target == "/SCT123.send"
        assert set(json.loads(got.body)) == {"title", "desp"}

    async def test_dingtalk_signature(self) -> None:
        """access_token, timestamp and a signature that the robot's secret verifies."""
        async with Receiver() as r:
            before = int(time.time() * 1000)
            await deliver(
                {
                    "type": "dingtalk",
                    "access_token": "at",
                    "secret": "SECxyz",
                    "url": f"{r.url}/robot/send",
                }
            )
        [got] = r.got
        path, _, query = got.target.partition("?")
        params = dict(urllib.parse.parse_qsl(query))
        assert (path, params["access_token"]) == ("/robot/send", "at")
        stamp = int(params["timestamp"])
        assert before <= stamp <= before + 5000
        expected = base64.b64encode(
            hmac.new(b"SECxyz", f"{stamp}\nSECxyz".encode(), hashlib.sha256).digest()
        ).decode()
        assert params["sign"] == expected
        assert json.loads(got.body)["msgtype"] == "text"

    async def test_telegram(self) -> None:
        """POST /bot{token}/sendMessage with chat_id and text."""
        async with Receiver() as r:
            await deliver(
                {"type": "telegram", "bot_token": "123:ABC", "chat_id": "42", "url": r.url}
            )
        [got] = r.got
        assert got.target == "/bot123:ABC/sendMessage"
        assert json.loads(got.body)["chat_id"] == "42"

    async def test_smtp(self) -> None:
        """A mail through a local SMTP server (aiosmtpd)."""
        from aiosmtpd.controller import Controller
        from aiosmtpd.handlers import Message

        received: list[Any] = []

        class Keep(Message):
            def handle_message(self, message: Any) -> None:
                received.append(message)

        port = free_port()
        controller = Controller(Keep(), hostname="127.0.0.1", port=port)
        controller.start()
        try:
            result = await deliver(
                {
                    "type": "smtp",
                    "host": "127.0.0.1",
                    "port": port,
                    "starttls": False,
                    "from": "sniper@localhost",
                    "to": ["me@localhost"],
                }
            )
        finally:
            controller.stop()
        assert result == [("smtp", None)]
        [mail] = received
        assert mail["Subject"] == "sniper: order placed"
        assert "order 2024" in mail.get_payload()

    async def test_failing_channel_is_reported_not_fatal(self) -> None:
        """A 500 three times: an error for that channel; the others still go through."""
        async with Receiver(status=500) as bad, Receiver() as good:
            result = await Notifier(
                [
                    adapter.validate_python({"type": "webhook", "url": bad.url}),
                    adapter.validate_python({"type": "webhook", "url": good.url}),
                ],
                lambda _: None,
            ).check("t", "m")
        assert result[0][1] is not None
        assert "failed after 3 tries" in (result[0][1] or "")
        assert result[1] == ("webhook", None)
        assert len(bad.got) == 3


class TestMissingSecrets:
    """A secret that cannot be read is a mistake in the task: named, and never retried."""

    async def test_not_retried(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("SNIPER_TEST_NO_SUCH_TOKEN", raising=False)
        warned: list[str] = []
        [(kind, error)] = await Notifier(
            [
                adapter.validate_python(
                    {"type": "pushplus", "token": "env:SNIPER_TEST_NO_SUCH_TOKEN"}
                )
            ],
            warned.append,
        ).check("t", "m")
        assert (kind, error) == (
            "pushplus",
            "pushplus failed: notify.pushplus.token: "
            "environment variable SNIPER_TEST_NO_SUCH_TOKEN is not set",
        )
        assert warned == [f"notify: {error}"]

    def test_unresolved_secret_names_the_field(self, tmp_path: Path) -> None:
        channel = adapter.validate_python(
            {"type": "dingtalk", "access_token": "tok", "secret": f"file:{tmp_path}/missing"}
        )
        assert (unresolved_secret(channel) or "").startswith(
            f"notify.dingtalk.secret: cannot read {tmp_path}/missing"
        )
        (tmp_path / "missing").write_text("s3cret\n")
        assert unresolved_secret(channel) is None

    def test_optional_secret_absent(self) -> None:
        channel = adapter.validate_python(
            {"type": "smtp", "host": "127.0.0.1", "from": "a@b", "to": ["c@d"]}
        )
        assert unresolved_secret(channel) is None


async def test_a_hanging_channel_does_not_delay_firing(tmp_path: Path) -> None:
    """A webhook that never answers: one task's pre-flight failure goes to it a second before
    the opening and is still unanswered at the opening; the other task's burst leaves on time
    anyway. A send in the way would cost the channel's timeout (5 s); the gap allowed is 50 ms,
    so a loaded machine does not fail the test while a blocking send still would."""
    async with (
        FaultServer([ok("N1")], dead_cookies=frozenset({"session=dead"})) as server,
        Receiver(hang=True) as hook,
    ):
        opening_s = server.now_ms() / 1000 + 2.0
        tasks = [
            (
                TaskConfig.model_validate(
                    {
                        "name": name,
                        "base_url": server.url,
                        "sku_id": "eggs",
                        "cookie": cookie,
                        "target_time": datetime.fromtimestamp(opening_s, tz=UTC),
                        "concurrency": 2,
                        "preflight_s": 1.0,
                        "log_file": tmp_path / f"{name}.log",
                        "notify": [{"type": "webhook", "url": hook.url}],
                    }
                ),
                cookie,
            )
            for name, cookie in (("good", "session=fine"), ("stale", "session=dead"))
        ]
        code = await asyncio.wait_for(run_many(tasks, "en", stream=io.StringIO()), 30)
    assert code == 4  # stale: its cookie was refused at pre-flight; good: ordered
    hung = [r for r in hook.got if json.loads(r.body)["title"] == "sniper: pre-flight failed"]
    assert hung  # (a send that times out is tried again: more than one may arrive)
    assert hung[0].at < opening_s - 0.5  # sent well before the opening, never answered
    summary = next(
        json.loads(line)
        for line in (tmp_path / "good.log").read_text().splitlines()
        if json.loads(line)["event"] == "summary"
    )
    assert summary["result"] == "ordered"
    assert summary["order_id"] == "N1"
    assert summary["fire_late_ms"] < 50
