"""Every error the project raises on purpose derives from :class:`SniperError`.

::

    SniperError
    ├── ConfigError              bad task file, flag or setting (CLI exit code 2)
    ├── StartError               the store cannot start: port taken, storage unusable (exit 2)
    ├── ConnectionBroken         the sniper's connection failed or closed (carries why, if known)
    ├── ClockError               a server's answers carry no usable time
    └── StoreError               a store answer other than success: HTTP status + error code
        ├── BadRequest           400 bad_request
        ├── Unauthorized         401 unauthorized
        ├── NotFound             404 not_found
        ├── MethodNotAllowed     405 method_not_allowed
        ├── SoldOut              409 sold_out
        ├── LimitReached         409 limit_reached
        ├── TooLarge             413 too_large
        ├── NotStarted           425 not_started
        ├── RateLimited          429 rate_limited (carries Retry-After)
        ├── ClientGone           499 client_closed (counted in metrics, never sent)
        ├── Unavailable          503 unavailable (certainly not done: backend down or overloaded)
        └── OutcomeUnknown       503 outcome_unknown (an order that may have been placed; carries
                                 the request id to retry with)

Library errors (sqlite3, redis, httpx) are translated where they are caught, with ``raise … from``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sniper.client.neterrors import NetFailure, NetKind


class SniperError(Exception):
    """Root of the project's errors."""


class ConfigError(SniperError):
    """A configuration value is wrong; the message names the field."""


class StartError(SniperError):
    """``sniper serve`` cannot start (cannot listen, the storage cannot be opened)."""


class ConnectionBroken(SniperError):
    """The connection failed or closed; the caller may open a new one. ``kind`` says why, when
    it failed while connecting."""

    def __init__(
        self, message: str, kind: NetKind | None = None, failure: NetFailure | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        #: The connect-time failure, to be said in the console's language.
        self.failure = failure


class ClockError(SniperError):
    """The server's answers carry no usable time."""


class StoreError(SniperError):
    """An error answer of the store: HTTP status, machine-readable code and a message."""

    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def payload(self) -> dict[str, Any]:
        """The JSON error body: ``{"error": CODE, "message": TEXT}``."""
        return {"error": self.code, "message": self.message}


class BadRequest(StoreError):
    """The request is malformed or a value is out of range."""

    status, code = 400, "bad_request"


class Unauthorized(StoreError):
    """Missing, forged or expired session, or a wrong admin token."""

    status, code = 401, "unauthorized"


class NotFound(StoreError):
    """No such item, order or route."""

    status, code = 404, "not_found"


class MethodNotAllowed(StoreError):
    """The route exists but not with this method."""

    status, code = 405, "method_not_allowed"


class SoldOut(StoreError):
    """Not enough stock left for the quantity asked."""

    status, code = 409, "sold_out"


class LimitReached(StoreError):
    """The user already bought as many as the item allows per user."""

    status, code = 409, "limit_reached"


class TooLarge(StoreError):
    """The request body is over the store's limit."""

    status, code = 413, "too_large"


class NotStarted(StoreError):
    """The sale has not opened yet on the store's clock."""

    status, code = 425, "not_started"


class RateLimited(StoreError):
    """Too many requests; ``retry_after`` says when to come back."""

    status, code = 429, "rate_limited"


class ClientGone(StoreError):
    """The client went away (or was cut off as too slow) before its request was in: nobody
    reads the answer, which metrics count as nginx's 499."""

    status, code = 499, "client_closed"


class Unavailable(StoreError):
    """The backend is down or the store is overloaded, and the request certainly changed
    nothing; try again shortly (``Retry-After`` is one second unless said otherwise)."""

    status, code = 503, "unavailable"

    def __init__(self, message: str, *, retry_after: float | None = 1) -> None:
        super().__init__(message, retry_after=retry_after)


class OutcomeUnknown(StoreError):
    """The reservation may have run (the storage stalled or failed after it was sent): only a
    retry with ``request_id`` tells whether the order exists. Never an ``Unavailable``: code that
    treats those as "nothing happened" must not catch this one."""

    status, code = 503, "outcome_unknown"

    def __init__(
        self, message: str, *, request_id: str | None = None, retry_after: float | None = 1
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.request_id = request_id

    def payload(self) -> dict[str, Any]:
        """The error body, with the request id to retry with."""
        return {**super().payload(), "request_id": self.request_id}
