"""The store on Redis or Redis Cluster, for several replicas sharing one stock.

One Lua script (``lua/reserve_many.lua``) is the whole reservation step: it mirrors
:func:`sniper.store.rules.decide` check for check (the backend contract suite runs on both
backends to hold them together), takes the stock, counts the purchase, and records the order in the
SKU's order hash and stream before answering, so an order is in Redis before its ``201``. Items,
users and sessions live in Redis too, so any replica serves any user.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
from collections.abc import Mapping
from typing import Any, cast

from redis.asyncio.cluster import RedisCluster
from redis.cluster import PRIMARY

from sniper.clock import Clock, now_ms
from sniper.store.backends.base import Backend, ReplayOrders
from sniper.store.backends.records import ITEM_VALUES, item_from_text
from sniper.store.ids import OrderIdGenerator
from sniper.store.models import Item, NewUser, Order, Session
from sniper.store.redisdb.batch import ScriptBatcher
from sniper.store.redisdb.client import REDIS_ERRORS, Client, CommandSlots, connect, load_script
from sniper.store.redisdb.codec import order_from_json, order_json
from sniper.store.redisdb.keys import (
    MIGRATED,
    REVOKED,
    SKUS,
    known_skus,
    legacy_user_key,
    ready_key,
    session_key,
    sku_keys,
    user_key,
    user_sessions_key,
)
from sniper.store.redisdb.lock import LockLost, RedisLock
from sniper.store.redisdb.orders_db import order_table
from sniper.store.redisdb.persister import OrderPersister
from sniper.store.redisdb.pool import PoolPolicy
from sniper.store.redisdb.ratelimit import SharedBucket
from sniper.store.redisdb.reserve import ReserveBatcher
from sniper.store.rules import Outcome, Reservation, ReservationResult

log = logging.getLogger(__name__)

_SESSION_GRACE_MS = 60_000
_READY_TTL_MS = 60_000
#: Tags tried to find a key in every primary's slots (a few dozen cover any real cluster).
_READY_TAGS = 100_000
_CATALOG_ATTEMPTS = 3


def _scored(flat: list[str]) -> list[tuple[str, int]]:
    """A ``ZRANGE … WITHSCORES`` reply as (member, score) pairs."""
    return [(member, int(float(score))) for member, score in _pairs(flat)]


def _item_args(item: Item) -> list[Any]:
    """The item's hash fields as a script's ``field, value, …`` arguments."""
    return [v for f in ITEM_VALUES for v in (f, getattr(item, f))]


def _pairs(flat: list[str]) -> list[tuple[str, str]]:
    """A script's flat ``[field, value, ...]`` reply as pairs."""
    return list(zip(flat[::2], flat[1::2], strict=True))


def _item_from(sku_id: str, fields: Mapping[str, str] | list[str]) -> Item | None:
    if isinstance(fields, list):
        fields = dict(_pairs(fields))
    return item_from_text(sku_id, fields) if fields else None


def durability_warning(config: Mapping[str, str]) -> str | None:
    """What a crash of Redis could cost under this ``CONFIG GET append*``, or None when every
    acknowledged order is on Redis's disk before its reply (``appendfsync always``)."""
    if not config:
        return (
            "could not read Redis's persistence settings (CONFIG GET refused): acknowledged "
            "orders survive a Redis crash only with appendonly yes, appendfsync always"
        )
    if config.get("appendonly") != "yes":
        return (
            "Redis runs without its append-only file (appendonly no): a crash of Redis "
            "loses the acknowledged orders not yet copied to the orders database; "
            "run it with --appendonly yes --appendfsync always"
        )
    if config.get("appendfsync") != "always":
        return (
            f"Redis flushes its append-only file '{config.get('appendfsync')}', not "
            "'always': a power loss or kernel crash can lose the last second or two of "
            "acknowledged orders"
        )
    return None


