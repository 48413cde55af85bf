"""The pre-flight: the platform's probes (login, item) and its ``before`` requests (an http flow's
``before`` steps) well before the opening, so that a dead cookie (exit 4) or a checkout that no
longer answers as captured (exit 1) ends the task then instead of at the opening."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sniper.client.before import BeforeResult
from sniper.client.connection import ConnectionBroken
from sniper.client.outcome import error_message
from sniper.client.platforms import LOGIN
from sniper.client.shop import Shop


@dataclass(frozen=True)
class Checked:
    """What the probes answered."""

    #: HTTP status by probe label; None: that probe got no answer.
    statuses: dict[str, int | None] = field(default_factory=dict)
    #: The store's own words on a refused login.
    refused: str = ""
    #: Why the shop could not be reached at all.
    unreachable: ConnectionBroken | None = None
    #: What the platform's ``before`` requests came to (None: it has none).
    before: BeforeResult | None = None

    @property
    def failed(self) -> dict[str, int | None]:
        """The probes that did not answer 200."""
        return {k: v for k, v in self.statuses.items() if v not in (200,)}

    @property
    def session_dead(self) -> bool:
        """The login probe, or a ``before`` step, was refused: the cookie is dead."""
        dead_before = self.before is not None and self.before.dead_cookie
        return self.statuses.get(LOGIN) in (401, 403) or dead_before

    @property
    def steps_failed(self) -> str:
        """Why a ``before`` step was answered wrongly, or "" (a step that got no answer is not
        a failure here: the steps run again at preheat)."""
        before = self.before
        return before.failure if before is not None and not before.unanswered else ""


async def preflight(
    shop: Shop,
    *,
    until: float,
    timeout_s: float,
    request_id: str,
    server_now_ms: Callable[[], float],
) -> Checked:
    """Send every probe, then the ``before`` requests, on one connection, each bounded so as to
    end before ``until`` (local monotonic ms)."""
    statuses: dict[str, int | None] = {}
    refused = ""

    def limit() -> float:
        return max(0.001, min(timeout_s, (until - shop.clock.monotonic() * 1000) / 1000 - 0.05))

    try:
        async with shop.connected(limit()) as conn:
            for probe in shop.platform.probes():
                try:
                    answer = await conn.request(probe.call, limit())
                    statuses[probe.label] = answer.status
                    if probe.label == LOGIN and answer.status in (401, 403):
                        refused = error_message(answer)
                except ConnectionBroken:
                    statuses[probe.label] = None
            if statuses.get(LOGIN) in (401, 403):
                return Checked(statuses, refused)
            before = await shop.platform.before_opening(
                conn, request_id=request_id, timeout_s=limit, server_now_ms=server_now_ms
            )
    except ConnectionBroken as exc:
        return Checked(statuses, refused, unreachable=exc)
    return Checked(statuses, refused or (before.refused if before else ""), before=before)
