"""Sessions end: logout, a replaced user, an admin revoke, on this process and on another one
reading the same storage; logins are rate limited; passwords are hashed at today's cost."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import threading
from pathlib import Path

import httpx
import pytest

from sniper.clock import ManualClock
from sniper.errors import Unauthorized, Unavailable
from sniper.store.app import create_app
from sniper.store.auth import (
    LEGACY_SCRYPT,
    SCRYPT,
    Hasher,
    Sessions,
    hash_password,
    needs_rehash,
    verify_password,
)
from sniper.store.models import Order, Session
from sniper.store.redisdb.order_table import SqliteOrderTable
from sniper.store.service import StoreService
from sniper.store.settings import StoreSettings
from tests.conftest import ADMIN, T0_MS, in_process

Store = tuple[httpx.AsyncClient, StoreService]


def cookie(token: str) -> dict[str, str]:
    """The session cookie header."""
    return {"Cookie": f"session={token}"}


async def works(client: httpx.AsyncClient, token: str) -> int:
    """The status of a request that needs the session (the caller's orders)."""
    return (await client.get("/api/orders", headers=cookie(token))).status_code


async def new_user(client: httpx.AsyncClient, user: str, password: str) -> str:
    """Create (or replace) ``user``; its first session."""
    made = await client.post(
        "/admin/users", headers=ADMIN, json={"user": user, "password": password}
    )
    assert made.status_code == 201, made.text
    token: str = made.json()["users"][0]["session"]
    return token


async def login(client: httpx.AsyncClient, user: str, password: str) -> httpx.Response:
    """``POST /api/login``."""
    return await client.post("/api/login", json={"user": user, "password": password})


class TestRevocation:
    """Every way a session ends, seen from the process that ended it."""

    async def test_logout_revokes_the_session_only(self, store: Store) -> None:
        """200 and the cookie cleared; that session is 401 after, the user's others work."""
        client, _ = store
        first = await new_user(client, "ann", "pw-ann")
        second = (await login(client, "ann", "pw-ann")).cookies["session"]
        assert await works(client, first) == 200
        out = await client.post("/api/logout", headers=cookie(first))
        assert (out.status_code, out.json()) == (200, {"user": "ann"})
        assert 'session=""' in out.headers["set-cookie"]
        assert "Max-Age=0" in out.headers["set-cookie"]
        assert await works(client, first) == 401
        assert (await client.post("/api/logout", headers=cookie(first))).status_code == 401
        assert await works(client, second) == 200

    async def test_replacing_a_user_revokes_all_its_sessions(self, store: Store) -> None:
        """POST /admin/users with the same name: the old sessions and password stop working."""
        client, _ = store
        first = await new_user(client, "ann", "pw-old")
        second = (await login(client, "ann", "pw-old")).cookies["session"]
        third = await new_user(client, "ann", "pw-new")
        assert [await works(client, t) for t in (first, second, third)] == [401, 401, 200]
        assert (await login(client, "ann", "pw-old")).status_code == 401
        assert (await login(client, "ann", "pw-new")).status_code == 200

    async def test_admin_revokes_every_session_of_a_user(self, store: Store) -> None:
        """DELETE /admin/users/{user}/sessions: how many were live; nobody else's go."""
        client, _ = store
        ann = [await new_user(client, "ann", "pw-ann")]
        ann.append((await login(client, "ann", "pw-ann")).cookies["session"])
        bob = await new_user(client, "bob", "pw-bob")
        revoked = await client.delete("/admin/users/ann/sessions", headers=ADMIN)
        assert (revoked.status_code, revoked.json()) == (200, {"user": "ann", "revoked": 2})
        assert [await works(client, t) for t in ann] == [401, 401]
        assert await works(client, bob) == 200
        again = await client.delete("/admin/users/ann/sessions", headers=ADMIN)
        assert again.json() == {"user": "ann", "revoked": 0}
        assert (await login(client, "ann", "pw-ann")).status_code == 200  # the password stays


async def test_another_process_honours_a_revocation_within_the_cache_ttl(
    settings: StoreSettings, clock: ManualClock
) -> None:
    """Two stores on one SQLite file (as two workers are): a session cached by B and revoked
    through A is refused by B once B's cache is --cache-ttl old, without B hearing of it."""
    async with in_process(settings, clock) as (a, _), in_process(settings, clock) as (b, service_b):
        token = await new_user(a, "ann", "pw-ann")
        assert [await works(b, token) for _ in range(2)] == [200, 200]  # now in B's cache
        assert (await a.post("/api/logout", headers=cookie(token))).status_code == 200
        reads = service_b.backend.op_counts["revoked_since"]
        assert await works(b, token) == 200  # trusted for --cache-ttl: no read per request
        assert service_b.backend.op_counts["revoked_since"] == reads
        clock.advance(settings.cache_ttl_s)
        assert await works(b, token) == 401
        other = await new_user(a, "bob", "pw-bob")
        assert await works(b, other) == 200
        await new_user(a, "bob", "pw-bob-2")  # replaced through A
        clock.advance(settings.cache_ttl_s)
        assert await works(b, other) == 401


async def test_known_user_is_what_memory_alone_can_tell(
    settings: StoreSettings, clock: ManualClock
) -> None:
    """``known_user`` (the order lane's): the user of a session trusted now; None whenever only
    ``user_for`` can tell (a token not cached, the revocation log due for a read, expired)."""
    async with in_process(settings, clock) as (client, service):
        sessions = service.sessions
        token = await new_user(client, "ann", "pw-ann")
        with pytest.raises(Unauthorized):
            sessions.known_user(None)
        assert sessions.known_user(token) is None  # the log not read yet: not trusted
        assert await works(client, token) == 200
        assert sessions.known_user(token) == "ann"
        assert sessions.known_user("never-issued") is None
        clock.advance(settings.cache_ttl_s)
        assert sessions.known_user(token) is None  # due for a read
        assert await works(client, token) == 200
        assert sessions.known_user(token) == "ann"
        clock.advance(sessions.ttl_s)
        bob = await new_user(client, "bob", "pw-bob")
        assert await works(client, bob) == 200  # the log read again: trusted for a while
        assert sessions.known_user(bob) == "bob"
        assert sessions.known_user(token) is None  # expired


async def test_a_fractional_session_ttl_is_a_cookie_that_lives(
    settings: StoreSettings, clock: ManualClock
) -> None:
    """SNIPER_SESSION_TTL_S=0.5: the cookie's Max-Age is 1 (rounded up), not 0 (deleted)."""
    short = settings.model_copy(update={"session_ttl_s": 0.5})
    async with in_process(short, clock) as (client, _):
        await new_user(client, "ann", "pw-ann")
        answer = await login(client, "ann", "pw-ann")
        assert "Max-Age=1;" in answer.headers["set-cookie"] + ";"
        assert await works(client, answer.cookies["session"]) == 200
        clock.advance(0.5)
        assert await works(client, answer.cookies["session"]) == 401


class TestLoginLimits:
    """Wrong guesses are answered 429 past a small burst, per user and per client address."""

    async def test_per_user(self, settings: StoreSettings, clock: ManualClock) -> None:
        """Burst 3 for one user: the 4th attempt is 429 + Retry-After, even with the right
        password; another user is not affected; time refills the bucket."""
        tight = settings.model_copy(update={"login_user_burst": 3, "login_user_rate_per_s": 0.5})
        async with in_process(tight, clock) as (client, _):
            await new_user(client, "ann", "pw-ann")
            await new_user(client, "bob", "pw-bob")
            codes = [(await login(client, "ann", "wrong")).status_code for _ in range(3)]
            assert codes == [401, 401, 401]
            limited = await login(client, "ann", "pw-ann")
            assert (limited.status_code, limited.json()["error"]) == (429, "rate_limited")
            assert limited.headers["retry-after"] == "2"
            assert "set-cookie" not in limited.headers
            assert (await login(client, "bob", "pw-bob")).status_code == 200
            clock.advance(2.0)
            assert (await login(client, "ann", "pw-ann")).status_code == 200

    async def test_per_client(self, settings: StoreSettings, clock: ManualClock) -> None:
        """Burst 4 for one address, each guess on another user: the 5th is 429."""
        tight = settings.model_copy(
            update={"login_client_burst": 4, "login_client_rate_per_s": 1.0}
        )
        async with in_process(tight, clock) as (client, _):
            codes = [(await login(client, f"user{i}", "guess")).status_code for i in range(5)]
            assert codes == [401, 401, 401, 401, 429]

    async def test_a_guesser_cannot_lock_a_user_out(
        self, settings: StoreSettings, clock: ManualClock
    ) -> None:
        """A guesser spends its own buckets: refused by its client limit, its tries take nothing
        from the user's; past its (user, client) burst, the user with the right password still
        gets in from another address. Only failures from many addresses fill the user's own
        bucket (10 times the pair's), and then the right password waits too."""
        tight = settings.model_copy(
            update={"login_user_burst": 3, "login_user_rate_per_s": 0.05, "login_client_burst": 4}
        )
        app = create_app(tight, clock=clock)

        def client(ip: str) -> httpx.AsyncClient:
            return httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(ip, 1)), base_url="http://store"
            )

        async with app.lifespan(), client("10.0.0.9") as admin:
            await new_user(admin, "ann", "pw-ann")

            async with client("10.0.0.66") as evil, client("10.0.0.1") as ann:
                codes = [(await login(evil, f"x{i}", "guess")).status_code for i in range(4)]
                assert codes == [401] * 4
                codes = [(await login(evil, "ann", "guess")).status_code for _ in range(5)]
                assert codes == [429] * 5  # its client limit: ann's buckets untouched
            async with client("10.0.0.67") as evil, client("10.0.0.1") as ann:
                codes = [(await login(evil, "ann", "guess")).status_code for _ in range(4)]
                assert codes == [401, 401, 401, 429]
                assert (await login(ann, "ann", "pw-ann")).status_code == 200
            for i in range(9):  # 3 failures from each of 9 more addresses: 30 in all
                async with client(f"10.0.1.{i}") as evil:
                    for _ in range(3):
                        assert (await login(evil, "ann", "guess")).status_code == 401
            async with client("10.0.0.2") as ann:
                limited = await login(ann, "ann", "pw-ann")
                assert limited.status_code == 429


