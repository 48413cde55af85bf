"""The ``http`` platform: the user's own captured request, replayed on time.

The request (method, URL, headers, body) comes from the task file, usually made by
``sniper import-curl``; ``{sku_id}``, ``{qty}`` and ``{request_id}`` in the URL, the header values
and the body are filled in. Answers are read by configurable rules
(:class:`~sniper.client.config.HttpRules`).
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from sniper.client.config import HttpRequest, Match, header_safe
from sniper.client.connection import HttpCall, Origin, Response
from sniper.client.outcome import Kind, Verdict, by_status, json_body, order_id
from sniper.client.platforms.base import Platform

_MISSING = object()
REQUEST_ID = "{request_id}"


def carries_request_id(request: HttpRequest) -> bool:
    """Whether the request sends the run's request id (``{request_id}`` in its URL, a header or
    its body), so that a shop that reads it as an idempotency key makes one order of the whole
    burst."""
    return any(
        REQUEST_ID in text for text in (request.url, request.body or "", *request.headers.values())
    )


def json_lookup(data: Any, path: str) -> Any:
    """``a.b.0.c`` in parsed JSON; a missing step gives a sentinel that equals nothing."""
    node = data
    for step in path.split("."):
        if isinstance(node, dict) and step in node:
            node = node[step]
        elif isinstance(node, list) and step.isdigit() and int(step) < len(node):
            node = node[int(step)]
        else:
            return _MISSING
    return node


def matched(rule: Match, text: str, data: Any) -> object:
    """The matched value as found (a regex's first group if it has one, a JSON value as
    parsed), or None.

    A regex is tried on the body as sent, then, for JSON, on the body with ``\\uXXXX`` escapes
    undone (many servers escape every non-ASCII character).
    """
    if rule.regex is not None:
        found = re.search(rule.regex, text)
        if found is None and data is not None:
            found = re.search(rule.regex, json.dumps(data, ensure_ascii=False))
        if found is None:
            return None
        return found.group(1) if found.groups() else found.group(0)
    assert rule.json_path is not None
    value = json_lookup(data, rule.json_path)
    if value is _MISSING or value is None:
        return None
    if rule.equals is not None and value != rule.equals:
        return None
    return value


def matches(rule: Match, text: str, data: Any) -> str | None:
    """The matched value as text, or None."""
    value = matched(rule, text, data)
    return None if value is None else str(value)


def first_match(rules: list[Match], text: str, data: Any) -> str | None:
    """The first rule that matches."""
    for rule in rules:
        value = matches(rule, text, data)
        if value is not None:
            return value
    return None


def first_order_id(rules: list[Match], text: str, data: Any) -> str | None:
    """The first rule's match that is an order id (see :func:`~sniper.client.outcome.order_id`)."""
    for rule in rules:
        value = order_id(matched(rule, text, data))
        if value is not None:
            return value
    return None


class HttpPlatform(Platform):
    """Replays ``task.request``."""

    name = "http"

    @property
    def _request(self) -> HttpRequest:
        assert self.task.request is not None  # the config refuses http without it
        return self.task.request

    @property
    def origin(self) -> Origin:
        """The captured request's own origin."""
        return Origin.from_url(self._request.url)

    def carries_request_id(self) -> bool:
        """Whether the captured request has a ``{request_id}`` to fill."""
        return carries_request_id(self._request)

    def _fill(self, template: str, request_id: str) -> str:
        return (
            template.replace("{sku_id}", self.task.sku_id)
            .replace("{qty}", str(self.task.qty))
            .replace(REQUEST_ID, request_id)
        )

    def order_call(self, request_id: str) -> HttpCall:
        """The captured request with the placeholders filled and the cookie set."""
        request = self._request
        parts = urlsplit(self._fill(request.url, request_id))
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        skip = {"cookie", "host", "content-length"}
        # A filled header value is checked again: a placeholder's value must not smuggle in a
        # line break (a header of the attacker's choosing) where the capture had none.
        headers = [
            (k, header_safe(self._fill(v, request_id), f"request.headers.{k}"))
            for k, v in request.headers.items()
            if k.lower() not in skip
        ]
        headers.append(("Cookie", self.cookie))
        body = self._fill(request.body, request_id).encode() if request.body else b""
        return HttpCall(request.method.upper(), target, tuple(headers), body)

    def classify(self, response: Response) -> Verdict:
        """Status first (401/403, 429, 425, 5xx), then the body rules."""
        rules = self.task.rules
        text = response.body.decode("utf-8", errors="replace")
        data: Any = json_body(response)
        if response.status in rules.success_status:
            ok = rules.success is None or matches(rules.success, text, data) is not None
            found = first_order_id(rules.order_id, text, data)
            if ok and found is not None:
                return Verdict(Kind.ORDERED, order_id=found)
        for kind, kind_rules in (
            (Kind.SOLD_OUT, rules.sold_out),
            (Kind.LIMIT_REACHED, rules.limit_reached),
            (Kind.NOT_STARTED, rules.not_started),
        ):
            if first_match(kind_rules, text, data) is not None:
                return Verdict(kind, detail=kind.value)
        verdict = by_status(response)
        if verdict is not None:
            return verdict
        if response.status in rules.success_status:  # a 200 that says neither yes nor no
            return Verdict(Kind.RETRY, detail=f"HTTP {response.status}, no order id found")
        return Verdict(Kind.FATAL, detail=f"HTTP {response.status}")
