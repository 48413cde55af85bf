"""The pre-flight: the platform's probes (login, item) well before the opening, so that a dead
cookie ends the task then (exit 4) instead of at the opening."""

from __future__ import annotations

from dataclasses import dataclass, field

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

    @property
    def failed(self) -> dict[str, int | None]:
        """The probes that did not answer 200."""
        return {k: v for k, v in self.statuses.items() if v not in (200,)}

    @property
    def session_dead(self) -> bool:
        """The login probe was refused: the cookie is dead."""
        return self.statuses.get(LOGIN) in (401, 403)


async def preflight(shop: Shop, *, until: float, timeout_s: float) -> Checked:
    """Send every probe on one connection, each bounded so as to end before ``until`` (local
    monotonic ms)."""
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
    except ConnectionBroken as exc:
        return Checked(statuses, refused, unreachable=exc)
    return Checked(statuses, refused)