class _FullForHashes(Hasher):
    """A pool that checks passwords but, full, refuses to make new hashes."""

    async def hash(self, password: str) -> str:
        raise Unavailable("too many logins in progress, try again", retry_after=1)


class TestPasswords:
    """scrypt at OWASP's minimum, older hashes still read and upgraded, a bounded pool."""

    def test_new_hashes_use_n_2_17(self) -> None:
        """N=2^17, r=8, p=1 are written into the hash, which verifies."""
        stored = hash_password("pw")
        assert stored.startswith("scrypt$ln=17,r=8,p=1$")
        assert SCRYPT.maxmem > 128 * 8 * 2**17  # OpenSSL's default limit would refuse it
        assert verify_password("pw", stored)
        assert not verify_password("wrong", stored)
        assert not needs_rehash(stored)

    async def test_an_old_hash_logs_in_and_is_upgraded(self, store: Store) -> None:
        """A hash of the N=2^14 days (``scrypt$SALT$HASH``) still logs in; the login rewrites
        it with today's parameters, and the same password keeps working."""
        client, service = store
        await new_user(client, "ann", "placeholder")
        salt = b"0123456789abcdef"
        digest = hashlib.scrypt(b"pw-old-days", salt=salt, n=2**14, r=8, p=1, dklen=32)
        legacy = "scrypt${}${}".format(
            *(base64.urlsafe_b64encode(x).decode().rstrip("=") for x in (salt, digest))
        )
        assert needs_rehash(legacy)
        assert await service.backend.replace_password_hash(
            "ann", await service.backend.password_hash("ann") or "", legacy
        )
        assert (await login(client, "ann", "pw-old-days")).status_code == 200
        await service.sessions.aclose()  # the rehash runs after the answer
        upgraded = await service.backend.password_hash("ann")
        assert upgraded is not None
        assert upgraded.startswith("scrypt$ln=17,r=8,p=1$")
        assert (await login(client, "ann", "pw-old-days")).status_code == 200

    async def test_a_busy_pool_never_fails_a_login_for_its_rehash(self, store: Store) -> None:
        """The pool full when an old hash is to be rewritten: the login still succeeds (the
        rehash waits for a later login)."""
        client, service = store
        await new_user(client, "ann", "placeholder")
        legacy = hash_password("pw-old-days", LEGACY_SCRYPT)
        assert await service.backend.replace_password_hash(
            "ann", await service.backend.password_hash("ann") or "", legacy
        )
        service.sessions.hasher = _FullForHashes()
        answer = await login(client, "ann", "pw-old-days")
        assert answer.status_code == 200
        assert await works(client, answer.cookies["session"]) == 200
        await service.sessions.aclose()
        assert await service.backend.password_hash("ann") == legacy

    async def test_the_pool_bounds_hashes_at_once_and_waiting(self) -> None:
        """Two threads: never more than two run together; past the waiting limit, 503."""
        hasher = Hasher(threads=2, max_waiting=4)
        release = threading.Event()
        lock = threading.Lock()
        running, most = 0, 0

        def slow(_: str) -> str:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            release.wait(30)
            with lock:
                running -= 1
            return "done"

        calls = [asyncio.create_task(hasher._run(slow, "x")) for _ in range(4)]
        await asyncio.sleep(0)  # all four are queued
        with pytest.raises(Unavailable, match="too many logins"):
            await hasher._run(slow, "x")
        release.set()
        assert await asyncio.gather(*calls) == ["done"] * 4
        assert most == 2


