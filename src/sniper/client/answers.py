"""Reading a shop's answer by the task's rules: JSON paths, regexes, what an answer means. Pure.

Used by the ``http`` platform for its last step (:func:`classify`) and by a flow's earlier steps
(:func:`refusal`), and by flows' ``save`` and ``expect``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sniper.client.config import HttpRules, Match
from sniper.client.connection import Response
from sniper.client.jsonpath import MISSING, json_lookup
from sniper.client.outcome import Kind, Verdict, by_status, json_body, order_id


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
    if value is MISSING or value is None:
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


def text_and_data(response: Response) -> tuple[str, Any]:
    """An answer's body as text and as parsed JSON (None when it is not JSON)."""
    return response.body.decode("utf-8", errors="replace"), json_body(response)


def refusal(rules: HttpRules, text: str, data: Any) -> Verdict | None:
    """A refusal the body rules recognise (sold out, limit reached, not started), or None."""
    for kind, kind_rules in (
        (Kind.SOLD_OUT, rules.sold_out),
        (Kind.LIMIT_REACHED, rules.limit_reached),
        (Kind.NOT_STARTED, rules.not_started),
    ):
        if first_match(kind_rules, text, data) is not None:
            return Verdict(kind, detail=kind.value)
    return None


def classify(rules: HttpRules, response: Response) -> Verdict:
    """What an answer to the order means: an order (success status, the success rule, an order
    id), a refusal the body rules recognise, then status alone (401/403, 429, 425, 5xx)."""
    text, data = text_and_data(response)
    if response.status in rules.success_status:
        ok = rules.success is None or matches(rules.success, text, data) is not None
        found = first_order_id(rules.order_id, text, data)
        if ok and found is not None:
            return Verdict(Kind.ORDERED, order_id=found)
    refused = refusal(rules, text, data)
    if refused is not None:
        return refused
    verdict = by_status(response)
    if verdict is not None:
        return verdict
    if response.status in rules.success_status:  # a 200 that says neither yes nor no
        return Verdict(Kind.RETRY, detail=f"HTTP {response.status}, no order id found")
    return Verdict(Kind.FATAL, detail=f"HTTP {response.status}")
