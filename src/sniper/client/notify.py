"""Push messages when something happens: a generic webhook, presets for Bark, PushPlus,
ServerChan, a DingTalk robot (signed), a Telegram bot, and e-mail over SMTP (STARTTLS).

Sending never delays firing: every message goes out in a background task, bounded in time and
retried a little; a failing channel is reported on the console, never fatal. Secrets (keys,
tokens, passwords) are written ``env:NAME`` or ``file:PATH`` to keep them out of the task file,
and are never printed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import smtplib
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

from sniper.errors import ConfigError

_SEND_TIMEOUT_S, _TRIES = 5.0, 3


def secret(value: str, field: str) -> str:
    """A secret's value: literal, ``env:NAME`` or ``file:PATH``."""
    if value.startswith("env:"):
        found = os.environ.get(value[4:])
        if not found:
            raise ConfigError(f"{field}: environment variable {value[4:]} is not set")
        return found
    if value.startswith("file:"):
        try:
            return Path(value[5:]).read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{field}: cannot read {value[5:]}: {exc.strerror}") from None
    return value


class _Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    #: The fields that may be ``env:NAME`` or ``file:PATH``.
    secret_fields: ClassVar[tuple[str, ...]] = ()

    def secret_of(self, field: str) -> str:
        """A secret field's value, resolved; ConfigError naming ``notify.TYPE.FIELD``."""
        return secret(getattr(self, field), f"notify.{self.type}.{field}")


def unresolved_secret(channel: Channel) -> str | None:
    """Why one of the channel's secrets cannot be resolved now (the first), or None."""
    for field in channel.secret_fields:
        if getattr(channel, field) is None:
            continue
        try:
            channel.secret_of(field)
        except ConfigError as exc:
            return str(exc)
    return None


class Webhook(_Channel):
    """Any HTTP endpoint; ``{title}`` and ``{message}`` are filled into the body (JSON-escaped)."""

    type: Literal["webhook"]
    url: str
    method: str = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    body: str = '{"title": "{title}", "message": "{message}"}'


class Bark(_Channel):
    """Bark (iOS): ``POST {url}/{key}``."""

    secret_fields = ("key",)
    type: Literal["bark"]
    key: str
    url: str = "https://api.day.app"


class PushPlus(_Channel):
    """PushPlus (WeChat)."""

    secret_fields = ("token",)
    type: Literal["pushplus"]
    token: str
    url: str = "https://www.pushplus.plus/send"


class ServerChan(_Channel):
    """ServerChan (WeChat): ``POST {url}/{key}.send``."""

    secret_fields = ("key",)
    type: Literal["serverchan"]
    key: str
    url: str = "https://sctapi.ftqq.com"


class DingTalk(_Channel):
    """A DingTalk group robot, signed with its secret (HMAC-SHA256 of ``timestamp\\nsecret``)."""

    secret_fields = ("access_token", "secret")
    type: Literal["dingtalk"]
    access_token: str
    secret: str
    url: str = "https://oapi.dingtalk.com/robot/send"


class Telegram(_Channel):
    """A Telegram bot: ``POST {url}/bot{token}/sendMessage``."""

    secret_fields = ("bot_token",)
    type: Literal["telegram"]
    bot_token: str
    chat_id: str
    url: str = "https://api.telegram.org"


class Smtp(_Channel):
    """E-mail over SMTP; STARTTLS unless ``starttls: false`` (a local relay)."""

    secret_fields = ("password",)
    type: Literal["smtp"]
    host: str
    port: int = 587
    starttls: bool = True
    user: str | None = None
    password: str | None = None
    sender: str = Field(alias="from")
    to: list[str]
    ca_file: Path | None = None


Channel = Annotated[
    Webhook | Bark | PushPlus | ServerChan | DingTalk | Telegram | Smtp, Field(discriminator="type")
]


