"""The store's behaviour, between the HTTP routes and the backend.

Order path: session → in-process rate limits → the cache's fast paths (sold out, not started,
unknown item) → rate limits shared in the storage (several replicas on Redis) → admission (bounded
queue of reservations) → the backend's atomic step.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import secrets
from collections.abc import Callable
from typing import Any, NamedTuple

from sniper.clock import Clock, now_ms
from sniper.errors import (
    LimitReached,
    NotFound,
    NotStarted,
    OutcomeUnknown,
    RateLimited,
    SoldOut,
    StoreError,
    Unauthorized,
    Unavailable,
)
from sniper.ratelimit import GlobalLimiter, KeyedLimiter
from sniper.store.auth import AdminGuard, Sessions
from sniper.store.backends.base import Backend, SharedLimiter
from sniper.store.cache import ItemCache
from sniper.store.metrics import StoreMetrics
from sniper.store.models import Item, NewUser, Order
from sniper.store.readiness import Readiness
from sniper.store.rules import Outcome, Reservation, ReservationResult
from sniper.store.schemas import (
    ItemBody,
    ItemPatchBody,
    OrderBody,
    UsersBody,
    UsersDeleteBody,
    epoch_ms,
)
from sniper.store.settings import StoreSettings

log = logging.getLogger(__name__)


#: The per-user login bucket (failed passwords from every client together) is this many times
#: the per-(user, client) one: a guesser spreading over addresses is still slowed, and one
#: address alone cannot empty it.
USER_LOGIN_CAP = 10


class _LocalLimiter:
    """A per-process :class:`KeyedLimiter` behind the same ``await take(name)`` as a shared one."""

    def __init__(self, limiter: KeyedLimiter) -> None:
        self._limiter = limiter

    async def take(self, name: str = "") -> float:
        """0 when a token was taken, else seconds until one is there."""
        return self._limiter.take(name)

    async def wait(self, name: str = "") -> float:
        """0 when a token is there (none taken), else seconds until one is."""
        return self._limiter.wait(name)


def _login_limit(
    backend: Backend, clock: Clock, kind: str, rate: float, burst: int
) -> SharedLimiter | None:
    """A login bucket per name: in the storage when replicas share it (Redis), else in this
    process; None when turned off (rate 0)."""
    if rate <= 0:
        return None
    shared = backend.shared_limiter(kind, rate, burst)
    return shared if shared is not None else _LocalLimiter(KeyedLimiter(rate, burst, clock))


def _login_refused(wait: float) -> None:
    if wait > 0:
        raise RateLimited(
            "too many login attempts, try again later", retry_after=max(1, math.ceil(wait))
        )


_REFUSALS: dict[Outcome, Callable[[], StoreError]] = {
    Outcome.NOT_FOUND: lambda: NotFound("no such item"),
    Outcome.NOT_STARTED: lambda: NotStarted("the sale has not started yet"),
    Outcome.LIMIT_REACHED: lambda: LimitReached("you already bought as many as allowed"),
    Outcome.SOLD_OUT: lambda: SoldOut("sold out"),
}


def refusal(outcome: Outcome) -> StoreError:
    """The error an order is refused with, for an outcome of :data:`REFUSED`."""
    return _REFUSALS[outcome]()


#: The outcomes that refuse an order.
REFUSED = frozenset(_REFUSALS)


class Placed(NamedTuple):
    """An order request that succeeded: the order, and whether it was placed before (a replay
    of its ``request_id``) rather than now."""

    order: Order
    replayed: bool


class RequestIds:
    """Request ids for orders sent without one: a random prefix per process and a counter,
    unique across processes and restarts, and cheaper than a random id per request."""

    def __init__(self) -> None:
        self._prefix = f"store-{secrets.token_hex(6)}-"
        self._counter = itertools.count(1)

    def next(self) -> str:
        """A fresh request id (31 printable ASCII characters at most for 10^12 orders)."""
        return f"{self._prefix}{next(self._counter)}"


class StoreService:
    """Everything the routes ask of the store."""

    def __init__(
        self, backend: Backend, settings: StoreSettings, clock: Clock, metrics: StoreMetrics
    ) -> None:
        self.backend, self.clock, self.metrics = backend, clock, metrics
        self.sessions = Sessions(
            backend, clock, settings.session_ttl_s, recheck_s=settings.cache_ttl_s
        )
        self.admin = AdminGuard(settings.admin_token_value())
        self.cache = ItemCache(settings.cache_ttl_s, clock)
        self.readiness = Readiness(backend.probe_commit, clock)
        # Replicas on shared storage share their buckets; one process keeps its own.
        wanted = (
            ("all", settings.global_rate_per_s, settings.global_burst),
            ("user", settings.user_rate_per_s, settings.user_burst),
        )
        shared = {
            kind: limiter
            for kind, rate, burst in wanted
            if rate > 0 and (limiter := backend.shared_limiter(kind, rate, burst)) is not None
        }
        self.shared_limiters = list(shared.items())
        self.user_limiter = (
            KeyedLimiter(settings.user_rate_per_s, settings.user_burst, clock)
            if settings.user_rate_per_s > 0 and "user" not in shared
            else None
        )
        self.global_limiter = (
            GlobalLimiter(settings.global_rate_per_s, settings.global_burst, clock)
            if settings.global_rate_per_s > 0 and "all" not in shared
            else None
        )
        # Every attempt takes a token from its client's bucket, then from its (user, client)
        # pair's; failed passwords also from the user's own, looser one (every client together).
        # A guesser thus spends its own buckets and cannot lock the user out from elsewhere.
        self.login_client = _login_limit(
            backend,
            clock,
            "login-client",
            settings.login_client_rate_per_s,
            settings.login_client_burst,
        )
        self.login_pair = _login_limit(
            backend, clock, "login-pair", settings.login_user_rate_per_s, settings.login_user_burst
        )
        self.login_user = _login_limit(
            backend,
            clock,
            "login-user",
            settings.login_user_rate_per_s * USER_LOGIN_CAP,
            settings.login_user_burst * USER_LOGIN_CAP,
        )
        self.max_pending = settings.max_pending_orders
        self._request_ids = RequestIds()
        self.pending = 0
        self._background: set[asyncio.Task[None]] = set()
        self._loading: set[str] = set()

    def now_ms(self) -> int:
        """The store's clock (skew included) in epoch milliseconds."""
        return now_ms(self.clock)

    async def start(self) -> None:
        """Begin serving, the backend open: read session revocations from now on."""
        await self.sessions.start()

    def check_admin(self, authorization: str | None) -> None:
        """Raise :class:`Unauthorized` unless the ``Authorization`` header carries the admin
        token."""
        self.admin.check(authorization)

    async def check_ready(self) -> None:
        """Return if the backend committed at the last readiness probe, else raise
        :class:`Unavailable`."""
        await self.readiness.check()

    # -- orders ----------------------------------------------------------------------------

    async def place_order(self, token: str | None, body: OrderBody) -> Placed:
        """The order placed now, or the one this ``request_id`` placed before; else a
        StoreError (the refusal, or why the store cannot tell)."""
        user = await self.sessions.user_for(token)
        self._take_tokens(user)
        known = self._known_answer(user, body)
        if known is not None:
            placed = self._count_known(known)
            if isinstance(placed, Outcome):
                raise refusal(placed)
            return placed
        # Shared buckets cost a trip to the storage: only for requests that will need it anyway
        # (the sold-out flood is answered from memory above, for free).
        for kind, limiter in self.shared_limiters:
            self._rate_limited(await limiter.take(user if kind == "user" else ""))
        if self.pending >= self.max_pending:
            raise Unavailable("too many orders in progress, try again", retry_after=1)
        self.pending += 1
        generation = self.cache.generation(body.sku_id)
        # Every reservation carries a request id, the client's or one given here: when the
        # storage fails after the reservation was sent, a retry with it finds the order.
        fresh = body.request_id is None
        request_id = self._request_ids.next() if fresh else body.request_id
        try:
            result = await self.backend.reserve(
                Reservation(user, body.sku_id, body.qty, request_id, fresh_id=fresh)
            )
        except OutcomeUnknown as exc:
            self.metrics.count_order("outcome_unknown", "backend")
            exc.request_id = request_id
            raise
        except StoreError:
            raise
        except Exception as exc:  # a bug past the point where the step may have run
            log.exception("reservation failed; its outcome is unknown")
            self.metrics.count_order("outcome_unknown", "backend")
            raise OutcomeUnknown(
                "the order may or may not have been placed: retry with this request_id",
                request_id=request_id,
            ) from exc
        finally:
            self.pending -= 1
        self.metrics.count_order(result.outcome.value, "backend")
        return self._answer(body.sku_id, result, generation)

    def _take_tokens(self, user: str) -> None:
        wait = self.global_limiter.take() if self.global_limiter is not None else 0.0
        if not wait and self.user_limiter is not None:
            wait = self.user_limiter.take(user)
        self._rate_limited(wait)

    def _rate_limited(self, wait: float) -> None:
        if wait > 0:
            self.metrics.count_order("rate_limited", "limiter")
            raise RateLimited("too many requests", retry_after=max(1, math.ceil(wait)))

    def answer_now(self, token: str | None, body: OrderBody) -> Placed | Outcome | None:
        """What :meth:`place_order` would answer, when this process knows it now without I/O
        (a cached session, and an answer the cache knows: the flood at an opening); else None,
        having changed nothing. A refusal is returned as its outcome (:func:`refusal` is the
        error place_order raises for it), sparing the flood an exception each; rate limits are
        raised, as there."""
        user = self.sessions.known_user(token)
        if user is None:
            return None
        known = self._known_answer(user, body)
        if known is None:
            return None
        self._take_tokens(user)
        return self._count_known(known)

    def _known_answer(self, user: str, body: OrderBody) -> Order | Outcome | None:
        """The answer the cache already knows: a replayed order, a refusal, or None."""
        gone, refresh_due = self.cache.sold_out(body.sku_id)
        if refresh_due:
            self._flag_sold_out(body.sku_id)
        if gone is not None:
            order = gone.replays.get((user, body.request_id)) if body.request_id else None
            if order is not None:
                return order
            # The rules check the per-user limit before the stock.
            over = gone.bought.get(user, 0) + body.qty > gone.limit
            return Outcome.LIMIT_REACHED if over else Outcome.SOLD_OUT
        hit, item = self.cache.get(body.sku_id)
        if hit and item is None:
            return Outcome.NOT_FOUND
        if item is not None and self.now_ms() < item.sale_start_ms:
            return Outcome.NOT_STARTED
        return None

    def _count_known(self, known: Order | Outcome) -> Placed | Outcome:
        """Count an answer the cache knew: the replayed order, or the refusal."""
        if isinstance(known, Order):
            self.metrics.count_order(Outcome.REPLAYED.value, "cache")
            return Placed(known, True)
        self.metrics.count_order(known.value, "cache")
        return known

    def _answer(self, sku_id: str, result: ReservationResult, generation: int) -> Placed:
        if result.outcome in (Outcome.NOT_FOUND, Outcome.NOT_STARTED):
            # Early birds and typos are answered from memory until the item changes.
            self.cache.put(sku_id, result.item, generation)
        elif result.stock_left is not None:
            self.cache.update_stock(sku_id, result.stock_left)
            if result.stock_left == 0:
                self._flag_sold_out(sku_id)
        if result.outcome is Outcome.CREATED and result.order is not None:
            return Placed(result.order, False)
        if result.outcome is Outcome.REPLAYED and result.order is not None:
            return Placed(result.order, True)
        raise refusal(result.outcome)

    def _flag_sold_out(self, sku_id: str) -> None:
        """Load the item's replay map in the background, then switch on the fast path (or,
        if the item was restocked meanwhile, cache it as it is). One load per item at a time."""
        if sku_id in self._loading:
            return
        self._loading.add(sku_id)
        generation = self.cache.generation(sku_id)

        async def load() -> None:
            try:
                item, replays, bought = await self.backend.sold_out_snapshot(sku_id)
            except Unavailable:
                return
            finally:
                self._loading.discard(sku_id)
            if item is not None and item.stock == 0:
                self.cache.mark_sold_out(item, replays, generation, bought)
            else:
                self.cache.put(sku_id, item, generation)

        task = asyncio.get_running_loop().create_task(load())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def get_order(self, token: str | None, order_id: str) -> Order:
        """The caller's own order."""
        user = await self.sessions.user_for(token)
        order = await self.backend.get_order(order_id)
        if order is None or order.user != user:
            raise NotFound("no such order")
        return order

    async def my_orders(self, token: str | None, sku_id: str | None) -> list[Order]:
        """The caller's own orders, of one item or all."""
        user = await self.sessions.user_for(token)
        return await self.backend.list_orders(sku_id, user=user)

    async def list_orders(self, sku_id: str | None) -> list[Order]:
        """Every order (the admin's view), of one item or all."""
        return await self.backend.list_orders(sku_id)

    # -- items -----------------------------------------------------------------------------

    async def get_item(self, sku_id: str) -> Item:
        """The item, through the cache."""
        hit, item = self.cache.get(sku_id)
        if not hit:
            generation = self.cache.generation(sku_id)
            item = await self.backend.get_item(sku_id)
            self.cache.put(sku_id, item, generation)
        if item is None:
            raise NotFound("no such item")
        return item

    async def put_item(self, sku_id: str, body: ItemBody) -> Item:
        """Create or replace an item; clears this process's cached copy and sold-out flag."""
        item = body.to_item(sku_id)
        self.cache.invalidate(sku_id)
        stored = await self.backend.put_item(item)
        self.cache.invalidate(sku_id)
        return stored

    async def patch_item(self, sku_id: str, body: ItemPatchBody) -> Item:
        """Change the named fields only."""
        changes: dict[str, Any] = body.changes()
        if "sale_start" in changes:
            changes["sale_start_ms"] = epoch_ms(changes["sale_start"])
        self.cache.invalidate(sku_id)
        item = await self.backend.patch_item(sku_id, changes)
        self.cache.invalidate(sku_id)
        if item is None:
            raise NotFound("no such item")
        return item

    async def delete_item(self, sku_id: str) -> Item:
        """Remove an item (its orders stay); the item as it was. Other processes stop serving
        their cached copy within the cache TTL, as after a change."""
        self.cache.invalidate(sku_id)
        item = await self.backend.delete_item(sku_id)
        self.cache.invalidate(sku_id)
        if item is None:
            raise NotFound("no such item")
        return item

    # -- users -----------------------------------------------------------------------------

    async def create_users(self, body: UsersBody) -> list[tuple[str, str]]:
        """Create users, each with a fresh session; returns ``(user, session token)`` pairs.
        A user replaced (same name) has every earlier session revoked."""
        if body.user is not None and body.password is not None:
            names = [body.user]
            password_hash = await self.sessions.hasher.hash(body.password)
        else:
            batch = secrets.token_hex(4)
            names = [f"u{batch}-{i:05d}" for i in range(1, (body.count or 0) + 1)]
            password_hash = None
        issued = [(name, *self.sessions.new_session(name)) for name in names]
        mark = self.sessions.mark()
        revoked = await self.backend.create_users(
            [NewUser(name, password_hash, session) for name, _, session in issued]
        )
        self.sessions.forget(revoked)
        for _, _, session in issued:
            self.sessions.remember(session, mark)
        return [(name, token) for name, token, _ in issued]

    async def delete_user(self, user: str) -> int:
        """Remove a user: it can no longer log in, and every session of it is revoked (its
        orders stay); how many sessions were live. :class:`NotFound` if there is no such user."""
        removed, revoked = await self._delete_users([user])
        if not removed:
            raise NotFound("no such user")
        return revoked

    async def delete_users(self, body: UsersDeleteBody) -> tuple[int, int]:
        """Remove the named users as :meth:`delete_user` does (names that are not users are
        skipped); how many users were removed, and how many live sessions revoked."""
        removed, revoked = await self._delete_users(list(dict.fromkeys(body.users)))
        return len(removed), revoked

    async def _delete_users(self, users: list[str]) -> tuple[list[str], int]:
        if not users:
            return [], 0
        removed, revoked = await self.backend.delete_users(users)
        self.sessions.forget(revoked)
        return removed, len(revoked)

    async def login(self, user: str, password: str, client: str) -> str:
        """A new session's token, if the password is right and neither this client (address),
        nor this user from this client, nor this user's failed passwords from anywhere, have
        been tried too often."""
        for limit, name in ((self.login_client, client), (self.login_pair, f"{user}\0{client}")):
            if limit is not None:
                _login_refused(await limit.take(name))
        if self.login_user is not None:
            _login_refused(await self.login_user.wait(user))
        try:
            return await self.sessions.login(user, password)
        except Unauthorized:
            if self.login_user is not None:
                await self.login_user.take(user)
            raise

    @property
    def session_ttl_s(self) -> int:
        """How long a new session lives, in whole seconds (the session cookie's ``Max-Age``)."""
        return self.sessions.ttl_s

    async def user_for(self, token: str | None) -> str:
        """The user a session token belongs to; :class:`Unauthorized` if missing, unknown,
        revoked or expired."""
        return await self.sessions.user_for(token)

    async def logout(self, token: str | None) -> str:
        """Revoke the session on every worker and replica; the user it belonged to."""
        return await self.sessions.revoke(token)

    async def revoke_sessions(self, user: str) -> int:
        """Revoke every session of ``user``; how many were live."""
        return await self.sessions.revoke_user(user)

    async def aclose(self) -> None:
        """Wait for background work (sold-out snapshots, rehashes) to finish."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.sessions.aclose()