def _modes(folder: Path, pattern: str) -> dict[str, int]:
    return {p.name: p.stat().st_mode & 0o777 for p in folder.glob(pattern)}


async def test_the_store_files_are_private(tmp_path: Path, clock: ManualClock) -> None:
    """The SQLite store file and its -wal and -shm, and the Redis store's orders-db file, are
    0600 (they hold password and session hashes, and every order)."""
    settings = StoreSettings(store=f"sqlite:///{tmp_path / 'store.db'}", admin_token="t" * 20)
    async with in_process(settings, clock) as (client, _):
        made = await client.post(
            "/admin/users", json={"count": 1}, headers={"Authorization": "Bearer " + "t" * 20}
        )
        assert made.status_code == 201
        modes = _modes(tmp_path, "store.db*")
    assert modes == {"store.db": 0o600, "store.db-wal": 0o600, "store.db-shm": 0o600}
    table = SqliteOrderTable(f"sqlite:///{tmp_path / 'orders.db'}")
    try:
        await table.insert([Order("20240415070000000000001", "eggs", 1, "ann", T0_MS)])
        modes = _modes(tmp_path, "orders.db*")
    finally:
        await table.close()
    assert modes == {"orders.db": 0o600, "orders.db-wal": 0o600, "orders.db-shm": 0o600}