@dataclass(frozen=True)
class HttpPush:
    """What one channel sends over HTTP."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes


def _json(data: dict[str, Any]) -> HttpPush:
    return HttpPush(
        "POST",
        "",
        {"Content-Type": "application/json"},
        json.dumps(data, ensure_ascii=False).encode(),
    )


def http_push(
    channel: Channel,
    title: str,
    message: str,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
) -> HttpPush:
    """The request a channel makes (pure but for resolving its secrets)."""
    if isinstance(channel, Webhook):
        body = channel.body.replace("{title}", _escaped(title)).replace(
            "{message}", _escaped(message)
        )
        headers = {"Content-Type": "application/json", **channel.headers}
        return HttpPush(channel.method.upper(), channel.url, headers, body.encode())
    push: HttpPush
    if isinstance(channel, Bark):
        push = _json({"title": title, "body": message})
        url = f"{channel.url.rstrip('/')}/{channel.secret_of('key')}"
    elif isinstance(channel, PushPlus):
        push = _json({"token": channel.secret_of("token"), "title": title, "content": message})
        url = channel.url
    elif isinstance(channel, ServerChan):
        push = _json({"title": title, "desp": message})
        url = f"{channel.url.rstrip('/')}/{channel.secret_of('key')}.send"
    elif isinstance(channel, DingTalk):
        push = _json({"msgtype": "text", "text": {"content": f"{title}\n{message}"}})
        url = dingtalk_url(channel, now_ms())
    elif isinstance(channel, Telegram):
        push = _json({"chat_id": channel.chat_id, "text": f"{title}\n{message}"})
        token = channel.secret_of("bot_token")
        url = f"{channel.url.rstrip('/')}/bot{token}/sendMessage"
    else:
        raise TypeError(f"not an HTTP channel: {channel!r}")
    return HttpPush(push.method, url, push.headers, push.body)


def _escaped(text: str) -> str:
    """``text`` as it goes inside a JSON string."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def dingtalk_sign(secret_value: str, timestamp_ms: int) -> str:
    """DingTalk's signature: base64(HMAC-SHA256(secret, "timestamp\\nsecret"))."""
    digest = hmac.new(
        secret_value.encode(), f"{timestamp_ms}\n{secret_value}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def dingtalk_url(channel: DingTalk, timestamp_ms: int) -> str:
    """The robot URL with its access token, timestamp and signature."""
    query = urllib.parse.urlencode(
        {
            "access_token": channel.secret_of("access_token"),
            "timestamp": timestamp_ms,
            "sign": dingtalk_sign(channel.secret_of("secret"), timestamp_ms),
        }
    )
    return f"{channel.url}?{query}"


def _send_mail(channel: Smtp, title: str, message: str) -> None:
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = title, channel.sender, ", ".join(channel.to)
    mail.set_content(message)
    with smtplib.SMTP(channel.host, channel.port, timeout=_SEND_TIMEOUT_S) as smtp:
        if channel.starttls:
            smtp.starttls(
                context=ssl.create_default_context(
                    cafile=str(channel.ca_file) if channel.ca_file else None
                )
            )
        if channel.user and channel.password:
            smtp.login(channel.user, channel.secret_of("password"))
        smtp.send_message(mail)


class Notifier:
    """Sends messages through every channel in the background; ``drain`` waits (bounded)."""

    def __init__(
        self, channels: list[Channel], warn: Callable[[str], None], drain_s: float = 10.0
    ) -> None:
        self.channels, self._warn, self.drain_s = channels, warn, drain_s
        self._tasks: set[asyncio.Task[None]] = set()
        # One client, made now: building one loads the CA store, which would hold the event
        # loop for tens of milliseconds if it happened next to a task's opening.
        self._client = httpx.AsyncClient(timeout=_SEND_TIMEOUT_S) if channels else None

    def send(self, title: str, message: str) -> None:
        """Queue a message on every channel and return at once."""
        for channel in self.channels:
            task = asyncio.get_running_loop().create_task(self._quietly(channel, title, message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver(self, channel: Channel, title: str, message: str) -> str | None:
        """Send with a few tries; None when it went through, else why not (also warned)."""
        error = ""
        for attempt in range(_TRIES):
            try:
                async with asyncio.timeout(_SEND_TIMEOUT_S):
                    await self._once(channel, title, message)
                return None
            except ConfigError as exc:  # a missing secret: trying again cannot help
                why = f"{channel.type} failed: {exc}"
                self._warn(f"notify: {why}")
                return why
            except Exception as exc:  # a channel's failure is reported, never raised
                # The class name only: an HTTP error's text holds the URL, which may hold a key.
                error = type(exc).__name__
            if attempt + 1 < _TRIES:
                await asyncio.sleep(0.5 * (attempt + 1))
        why = f"{channel.type} failed after {_TRIES} tries ({error})"
        self._warn(f"notify: {why}")
        return why

    async def check(self, title: str, message: str) -> list[tuple[str, str | None]]:
        """Send one message through every channel now; ``(channel type, error or None)``."""
        errors = await asyncio.gather(*(self._deliver(c, title, message) for c in self.channels))
        await self.drain()
        return [(c.type, e) for c, e in zip(self.channels, errors, strict=True)]

    async def _quietly(self, channel: Channel, title: str, message: str) -> None:
        await self._deliver(channel, title, message)

    async def _once(self, channel: Channel, title: str, message: str) -> None:
        if isinstance(channel, Smtp):
            await asyncio.to_thread(_send_mail, channel, title, message)
            return
        push = http_push(channel, title, message)
        assert self._client is not None
        # Only the status counts: the body is never read (a push service's answer, however
        # long, costs no memory; the connection is dropped with it unread).
        async with self._client.stream(
            push.method, push.url, headers=push.headers, content=push.body
        ) as response:
            if response.status_code >= 400:
                raise httpx.HTTPStatusError(
                    f"HTTP {response.status_code}", request=response.request, response=response
                )

    async def drain(self) -> None:
        """Wait for queued messages, at most ``drain_s``; stragglers are cancelled; the
        client is closed."""
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=self.drain_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
