"""The storage interface every backend implements, and the one place where storage calls are
counted and the storage library's errors become the store's.

A backend owns the atomic reservation step and the records around it. It never decides
the rules itself beyond calling :func:`sniper.store.rules.decide` inside its atomic step (or a
script that mirrors it).

Every public coroutine method a backend defines is a storage operation: at class creation it is
wrapped once (:meth:`Backend.__init_subclass__`), so that each call counts in
:attr:`Backend.op_counts` and a storage library's error escaping it (``sqlite3.Error``,
``redis.RedisError``: :attr:`Backend.errors` names them) becomes ``Unavailable`` or, from
:meth:`Backend.reserve`, ``OutcomeUnknown``. Where a backend knows more (the call certainly had
not left; the COMMIT had begun), it says so itself, with the same :class:`StorageErrors`.
"""

from __future__ import annotations

import functools
import inspect
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol, TypeVar

from sniper.errors import OutcomeUnknown, StoreError, Unavailable
from sniper.store.models import Item, NewUser, Order, Session
from sniper.store.rules import Reservation, ReservationResult

T = TypeVar("T")

#: Orders that a replay of ``(user, request_id)`` must get back.
ReplayOrders = dict[tuple[str, str], Order]


class SharedLimiter(Protocol):
    """A rate limit that every replica of the store shares (per name: a user, or "" for all)."""

    async def take(self, name: str = "") -> float:
        """0 when a token was taken, else seconds until one is there."""

    async def wait(self, name: str = "") -> float:
        """0 when a token is there (none is taken), else seconds until one is."""


class StorageErrors:
    """What one storage library's errors mean to a caller: :meth:`unavailable` when the call
    certainly did nothing (refused, or failed before it was sent: retrying is safe),
    :meth:`unknown` when it may have taken effect (it was sent, or its commit had begun: only a
    retry with the request id can tell). Anything not in :attr:`kinds` is a bug and stays itself."""

    #: The library's exceptions that mean the storage failed.
    kinds: tuple[type[BaseException], ...] = ()

    def unavailable(self, exc: BaseException) -> StoreError:
        """The error for a call that certainly did nothing."""
        return Unavailable("storage is unavailable, try again")

    def unknown(self, exc: BaseException) -> StoreError:
        """The error for a call that may have taken effect."""
        return OutcomeUnknown("storage failed during the call: it may or may not have run")

    async def sent(self, call: Awaitable[T]) -> T:
        """Await a call that may have reached the storage: a failure now is :meth:`unknown`."""
        try:
            return await call
        except self.kinds as exc:
            raise self.unknown(exc) from None


#: Operations whose effect the caller must know: a storage error escaping one may have come
#: after the change was made, so it is "outcome unknown"; any other operation's is "unavailable"
#: (reads did nothing; the other writes are safe to repeat).
_MAY_HAVE_RUN = frozenset({"reserve"})


def _storage_op(
    name: str, method: Callable[..., Awaitable[Any]], errors: StorageErrors
) -> Callable[..., Awaitable[Any]]:
    """``method`` counted in ``op_counts`` and its storage errors translated. One coroutine
    around the method's own: on the order path this costs one dict increment and a ``try``."""
    kinds = errors.kinds
    translate = errors.unknown if name in _MAY_HAVE_RUN else errors.unavailable

    @functools.wraps(method)
    async def op(self: Backend, *args: Any, **kwargs: Any) -> Any:
        self.op_counts[name] += 1
        try:
            return await method(self, *args, **kwargs)
        except kinds as exc:
            # The translator says what the caller reads: a library's message may name hosts.
            raise translate(exc) from None

    return op


class Backend(ABC):
    """Async storage for items, users, sessions and orders."""

    #: What the storage library's errors mean (each backend names its library's).
    errors: ClassVar[StorageErrors] = StorageErrors()

    #: How many calls reached the storage, by operation; the sold-out fast path is proven by it.
    op_counts: defaultdict[str, int]

    def __init__(self) -> None:
        self.op_counts = defaultdict(int)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap each public coroutine method the class defines (see the module's docstring)."""
        super().__init_subclass__(**kwargs)
        for name, value in list(vars(cls).items()):
            if not name.startswith("_") and inspect.iscoroutinefunction(value):
                setattr(cls, name, _storage_op(name, value, cls.errors))

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
    async def delete_item(self, sku_id: str) -> Item | None:
        """Remove an item; the item as it was, or None if there was none. Its orders stay, and
        so do the units each user bought of it (an item made again under the same ``sku_id``
        counts them against its limit, as a replaced one does)."""

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
    async def delete_users(self, users: list[str]) -> tuple[list[str], list[str]]:
        """Remove users (distinct names) and revoke every session of theirs, so that none can
        log in or order again; the names that existed, and the token hashes of the live
        sessions revoked. Their orders stay."""

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