class _Log:
    """The two calls of a backend that the session cache makes, over a revocation log in a
    list (pure logic: the real backends run the same contract in tests/store/backends)."""

    def __init__(self) -> None:
        self.revoked: list[str] = []
        self.reads = 0

    async def revoked_since(self, cursor: str) -> tuple[str, list[str]]:
        start = int(cursor or 0)
        return str(len(self.revoked)), self.revoked[start:]

    async def get_session(self, token_hash: str) -> None:
        self.reads += 1


async def test_a_session_revoked_while_being_stored_is_not_cached(clock: ManualClock) -> None:
    """A log read that finishes between storing a session and caching it: if it revoked that
    session, the cache does not take it (the next request asks the storage); if it revoked
    others, the session is cached as usual."""
    log = _Log()
    sessions = Sessions(log, clock, 3600)  # type: ignore[arg-type]  # the two calls above
    token_c, c = sessions.new_session("cyd")
    sessions.remember(c, sessions.mark())
    (token_a, a), (token_b, b) = sessions.new_session("ann"), sessions.new_session("bob")
    mark = sessions.mark()  # ann and bob are being stored ...
    log.revoked.append(a.token_hash)  # ... and ann's revoked by another process meanwhile
    clock.advance(1.0)
    assert await sessions.user_for(token_c) == "cyd"  # this request reads the log
    sessions.remember(a, mark)
    sessions.remember(b, mark)
    assert await sessions.user_for(token_b) == "bob"
    assert log.reads == 0
    with pytest.raises(Unauthorized):
        await sessions.user_for(token_a)
    assert log.reads == 1


