"""One connection's way through an order: what it sends first, what each answer means, what a
retry sends. The burst runs one per connection; a platform makes them.

Most platforms order with one request: :class:`SingleCheckout`. A multi-step checkout (the
``http`` platform's flows) answers its next request instead of a verdict until its last step.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sniper.client.connection import HttpCall, Response
from sniper.client.outcome import Verdict
from sniper.errors import SniperError


class StepFailed(SniperError):
    """A step's request could not be built, or its answer was not what the step expects. The
    message names the step and never holds a value (a token, a cookie)."""


class Checkout(Protocol):
    """What the burst asks of a platform, one connection at a time."""

    @property
    def step(self) -> str:
        """The name of the step whose request is on its way ("" for a one-request order)."""
        ...

    def first(self, at_server_ms: float) -> HttpCall:
        """The request the burst fires (``at_server_ms``: when it is planned to arrive)."""
        ...

    def next(self, response: Response) -> HttpCall | Verdict:
        """The answer to the request on its way: the next request to send at once, or what the
        answer means for the run."""
        ...

    def again(self, verdict: Verdict) -> HttpCall:
        """What a retry after ``verdict`` sends. :meth:`first` and this raise
        :class:`StepFailed` for a request that cannot be built."""
        ...


class SingleCheckout:
    """An order in one request: the same request every try."""

    step = ""

    def __init__(self, call: Callable[[], HttpCall], classify: Callable[[Response], Verdict]):
        self._call, self._classify = call, classify

    def first(self, at_server_ms: float) -> HttpCall:
        """The order request."""
        return self._call()

    def next(self, response: Response) -> HttpCall | Verdict:
        """What the platform says of the answer."""
        return self._classify(response)

    def again(self, verdict: Verdict) -> HttpCall:
        """The order request, again."""
        return self._call()
