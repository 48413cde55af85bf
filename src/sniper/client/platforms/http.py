"""The ``http`` platform: the user's own captured checkout, replayed on time.

A task's ``flow`` (or its single ``request``, a one-step flow) says what to send; ``before`` steps
run ahead of the opening, the ``open`` steps at it, each connection going on with its next step
the moment its own answer arrives (:mod:`sniper.client.flow`). Placeholders (``{sku_id}``,
``{qty}``, ``{request_id}``, ``{now_ms}`` and every saved name) are filled in; answers are read by
configurable rules (:class:`~sniper.client.config.HttpRules`, :mod:`sniper.client.answers`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from sniper.client.answers import classify
from sniper.client.before import BeforeResult, run_before
from sniper.client.checkout import Checkout
from sniper.client.config import HttpRequest, TaskConfig
from sniper.client.connection import Connection, HttpCall, Origin, Response
from sniper.client.flow import Flow, FlowCheckout
from sniper.client.outcome import Verdict
from sniper.client.placeholders import BUILTINS, names_in
from sniper.client.platforms.base import Platform

REQUEST_ID = "{request_id}"


def _wall_ms() -> float:
    return time.time() * 1000


def carries_request_id(request: HttpRequest) -> bool:
    """Whether the request sends the run's request id (``{request_id}`` in its URL, a header or
    its body), so that a shop that reads it as an idempotency key makes one order of the whole
    burst."""
    return any(
        "request_id" in names_in(text, BUILTINS)
        for text in (request.url, request.body or "", *request.headers.values())
    )


class HttpPlatform(Platform):
    """Runs ``task.flow`` (or ``task.request``)."""

    name = "http"

    def __init__(self, task: TaskConfig, cookie: str) -> None:
        super().__init__(task, cookie)
        self.flow = Flow(task, cookie)

    @property
    def origin(self) -> Origin:
        """Where the ``open`` steps go."""
        return self.flow.origin

    def secret_values(self) -> Iterable[str]:
        """Every value the flow saved and every cookie in its jar."""
        return [*self.flow.secrets, *self.flow.jar.values()]

    def carries_request_id(self) -> bool:
        """Whether an ``open`` step has a ``{request_id}`` to fill."""
        return self.flow.carries("request_id")

    def order_call(self, request_id: str) -> HttpCall:
        """The first ``open`` step's request, outside a run (``{now_ms}``: this machine's
        clock)."""
        return self.checkout(request_id, _wall_ms).first(_wall_ms())

    def classify(self, response: Response) -> Verdict:
        """The last step's answer: status first (401/403, 429, 425, 5xx), then the body rules."""
        last = self.flow.steps[-1]
        return classify(last.rules or self.task.rules, response)

    def checkout(self, request_id: str, server_now_ms: Callable[[], float]) -> Checkout:
        """One connection's way through the ``open`` steps."""
        return FlowCheckout(self.flow, request_id, server_now_ms)

    async def before_opening(
        self,
        conn: Connection,
        *,
        request_id: str,
        timeout_s: Callable[[], float],
        server_now_ms: Callable[[], float],
    ) -> BeforeResult | None:
        """The flow's ``before`` steps, when it has any."""
        if not self.flow.before:
            return None
        return await run_before(
            self.flow,
            conn,
            request_id=request_id,
            timeout_s=timeout_s,
            server_now_ms=server_now_ms,
        )
