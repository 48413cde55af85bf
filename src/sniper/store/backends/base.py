"""The storage interface every backend implements (SQLite now, Redis later).

A backend owns the atomic reservation step and the records around it. It never decides
the rules itself beyond calling :func:`sniper.store.rules.decide` inside its atomic step.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Protocol

from sniper.store.models import Item, NewUser, Order, Session
from sniper.store.rules import Reservation, ReservationResult

#: Orders that a replay of ``(user, request_id)`` must get back.
ReplayOrders = dict[tuple[str, str], Order]


class SharedLimiter(Protocol):
    """A rate limit that every replica of the store shares (per name: a user, or "" for all)."""

    async def take(self, name: str = "") -> float:
        """0 when a token was taken, else seconds until one is there."""

    async def wait(self, name: str = "") -> float:
        """0 when a token is there (none is taken), else seconds until one is."""


class Backend(ABC):
    """Async storage for items, users, sessions and orders."""

    #: How many calls reached the storage, by operation; the sold-out fast path is proven by it.
    calls: dict[str, int]

    def __init__(self) -> None:
        self.calls = {}

    def _count(self, op: str) -> None:
        self.calls[op] = self.calls.get(op, 0) + 1

    def shared_limiter(self, kind: str, rate_per_s: float, burst: int) -> SharedLimiter | None:
        """A rate limit (``user``: one bucket per user; ``all``: one for every order) kept in
        the storage, if several replicas share it; None means each process limits on its own."""
        return None

    @abstractmethod
    async def load_catalog(self, items: list[Item]) -> int:
        """Create the items that do not exist yet (existing ones, with their live stock, are
        left alone); how many were created."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and create the schema if needed."""

    async def start_background(self) -> None:  # noqa: B027 - optional: most backends have none
        """Start work that runs beside the requests while the store serves (none here)."""

    @abstractmethod
    async def aclose(self) -> None:
        """Finish queued work and release every connection."""

    @abstractmethod
    async def check(self) -> None:
        """Raise :class:`~sniper.errors.Unavailable` if the storage cannot be used."""

    @abstractmethod
    async def probe_commit(self) -> None:
        """Commit a small write the way an order commits; raise a StoreError if it cannot
        (readiness: a full disk or a storage refusing writes fails this, not ``check``)."""

    @abstractmethod
    async def reserve(self, request: Reservation) -> ReservationResult:
        """The whole reservation step, atomically; an order is durable before this returns."""

    @abstractmethod
    async def get_item(self, sku_id: str) -> Item | None:
        """The item, or None."""

    @abstractmethod
    async def put_item(self, item: Item) -> Item:
        """Create or replace an item."""

    @abstractmethod
    async def patch_item(self, sku_id: str, changes: Mapping[str, Any]) -> Item | None:
        """Change the named fields of an item; None if there is no such item."""

    @abstractmethod
    async def sold_out_snapshot(
        self, sku_id: str
    ) -> tuple[Item | None, ReplayOrders, dict[str, int]]:
        """Read at one instant: the item, its orders keyed by ``(user, request_id)``, and the
        units each user has bought of it."""

    @abstractmethod
    async def create_users(self, users: list[NewUser]) -> list[str]:
        """Create (or replace) users and store each one's first session; a replaced user's
        earlier sessions are revoked (their token hashes are returned)."""

    @abstractmethod
    async def password_hash(self, user: str) -> str | None:
        """The stored password hash, or None (no such user, or a session-only user)."""

    @abstractmethod
    async def create_session(self, session: Session, *, password_hash: str | None = None) -> bool:
        """Store a new session; with ``password_hash``, only if it is still the user's (False
        when the user was replaced meanwhile)."""

    @abstractmethod
    async def replace_password_hash(self, user: str, old: str, new: str) -> bool:
        """Swap a user's hash for a stronger one of the same password, unless it changed
        meanwhile; True if swapped. Sessions stay."""

    @abstractmethod
    async def revoke_session(self, token_hash: str) -> Session | None:
        """Delete one live session and log its revocation (finishing one cut short); the
        session (an expired one is left as it is), or None if there was none."""

    @abstractmethod
    async def revoke_sessions(self, user: str) -> list[str]:
        """Delete every session of ``user`` and log their revocation; their token hashes."""

    @abstractmethod
    async def revocation_cursor(self) -> str:
        """Where the revocation log ends now (an opaque position)."""

    @abstractmethod
    async def revoked_since(self, cursor: str) -> tuple[str, list[str]]:
        """Token hashes revoked after ``cursor`` ("" for every revocation of a session not yet
        expired), and the position to read from next time."""

    @abstractmethod
    async def get_session(self, token_hash: str) -> Session | None:
        """The session with this token hash, or None."""

    @abstractmethod
    async def get_order(self, order_id: str) -> Order | None:
        """The order, or None."""

    @abstractmethod
    async def list_orders(self, sku_id: str | None, *, user: str | None = None) -> list[Order]:
        """Every order (of one item, of one user), oldest first."""
