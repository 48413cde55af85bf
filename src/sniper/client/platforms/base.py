"""The platform interface: how to talk to one kind of shop. Small on purpose.

A platform builds the order request and reads the answer; optionally it has a time endpoint, a
way to find an order the account already holds, and probes for ``sniper check``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from sniper.client.before import BeforeResult
from sniper.client.checkout import Checkout, SingleCheckout
from sniper.client.config import TaskConfig
from sniper.client.connection import Connection, HttpCall, Origin, Response
from sniper.client.outcome import Verdict
from sniper.client.servertime import TimeEndpoint

#: The label of the probe that checks the cookie: its 401/403 before the opening is a dead
#: cookie, and the run ends there (exit 4) rather than at the opening.
LOGIN = "login"


@dataclass(frozen=True, slots=True)
class Probe:
    """A request that ``sniper check`` and the pre-flight send, and what its answer must look
    like."""

    label: str
    call: HttpCall
    ok_status: tuple[int, ...] = (200,)
    #: What a 404 means, when it means the task names something the platform does not have.
    missing: str = ""


class Platform(ABC):
    """One kind of shop."""

    name: ClassVar[str]
    #: Whether the shop is known to make one order of all requests with one request id: this
    #: project's store is; of someone else's server only its own rules could say.
    one_order_per_request_id: ClassVar[bool] = False

    def __init__(self, task: TaskConfig, cookie: str) -> None:
        self.task, self.cookie = task, cookie

    @property
    def origin(self) -> Origin:
        """Where the orders go."""
        return Origin.from_url(self.task.base_url)

    @abstractmethod
    def order_call(self, request_id: str) -> HttpCall:
        """The order request; the same ``request_id`` for every try of one run."""

    @abstractmethod
    def classify(self, response: Response) -> Verdict:
        """What an answer to the order request means."""

    def checkout(self, request_id: str, server_now_ms: Callable[[], float]) -> Checkout:
        """One connection's way through an order at the opening (``server_now_ms``: the
        server's clock). By default :meth:`order_call` every try, read by :meth:`classify`."""
        return SingleCheckout(lambda: self.order_call(request_id), self.classify)

    async def before_opening(
        self,
        conn: Connection,
        *,
        request_id: str,
        timeout_s: Callable[[], float],
        server_now_ms: Callable[[], float],
    ) -> BeforeResult | None:
        """Requests to make ahead of the opening, at the pre-flight and again at preheat, on
        ``conn`` (an ``http`` flow's ``before`` steps), and what came of them; None: nothing to
        do."""
        return None

    def secret_values(self) -> Iterable[str]:
        """What the shop handed out so far that must not be logged or shown (beyond the
        task's cookie): a flow's saved values, the cookies the shop set."""
        return ()

    def carries_request_id(self) -> bool:
        """Whether every request of a run carries the run's one request id, so that the shop can
        make one order of a burst. When not, each request may become an order of its own."""
        return True

    def time_call(self) -> HttpCall | None:
        """A request to the order origin answering the server's time in ms
        (``{"now_ms": …}``), or None: then the ``Date`` header of :meth:`warm_call` is used."""
        return None

    def time_endpoint(self) -> TimeEndpoint | None:
        """Where the shop's clock is read: the task's ``clock:`` if it has one, else
        :meth:`time_call` on the order origin, else None (the ``Date`` header)."""
        clock = self.task.clock
        if clock is not None:
            return TimeEndpoint.from_url(clock.url, clock.json_path, clock.unit)
        call = self.time_call()
        return None if call is None else TimeEndpoint(self.origin, call)

    def warm_call(self) -> HttpCall:
        """A cheap request that warms a connection."""
        return HttpCall("HEAD", "/")

    def probes(self) -> list[Probe]:
        """What ``sniper check`` and the run's pre-flight ask before the opening; sends no
        order. A probe labelled :data:`LOGIN` checks the cookie."""
        return []

    def sale_start(self, probe: Probe, response: Response) -> datetime | None:
        """When the platform says the sale opens, if a probe's answer tells (``sniper check``
        compares it with ``target_time``)."""
        return None

    async def existing_order(self, conn: Connection, timeout_s: float) -> str | None:
        """The id of an order this account already holds for the item, if the platform can say."""
        return None