class _SlowLog(_Log):
    """A log whose first read is taken at once but answered only when ``gate`` opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.slow_reads = 1

    async def revoked_since(self, cursor: str) -> tuple[str, list[str]]:
        answer = await super().revoked_since(cursor)
        if self.slow_reads:
            self.slow_reads -= 1
            await self.gate.wait()
        return answer


async def test_a_request_does_not_trust_a_log_read_older_than_the_cache_ttl(
    clock: ManualClock,
) -> None:
    """A slow read of the log, started before a revocation, is still running when a request
    comes more than --cache-ttl after it: that request waits for a fresh read, not the old one."""
    log = _SlowLog()
    sessions = Sessions(log, clock, 3600, recheck_s=1.0)  # type: ignore[arg-type]
    (token_a, a), (token_c, c) = sessions.new_session("ann"), sessions.new_session("cyd")
    for session in (a, c):
        sessions.remember(session, sessions.mark())
    first = asyncio.create_task(sessions.user_for(token_c))  # starts the slow read
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert log.slow_reads == 0  # the slow read is under way
    log.revoked.append(a.token_hash)
    clock.advance(1.5)
    later = asyncio.create_task(sessions.user_for(token_a))
    await asyncio.sleep(0)
    log.gate.set()
    assert await first == "cyd"
    with pytest.raises(Unauthorized):
        await later


class _SlowSessions(_Log):
    """Sessions in a dict; the first read of one is answered only when ``gate`` opens."""

    def __init__(self) -> None:
        super().__init__()
        self.stored: dict[str, Session] = {}
        self.gate = asyncio.Event()
        self.slow_reads = 1

    async def get_session(self, token_hash: str) -> Session | None:  # type: ignore[override]
        found = self.stored.get(token_hash)
        if self.slow_reads:
            self.slow_reads -= 1
            await self.gate.wait()
        return found

    async def revoke_session(self, token_hash: str) -> Session | None:
        self.revoked.append(token_hash)
        return self.stored.pop(token_hash, None)


async def test_a_read_under_way_when_this_process_revokes_does_not_cache(
    clock: ManualClock,
) -> None:
    """A request's read of a session is still under way when this process logs that session
    out: the read answers, but the session is not cached, and the next request is refused at
    once (not only after --cache-ttl)."""
    storage = _SlowSessions()
    sessions = Sessions(storage, clock, 3600, recheck_s=1.0)  # type: ignore[arg-type]
    token, session = sessions.new_session("ann")
    storage.stored[session.token_hash] = session
    other_token, other = sessions.new_session("bob")
    sessions.remember(other, sessions.mark())
    assert await sessions.user_for(other_token) == "bob"  # the log is read: fresh for 1 s
    reading = asyncio.create_task(sessions.user_for(token))
    for _ in range(3):
        await asyncio.sleep(0)
    assert storage.slow_reads == 0  # ann's read is under way
    assert await sessions.revoke(token) == "ann"
    storage.gate.set()
    assert await reading == "ann"
    with pytest.raises(Unauthorized):
        await sessions.user_for(token)
