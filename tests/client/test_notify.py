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
from sniper.client.console import Console
from sniper.client.engine import Sniper
from sniper.client.notify import Channel, Notifier
from sniper.store.process import free_port
from tests.client.fault_server import FaultServer, ok
from tests.client.receiver import Receiver

adapter: pydantic.TypeAdapter[Channel] = pydantic.TypeAdapter(Channel)


async def deliver(spec: dict[str, Any]) -> list[tuple[str, str | None]]:
    """Send one message through one channel."""
    return await Notifier([adapter.validate_python(spec)], lambda _: None).check(
        "sniper: order placed", "task mum-eggs: order 2024 \"quoted\"")


class TestPresets:
    """Method, path, headers and body of each preset, as its service expects them."""

    async def test_webhook(self) -> None:
        """A JSON body template with the title and message escaped into it."""
        async with Receiver() as r:
            result = await deliver({"type": "webhook", "url": f"{r.url}/hook?x=1",
                                    "headers": {"X-Token": "t"},
                                    "body": '{"msgtype": "text", "content": "{message}"}'})
        assert result == [("webhook", None)]
        [got] = r.got
        assert (got.method, got.target, got.headers["x-token"]) == ("POST", "/hook?x=1", "t")
        assert json.loads(got.body) == {"msgtype": "text",
                                        "content": 'task mum-eggs: order 2024 "quoted"'}

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
            await deliver({"type": "dingtalk", "access_token": "at", "secret": "SECxyz",
                           "url": f"{r.url}/robot/send"})
        [got] = r.got
        path, _, query = got.target.partition("?")
        params = dict(urllib.parse.parse_qsl(query))
        assert (path, params["access_token"]) == ("/robot/send", "at")
        stamp = int(params["timestamp"])
        assert before <= stamp <= before + 5000
        expected = base64.b64encode(hmac.new(b"SECxyz", f"{stamp}\nSECxyz".encode(),
                                             hashlib.sha256).digest()).decode()
        assert params["sign"] == expected
        assert json.loads(got.body)["msgtype"] == "text"

    async def test_telegram(self) -> None:
        """POST /bot{token}/sendMessage with chat_id and text."""
        async with Receiver() as r:
            await deliver({"type": "telegram", "bot_token": "123:ABC", "chat_id": "42",
                           "url": r.url})
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
            result = await deliver({"type": "smtp", "host": "127.0.0.1", "port": port,
                                    "starttls": False, "from": "sniper@localhost",
                                    "to": ["me@localhost"]})
        finally:
            controller.stop()
        assert result == [("smtp", None)]
        [mail] = received
        assert mail["Subject"] == "sniper: order placed"
        assert "order 2024" in mail.get_payload()

    async def test_failing_channel_is_reported_not_fatal(self) -> None:
        """A 500 three times: an error for that channel; the others still go through."""
        async with Receiver(status=500) as bad, Receiver() as good:
            result = await Notifier([
                adapter.validate_python({"type": "webhook", "url": bad.url}),
                adapter.validate_python({"type": "webhook", "url": good.url}),
            ], lambda _: None).check("t", "m")
        assert result[0][1] is not None
        assert "failed after 3 tries" in (result[0][1] or "")
        assert result[1] == ("webhook", None)
        assert len(bad.got) == 3


async def test_a_hanging_channel_does_not_delay_firing(tmp_path: Path) -> None:
    """A webhook that never answers: the order is placed, and the burst leaves on time."""
    async with FaultServer([ok("N1")]) as server, Receiver(hang=True) as hook:
        target = datetime.fromtimestamp(server.now_ms() / 1000 + 0.8, tz=UTC)
        task = TaskConfig.model_validate({
            "base_url": server.url, "sku_id": "eggs", "target_time": target,
            "cookie": "session=c", "log_file": tmp_path / "n.log", "concurrency": 2,
            "notify": [{"type": "webhook", "url": hook.url}]})
        sniper = Sniper(task, Console("en", io.StringIO()))
        sniper.notifier.drain_s = 0.5
        summary = await asyncio.wait_for(sniper.run(), 20)
    assert summary.order_id == "N1"
    assert sniper.fire_late_ms < 2.0
    assert len(hook.got) == 1  # the "order placed" message went out (and hung)