class RedisBackend(Backend):
    """Items, users, sessions and orders in Redis (one server or a cluster)."""

    errors = REDIS_ERRORS

    #: The catalog lock: its TTL (renewed by its watchdog) and how long a replica waits for it.
    lock_ttl_ms = 10_000
    lock_wait_s = 60.0

    def __init__(
        self,
        url: str,
        clock: Clock,
        ids: OrderIdGenerator | None = None,
        *,
        orders_db: str | None = None,
        persister_max_workers: int = 8,
        persister_batch_timeout_s: float = 5.0,
        pg_timeout_s: float = 5.0,
        session_ttl_s: float = 86_400.0,
    ) -> None:
        super().__init__()
        self.url = url
        self._clock = clock
        self._ids = ids or OrderIdGenerator()
        self.client: Client = connect(url)
        self._slots = CommandSlots()
        self._ready_keys: list[str] = []
        self._reserve = ReserveBatcher(
            self.client, self._slots, load_script(self.client, "reserve_many")
        )
        self._snapshot = load_script(self.client, "snapshot")
        self._put = load_script(self.client, "put_item")
        self._patch = load_script(self.client, "patch_item")
        self._create = load_script(self.client, "create_item")
        self._take_sessions = ScriptBatcher(
            self.client, self._slots, load_script(self.client, "take_sessions")
        )
        self._add_session = ScriptBatcher(
            self.client, self._slots, load_script(self.client, "add_session")
        )
        self._delete_item = load_script(self.client, "delete_item")
        drop_user = load_script(self.client, "drop_user")
        self._drop_user = ScriptBatcher(self.client, self._slots, drop_user)
        self._swap_hash = load_script(self.client, "swap_hash")
        self._log_revoked = load_script(self.client, "log_revoked")
        end_session = load_script(self.client, "end_session")
        self._end_session = ScriptBatcher(self.client, self._slots, end_session)
        #: Loaded before a bulk removal: calls batched together, finding their script missing,
        #: would each be sent again alone (thousands of trips).
        self._removal_scripts = (drop_user.script, end_session.script)
        #: Revocation log entries are needed as long as the sessions they name could live.
        self._session_keep_ms = int(session_ttl_s * 1000) + _SESSION_GRACE_MS
        #: Copies orders into ``orders_db`` while the store runs (None: no copying).
        self.persister = (
            None
            if orders_db is None
            else OrderPersister(
                self.client,
                self._slots,
                order_table(orders_db, pg_timeout_s=pg_timeout_s),
                name=f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}",
                policy=PoolPolicy(max_workers=persister_max_workers),
                batch_timeout_s=persister_batch_timeout_s,
            )
        )

    def shared_limiter(self, kind: str, rate_per_s: float, burst: int) -> SharedBucket:
        """Buckets in Redis, shared by every replica."""
        return SharedBucket(self.client, self._slots, kind, rate_per_s, burst)

    async def open(self) -> None:
        """Check that Redis answers, load the hot scripts (there is no schema to create), move
        what older releases stored where this one looks for it, and open the order table (a
        table that refuses stops the start; a PostgreSQL that is down does not)."""
        await self.check()
        async with self._slots:
            await self.client.script_load(self._reserve.script.script)
        await self.migrate()
        if self.persister is not None:
            await self.persister.table.open()

    async def migrate(self) -> None:
        """Once per Redis, under a lock (replicas starting together do it once): users kept
        under :func:`legacy_user_key` move to :func:`user_key`, and sessions in no user's set
        (made before there were sets) join theirs, so that revoking a user finds them."""
        async with self._slots:
            if await self.client.exists(MIGRATED):
                return
        lock = RedisLock(self.client, self._slots, "migrate", ttl_ms=self.lock_ttl_ms)
        async with lock.held(wait_s=self.lock_wait_s):
            async with self._slots:
                if await self.client.exists(MIGRATED):
                    return
                users = [
                    key
                    async for key in self.client.scan_iter(match=legacy_user_key("*"), count=1000)
                    if "{" not in key
                ]
                sessions = [
                    key async for key in self.client.scan_iter(match=session_key("*"), count=1000)
                ]
            moved = 0
            for key in users:
                moved += (
                    await self._move_legacy_user(key.removeprefix(legacy_user_key(""))) is not None
                )
            joined = sum(await asyncio.gather(*(self._join_set(key) for key in sessions)))
            async with self._slots:
                await self.client.set(MIGRATED, now_ms(self._clock))
        if moved or joined:
            log.info(
                "moved %d users and %d sessions of an older release to this one's keys",
                moved,
                joined,
            )

    async def _join_set(self, key: str) -> int:
        """Put a stored session into its user's set (1), unless it is being revoked (0)."""
        async with self._slots:
            fields = cast("dict[str, str]", await self.client.hgetall(key))
        if not fields or "revoked" in fields or "user" not in fields:
            return 0
        session = Session(
            fields["user"], key.removeprefix(session_key("")), int(fields["expires_ms"])
        )
        if session.expires_ms <= now_ms(self._clock):
            return 0
        return int(await self._add_session(*self._session_entry(session)))

    async def start_background(self) -> None:
        """Say if Redis may lose acknowledged orders; start the order persister."""
        try:
            async with self._slots:
                config = await self.client.config_get("append*")
        except REDIS_ERRORS.kinds:  # CONFIG refused (a managed Redis): say that it is unknown
            config = {}
        warning = durability_warning(cast("dict[str, str]", config))
        if warning is not None:
            log.warning("%s", warning)
        if self.persister is not None:
            await self.persister.start()

    async def aclose(self) -> None:
        """Stop the persister (each worker finishes its batch), then close every connection."""
        try:
            if self.persister is not None:
                await self.persister.stop()
        finally:
            await self.client.aclose()

    async def check(self) -> None:
        """Raise ``Unavailable`` unless Redis answers a PING."""
        async with self._slots:
            await self.client.ping()

    async def probe_commit(self) -> None:
        """A short-lived write on every server that commits orders (a Redis refusing writes,
        out of memory or unable to persist, fails this where a PING passes). One key per
        server, not per SKU: anyone may poll ``/readyz``, so its cost must not grow with the
        catalog."""
        now = now_ms(self._clock)
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for key in self._probe_keys():
                pipe.set(key, now, px=_READY_TTL_MS)
            await pipe.execute()

    def _probe_keys(self) -> list[str]:
        """The server's one key; on a cluster a key in each primary's slots, found once (a slot
        moved later only puts two of them on one node, and the client follows the move)."""
        if not isinstance(self.client, RedisCluster):
            return [ready_key()]
        if not self._ready_keys:
            primaries = {n.name for n in self.client.get_nodes() if n.server_type == PRIMARY}
            found: dict[str, str] = {}
            for tag in range(_READY_TAGS):
                key = ready_key(str(tag))
                node = self.client.get_node_from_key(key)
                if node is not None and node.name in primaries:
                    found.setdefault(node.name, key)
                if len(found) == len(primaries):
                    break
            self._ready_keys = list(found.values())
        return self._ready_keys

    # -- the atomic step -------------------------------------------------------------------

    async def reserve(self, request: Reservation) -> ReservationResult:
        """Run the reservation script; a new order is in Redis when this returns."""
        now = now_ms(self._clock)
        order = Order(
            self._ids.next_id(now),
            request.sku_id,
            request.qty,
            request.user,
            now,
            request.request_id,
        )
        reply, item = await self._reserve(
            request.sku_id,
            [
                request.user,
                request.qty,
                request.request_id or "",
                now,
                order.order_id,
                order_json(order),
            ],
        )
        outcome = Outcome(reply[0])
        if outcome is Outcome.CREATED:
            return ReservationResult(outcome, order, int(reply[1]))
        if outcome is Outcome.REPLAYED:
            return ReservationResult(outcome, order_from_json(reply[2]))
        if outcome is Outcome.NOT_FOUND:
            return ReservationResult(outcome)
        refused_item = _item_from(request.sku_id, item) if item else None
        return ReservationResult(outcome, None, int(reply[1]), refused_item)

    # -- items -----------------------------------------------------------------------------

    async def get_item(self, sku_id: str) -> Item | None:
        """The item, or None."""
        async with self._slots:
            fields = await self.client.hgetall(sku_keys(sku_id).item)
        return _item_from(sku_id, cast("dict[str, str]", fields))

    async def put_item(self, item: Item) -> Item:
        """Create or replace; users' purchase counts and orders are kept."""
        async with self._slots:
            await self.client.sadd(SKUS, item.sku_id)
            await self._put(keys=[sku_keys(item.sku_id).item], args=_item_args(item))
        return item

    async def create_item(self, item: Item, fencing_token: int) -> int:
        """Create the item unless it exists (1 created, 0 there already, -1 fenced off: a
        newer lock holder has written this item)."""
        keys = sku_keys(item.sku_id)
        async with self._slots:
            await self.client.sadd(SKUS, item.sku_id)
            return int(
                await self._create(
                    keys=[keys.item, keys.fence], args=[fencing_token, *_item_args(item)]
                )
            )

    async def load_catalog(self, items: list[Item]) -> int:
        """Create the missing items under the ``catalog`` lock: replicas starting together load
        it once (the others wait, then find every item there); each write carries the lock's
        fencing token, so a holder that lost the lock while paused is refused. A replica that
        lost the lock takes it again and goes on: every write is "create if missing"."""
        created = 0
        for attempt in range(1, _CATALOG_ATTEMPTS + 1):
            lock = RedisLock(self.client, self._slots, "catalog", ttl_ms=self.lock_ttl_ms)
            try:
                async with lock.held(wait_s=self.lock_wait_s) as fence:
                    for item in items:
                        created += await self._create_fenced(item, fence, lock)
                return created
            except LockLost:
                if attempt == _CATALOG_ATTEMPTS:
                    raise
        raise AssertionError("unreachable: the last attempt returns or raises")

    async def _create_fenced(self, item: Item, fence: int, lock: RedisLock) -> int:
        if lock.lost.is_set():
            raise LockLost("the catalog lock expired while loading")
        done = await self.create_item(item, fence)
        if done < 0:
            raise LockLost("a newer holder of the catalog lock has written this item")
        return done

    async def patch_item(self, sku_id: str, changes: Mapping[str, Any]) -> Item | None:
        """Set only the named fields, atomically with respect to reservations."""
        args = [v for f in ITEM_VALUES if f in changes for v in (f, changes[f])]
        async with self._slots:
            fields = await self._patch(keys=[sku_keys(sku_id).item], args=args)
        return _item_from(sku_id, fields or [])

    async def delete_item(self, sku_id: str) -> Item | None:
        """Delete the item's hash in one step (a reservation after it finds no item); its
        orders, replays and buyers' units stay, and so does the SKU in :data:`SKUS` (its
        orders are listed, and copied to the order table, as before)."""
        async with self._slots:
            fields = await self._delete_item(keys=[sku_keys(sku_id).item])
        return _item_from(sku_id, fields or [])

    async def sold_out_snapshot(
        self, sku_id: str
    ) -> tuple[Item | None, ReplayOrders, dict[str, int]]:
        """Item, replayable orders and per-user units, read by one script at one instant."""
        keys = sku_keys(sku_id)
        async with self._slots:
            item_fields, bought, replays = await self._snapshot(
                keys=[keys.item, keys.bought, keys.replays, keys.orders]
            )
        orders: ReplayOrders = {}
        for key, raw in _pairs(replays):
            user, _, request_id = key.partition("\0")
            orders[(user, request_id)] = order_from_json(raw)
        return (_item_from(sku_id, item_fields), orders, {u: int(n) for u, n in _pairs(bought)})

    # -- users and sessions ----------------------------------------------------------------

    async def create_users(self, users: list[NewUser]) -> list[str]:
        """Store users (a known name gets the new password, its sessions revoked after that
        step) and their first sessions."""
        taken = await asyncio.gather(
            *(
                self._take_sessions(
                    [user_key(u.user), user_sessions_key(u.user)], [u.password_hash or ""]
                )
                for u in users
            )
        )
        revoked = await self._revoke(
            {u.user: _scored(flat) for u, flat in zip(users, taken, strict=True)}
        )
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for u in users:
                self._queue_session(pipe, u.session)
            await pipe.execute()
        await asyncio.gather(*(self._add_session(*self._session_entry(u.session)) for u in users))
        return revoked

    async def delete_users(self, users: list[str]) -> tuple[list[str], list[str]]:
        """Any hash still kept where older releases kept it goes first; then, per user, one
        script drops the password hash and reads the sessions (no login adds one after it),
        which are revoked as a replaced user's are."""
        async with self._slots:
            for script in self._removal_scripts:
                await self.client.script_load(script)
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for u in users:
                pipe.delete(legacy_user_key(u))
            legacy = await pipe.execute()
        dropped = await asyncio.gather(
            *(self._drop_user([user_key(u), user_sessions_key(u)], []) for u in users)
        )
        revoked = await self._revoke(
            {u: _scored(flat) for u, (_, flat) in zip(users, dropped, strict=True)}
        )
        found = [
            u for u, old, (there, _) in zip(users, legacy, dropped, strict=True) if old or there
        ]
        return found, revoked

    def _queue_session(self, pipe: Any, session: Session) -> None:
        key = session_key(session.token_hash)
        pipe.hset(key, mapping={"user": session.user, "expires_ms": session.expires_ms})
        # The store's clock (it may be skewed) decides validity; Redis's TTL only clears the
        # key away a minute after that.
        pipe.pexpire(key, self._lifetime_ms(session))

    def _lifetime_ms(self, session: Session) -> int:
        return max(0, session.expires_ms - now_ms(self._clock)) + _SESSION_GRACE_MS

    def _session_entry(
        self, session: Session, password_hash: str | None = None
    ) -> tuple[list[str], list[Any]]:
        """Keys and arguments of ``add_session.lua``."""
        args: list[Any] = [
            session.token_hash,
            session.expires_ms,
            self._lifetime_ms(session),
            now_ms(self._clock),
        ]
        if password_hash is not None:
            args.append(password_hash)
        return [user_key(session.user), user_sessions_key(session.user)], args

    async def password_hash(self, user: str) -> str | None:
        """The stored hash, if any; one kept where older releases kept it is moved first."""
        async with self._slots:
            stored = await self.client.get(user_key(user))
        if stored is None:
            stored = await self._move_legacy_user(user)
        return cast("str | None", stored) or None

    async def _move_legacy_user(self, user: str) -> str | None:
        """Copy a user kept under :func:`legacy_user_key` to :func:`user_key` (unless a newer
        one is there), drop the old key; the user's hash now."""
        async with self._slots:
            old = await self.client.get(legacy_user_key(user))
            if old is None:
                return None
            await self.client.set(user_key(user), old, nx=True)
            await self.client.delete(legacy_user_key(user))
            return cast("str | None", await self.client.get(user_key(user)))

    async def replace_password_hash(self, user: str, old: str, new: str) -> bool:
        """Compare and swap, in one script."""
        async with self._slots:
            return bool(await self._swap_hash(keys=[user_key(user)], args=[old, new]))

    async def create_session(self, session: Session, *, password_hash: str | None = None) -> bool:
        """Store the session; Redis drops it when it expires. With ``password_hash`` it joins
        its user's set only if that is still the user's hash, else it is deleted again."""
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            self._queue_session(pipe, session)
            await pipe.execute()
        if await self._add_session(*self._session_entry(session, password_hash)):
            return True
        async with self._slots:
            await self.client.delete(session_key(session.token_hash))
        return False

    async def get_session(self, token_hash: str) -> Session | None:
        """Look a session up by the hash of its token (one being revoked is none)."""
        async with self._slots:
            fields = cast("dict[str, str]", await self.client.hgetall(session_key(token_hash)))
        if not fields or "revoked" in fields:
            return None
        return Session(fields["user"], token_hash, int(fields["expires_ms"]))

    async def revoke_session(self, token_hash: str) -> Session | None:
        """Revoke one session (one whose revocation was cut short too: it is finished); an
        expired one is left to expire."""
        found = await self._end_session([session_key(token_hash)], [now_ms(self._clock)])
        if not found:
            return None
        session = Session(found[0], token_hash, int(found[1]))
        if session.expires_ms > now_ms(self._clock):
            await self._revoke({session.user: [(token_hash, session.expires_ms)]})
        return session

    async def revoke_sessions(self, user: str) -> list[str]:
        """Revoke every session in the user's set; the live ones."""
        taken = await self._take_sessions([user_key(user), user_sessions_key(user)], [])
        return await self._revoke({user: _scored(taken)})

    async def _revoke(self, sessions: dict[str, list[tuple[str, int]]]) -> list[str]:
        """Revoke these sessions (token hash, expiry, by user); the live ones. Each step can
        fail and be redone: first each is marked revoked (no process reads it any more on a
        cache miss), then the live ones are logged (processes drop them from their caches),
        and only then they leave their user's set and are deleted, so that a revocation cut
        short by a Redis error is finished by the next one (a retry of the logout, the admin
        revoke, the user's replacement)."""
        entries = [(user, h, expires) for user, pairs in sessions.items() for h, expires in pairs]
        if not entries:
            return []
        await asyncio.gather(*(self._end_session([session_key(h)], []) for _, h, _ in entries))
        now = now_ms(self._clock)
        live = [h for _, h, expires in entries if expires > now]
        for start in range(0, len(live), 1000):  # a script's arguments stay a sane size
            async with self._slots:
                await self._log_revoked(
                    keys=[REVOKED], args=[self._session_keep_ms, *live[start : start + 1000]]
                )
        await self._drop(sessions)
        return live

    async def _drop(self, sessions: dict[str, list[tuple[str, int]]]) -> None:
        """The last step of a revocation: the sessions leave their users' sets and go."""
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for user, pairs in sessions.items():
                if pairs:
                    pipe.zrem(user_sessions_key(user), *(h for h, _ in pairs))
                for h, _ in pairs:
                    pipe.delete(session_key(h))
            await pipe.execute()

    async def revocation_cursor(self) -> str:
        """The id of the log's last entry."""
        async with self._slots:
            last = await self.client.xrevrange(REVOKED, count=1)
        return str(last[0][0]) if last else "0-0"

    async def revoked_since(self, cursor: str) -> tuple[str, list[str]]:
        """The log's entries after ``cursor`` (an entry id)."""
        async with self._slots:
            entries = cast(
                "list[tuple[str, dict[str, str]]]",
                await self.client.xrange(REVOKED, min=f"({cursor}" if cursor else "-"),
            )
        if not entries:
            return cursor, []
        return str(entries[-1][0]), [fields["h"] for _, fields in entries]

    # -- orders ----------------------------------------------------------------------------

    async def get_order(self, order_id: str) -> Order | None:
        """The order, looked for in every SKU's order hash (a handful of items per sale)."""
        skus = await known_skus(self.client, self._slots)
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for sku in skus:
                pipe.hget(sku_keys(sku).orders, order_id)
            found = [raw for raw in await pipe.execute() if raw]
        return order_from_json(found[0]) if found else None

    async def list_orders(self, sku_id: str | None, *, user: str | None = None) -> list[Order]:
        """Orders sorted by id (which sorts by time); one user's are read through that user's
        index in each SKU, not by reading every order."""
        skus = [sku_id] if sku_id is not None else await known_skus(self.client, self._slots)
        if user is not None:
            return await self._orders_of(user, skus)
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for sku in skus:
                pipe.hvals(sku_keys(sku).orders)
            stored = await pipe.execute()
        return sorted(
            (order_from_json(raw) for values in stored for raw in values), key=lambda o: o.order_id
        )

    async def _orders_of(self, user: str, skus: list[str]) -> list[Order]:
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for sku in skus:
                pipe.hget(sku_keys(sku).by_user, user)
            ids = await pipe.execute()
        wanted = [(sku, joined.split(",")) for sku, joined in zip(skus, ids, strict=True) if joined]
        if not wanted:
            return []
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for sku, order_ids in wanted:
                pipe.hmget(sku_keys(sku).orders, order_ids)
            stored = await pipe.execute()
        return sorted(
            (order_from_json(raw) for values in stored for raw in values if raw),
            key=lambda o: o.order_id,
        )
