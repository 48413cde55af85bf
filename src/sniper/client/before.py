"""A flow's ``before`` steps, run at the pre-flight, again at preheat, and by ``sniper check``.

Each step goes on the connection it is given when it is to the same origin, else on one of its
own (opened, then closed when the steps are done). What they save becomes the flow's values for
the ``open`` steps; a failure says which step and why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from sniper.client.checkout import StepFailed
from sniper.client.config import redact
from sniper.client.connection import Connection, ConnectionBroken, Origin, ssl_context
from sniper.client.flow import Flow
from sniper.client.outcome import error_message
from sniper.client.placeholders import as_text
from sniper.client.scrub import printable

#: A saved value whose name says it is a secret is shown redacted.
_SECRET_NAME = re.compile(
    r"(?i)token|csrf|xsrf|sess|cookie|auth|key|secret|sign|ticket|pass|jwt|bearer|nonce"
)


def shown_value(name: str, value: object) -> str:
    """A saved value as ``sniper check`` shows it: redacted when its name looks like a secret's
    (a token, a CSRF value, a session), else as text (cut to 60 characters, made printable)."""
    text = as_text(value)
    if _SECRET_NAME.search(name):
        return redact(text)
    return printable(text)[:60]


@dataclass(frozen=True)
class BeforeResult:
    """What the ``before`` steps came to."""

    #: Every value saved, by name (shown redacted where it looks like a secret).
    saved: dict[str, object] = field(default_factory=dict)
    #: Why a step failed ("" if none did): names the step, shows no value.
    failure: str = ""
    #: A step was answered 401/403: the cookie is dead.
    dead_cookie: bool = False
    #: The shop's own words on a refusal.
    refused: str = ""
    #: The steps that ran, in order, with their HTTP status (None: no answer).
    statuses: dict[str, int | None] = field(default_factory=dict)
    #: The failure was no answer (a timeout, a broken connection), not a wrong one: worth
    #: trying again later.
    unanswered: bool = False

    @property
    def ok(self) -> bool:
        """Every step answered as expected."""
        return not self.failure


async def run_before(
    flow: Flow,
    conn: Connection,
    *,
    request_id: str,
    timeout_s: Callable[[], float],
    server_now_ms: Callable[[], float],
) -> BeforeResult:
    """Run every ``before`` step in order; on success the flow keeps what they saved. Each
    request is bounded by ``timeout_s()`` (asked anew: the caller's deadline approaches)."""
    values = flow.values(request_id)
    saved: dict[str, object] = {}
    statuses: dict[str, int | None] = {}
    others: dict[Origin, Connection] = {}
    try:
        for step in flow.before:
            built = flow.build(step, values, server_now_ms())
            here = conn if built.origin == conn.origin else others.get(built.origin)
            if here is None:
                here = Connection(
                    built.origin, conn.clock, ssl_context(built.origin, flow.task.ca_file)
                )
                others[built.origin] = here
            try:
                await here.ensure_open(timeout_s())
                response = await here.request(built.call, timeout_s())
            except ConnectionBroken as exc:
                statuses[step.name] = None
                failure = f"step {step.name}: {exc}"
                return BeforeResult(saved, failure, statuses=statuses, unanswered=True)
            statuses[step.name] = response.status
            if response.status in (401, 403):
                flow.jar.update(built.url, response.headers)
                return BeforeResult(
                    saved,
                    f"step {step.name}: HTTP {response.status}: the cookie is not accepted",
                    dead_cookie=True,
                    refused=error_message(response),
                    statuses=statuses,
                )
            found = flow.read(built, response)
            saved.update(found)
            values.update(found)
    except StepFailed as exc:
        return BeforeResult(saved, str(exc), statuses=statuses)
    finally:
        for other in others.values():
            await other.aclose()
    flow.saved.update(saved)
    return BeforeResult(saved, statuses=statuses)
