"""Sessions, passwords and the admin token.

Session tokens are random (256 bits); the store keeps only their SHA-256, looks sessions up by
that hash and compares it in constant time, so neither the database nor response timing gives a
token away. Passwords are hashed with scrypt at OWASP's minimum (N=2^17, r=8, p=1), on a small
pool of threads of their own: a hash takes ~0.3 s and 128 MiB, so the event loop never waits on
one and a login flood cannot run more than a few at once. The admin token is compared in constant
time; with no admin token configured every admin request is refused.

Each process caches sessions. A revoked session (logout, user replaced, admin revoke) is deleted
from the storage and written to its revocation log; before trusting its cache, a process reads the
log entries added since its last look, at most ``recheck_s`` seconds old (``--cache-ttl``), so a
revoked session stops working on every worker and replica within that time.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import math
import secrets
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar

from sniper.clock import Clock, now_ms
from sniper.errors import Unauthorized, Unavailable
from sniper.store.backends.base import Backend
from sniper.store.models import Session

T = TypeVar("T")


class ScryptParams(NamedTuple):
    """scrypt's cost: N = 2**log_n, block size r, parallelism p."""

    log_n: int
    r: int
    p: int

    def tag(self) -> str:
        """The parameters as written in a hash: ``ln=17,r=8,p=1``."""
        return f"ln={self.log_n},r={self.r},p={self.p}"

    @property
    def maxmem(self) -> int:
        """Memory OpenSSL may use: scrypt needs 128·r·N bytes (and a little more); its default
        limit (32 MiB) would refuse N=2^17."""
        return 129 * self.r * (1 << self.log_n) * self.p + 1024 * 1024


#: What new hashes use (OWASP's minimum for scrypt).
SCRYPT = ScryptParams(17, 8, 1)
#: Hashes written as ``scrypt$SALT$HASH`` (without parameters) used these; still readable.
LEGACY_SCRYPT = ScryptParams(14, 8, 1)
_MAX_LOG_N, _MAX_R, _MAX_P = 20, 16, 4  # a stored hash asking more than this is refused
_KEY_LEN = 32
_DUMMY_HASH = f"scrypt${SCRYPT.tag()}$" + "A" * 22 + "$" + "A" * 43
#: scrypt computations at once per process (each takes 128 MiB), and how many may wait.
HASH_THREADS = 2
MAX_WAITING_HASHES = 32
#: Reads of the revocation log remembered (about one per --cache-ttl) for sessions being stored.
_RECENT_READS = 64
#: Sessions this process dropped from its cache lately, never to be cached again (a read of
#: the storage still in flight when they were revoked may come back with them).
_FORGOTTEN = 65_536


def new_token() -> str:
    """A fresh random session token."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """What the store keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=1 << params.log_n,
        r=params.r,
        p=params.p,
        maxmem=params.maxmem,
        dklen=_KEY_LEN,
    )


def hash_password(password: str, params: ScryptParams = SCRYPT) -> str:
    """A salted scrypt hash, ``scrypt$ln=17,r=8,p=1$SALT$HASH``."""
    salt = secrets.token_bytes(16)
    return f"scrypt${params.tag()}${_b64(salt)}${_b64(_scrypt(password, salt, params))}"


def _parse(stored: str) -> tuple[ScryptParams, bytes, bytes]:
    """Parameters, salt and digest of a stored hash; ValueError if it is not one of ours."""
    parts = stored.split("$")
    if parts[0] != "scrypt" or len(parts) not in (3, 4):
        raise ValueError("not a scrypt hash")
    params = LEGACY_SCRYPT
    if len(parts) == 4:
        fields = dict(kv.partition("=")[::2] for kv in parts[1].split(","))
        params = ScryptParams(int(fields["ln"]), int(fields["r"]), int(fields["p"]))
        if not (
            1 <= params.log_n <= _MAX_LOG_N and 1 <= params.r <= _MAX_R and 1 <= params.p <= _MAX_P
        ):
            raise ValueError("scrypt parameters out of range")
    return params, _unb64(parts[-2]), _unb64(parts[-1])


def verify_password(password: str, stored: str | None) -> bool:
    """True if ``password`` matches ``stored``; takes as long for an unknown user."""
    try:
        params, salt, digest = _parse(stored or _DUMMY_HASH)
    except (ValueError, KeyError):
        params, salt, digest = _parse(_DUMMY_HASH)
        stored = None
    computed = _scrypt(password, salt, params)
    return hmac.compare_digest(computed, digest) and stored is not None


def needs_rehash(stored: str) -> bool:
    """True if ``stored`` was made with other parameters than today's."""
    try:
        return _parse(stored)[0] != SCRYPT
    except (ValueError, KeyError):
        return False


class Hasher:
    """Runs scrypt on its own few threads: at most :data:`HASH_THREADS` at once (memory), and
    at most :data:`MAX_WAITING_HASHES` waiting (latency) before ``503 unavailable``."""

    def __init__(self, threads: int = HASH_THREADS, max_waiting: int = MAX_WAITING_HASHES):
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="scrypt")
        self._max_waiting = max_waiting
        self._waiting = 0

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        if self._waiting >= self._max_waiting:
            raise Unavailable("too many logins in progress, try again", retry_after=1)
        self._waiting += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self._waiting -= 1

    async def hash(self, password: str) -> str:
        """:func:`hash_password` off the event loop."""
        return await self._run(hash_password, password)

    async def verify(self, password: str, stored: str | None) -> bool:
        """:func:`verify_password` off the event loop."""
        return await self._run(verify_password, password, stored)


class Sessions:
    """Issues sessions and resolves tokens to users, with a per-process cache that honours
    revocations made anywhere within ``recheck_s`` seconds."""

    def __init__(
        self,
        backend: Backend,
        clock: Clock,
        ttl_s: float,
        *,
        recheck_s: float = 1.0,
        max_cached: int = 200_000,
        hasher: Hasher | None = None,
    ):
        self._backend, self._clock = backend, clock
        self._ttl_ms = max(1, math.ceil(ttl_s * 1000))
        self._cache: dict[str, Session] = {}
        self._max_cached = max_cached
        self._recheck_s = recheck_s
        self.hasher = hasher or Hasher()
        #: Where this process has read the revocation log up to ("" = from its start).
        self._cursor = ""
        #: Cached entries are trusted until then (monotonic seconds).
        self._fresh_until = -math.inf
        self._syncing: asyncio.Task[None] | None = None
        #: Completed reads of the log, and what the last ones revoked: a session stored or read
        #: before one of them finished is cached only if that read did not revoke it.
        self._epoch = 0
        self._recent: deque[tuple[int, frozenset[str]]] = deque(maxlen=_RECENT_READS)
        #: Token hashes dropped by :meth:`forget`, oldest first (a dict as an ordered set).
        self._forgotten: dict[str, None] = {}
        self._rehashing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Start reading the revocation log from now (nothing is cached yet)."""
        self._cursor = await self._backend.revocation_cursor()

    def new_session(self, user: str) -> tuple[str, Session]:
        """A token and its session record (not yet stored)."""
        token = new_token()
        return token, Session(user, hash_token(token), now_ms(self._clock) + self._ttl_ms)

    def mark(self) -> int:
        """Take before storing or reading sessions that :meth:`remember` will cache."""
        return self._epoch

    def remember(self, session: Session, mark: int) -> None:
        """Cache a session this process just stored (or read), so that its first request at an
        opening does not wait for a database read; not if a read of the revocation log since
        ``mark`` revoked it (or is too long ago to tell)."""
        if session.token_hash in self._forgotten:
            return
        if mark != self._epoch and not self._unrevoked_since(mark, session.token_hash):
            return
        if len(self._cache) >= self._max_cached:
            self._cache.clear()
        self._cache[session.token_hash] = session

    def _unrevoked_since(self, mark: int, token_hash: str) -> bool:
        if not self._recent or self._recent[0][0] > mark + 1:
            return False
        return all(token_hash not in revoked for epoch, revoked in self._recent if epoch > mark)

    def forget(self, token_hashes: list[str]) -> None:
        """Drop revoked sessions from this process's cache, and keep them out of it: a read
        of one that was under way meanwhile does not cache it again."""
        for token_hash in token_hashes:
            self._cache.pop(token_hash, None)
            self._forgotten.pop(token_hash, None)
            self._forgotten[token_hash] = None
        while len(self._forgotten) > _FORGOTTEN:
            del self._forgotten[next(iter(self._forgotten))]

    @property
    def ttl_s(self) -> int:
        """How long a session lives, in whole seconds rounded up (a cookie's ``Max-Age``)."""
        return math.ceil(self._ttl_ms / 1000)

    async def login(self, user: str, password: str) -> str:
        """Check the password and store a new session; returns its token. A hash made with
        older parameters is replaced by today's (the password is at hand only now)."""
        stored = await self._backend.password_hash(user)
        if not await self.hasher.verify(password, stored):
            raise Unauthorized("wrong user or password")
        assert stored is not None
        token, session = self.new_session(user)
        mark = self.mark()
        # Only if the password is still the one checked: a user replaced meanwhile has had
        # every session revoked, and this one must not slip in after that.
        if not await self._backend.create_session(session, password_hash=stored):
            raise Unauthorized("wrong user or password")
        self.remember(session, mark)
        if needs_rehash(stored):
            task = asyncio.get_running_loop().create_task(self._rehash(user, stored, password))
            self._rehashing.add(task)
            task.add_done_callback(self._rehashing.discard)
        return token

    async def _rehash(self, user: str, stored: str, password: str) -> None:
        """Rewrite an older hash at today's cost, after the login has been answered; when the
        pool is busy or the storage fails, the next login tries again."""
        with contextlib.suppress(Unavailable):
            await self._backend.replace_password_hash(
                user, stored, await self.hasher.hash(password)
            )

    async def aclose(self) -> None:
        """Wait for the rehashes under way."""
        if self._rehashing:
            await asyncio.gather(*self._rehashing, return_exceptions=True)

    def known_user(self, token: str | None) -> str | None:
        """The user of a live session this process knows now, without I/O; None when only
        :meth:`user_for` can tell (not cached, the revocation log due for a read, or expired).
        :class:`Unauthorized` without a token."""
        if not token:
            raise Unauthorized("log in first: no session cookie")
        if self._clock.monotonic() >= self._fresh_until:
            return None
        session = self._cache.get(hash_token(token))
        if session is None or session.expires_ms <= now_ms(self._clock):
            return None
        return session.user

    async def user_for(self, token: str | None) -> str:
        """The user a token belongs to; :class:`Unauthorized` if missing, unknown, revoked or
        expired."""
        user = self.known_user(token)
        if user is not None:
            return user
        assert token  # known_user refused a missing one
        token_hash = hash_token(token)
        session = self._cache.get(token_hash)
        if session is not None and self._clock.monotonic() >= self._fresh_until:
            await self._sync()
            session = self._cache.get(token_hash)
        if session is None:
            mark = self.mark()
            session = await self._backend.get_session(token_hash)
            if session is None or not hmac.compare_digest(session.token_hash, token_hash):
                raise Unauthorized("unknown session; log in again")
            self.remember(session, mark)
        if session.expires_ms <= now_ms(self._clock):
            self._cache.pop(token_hash, None)
            raise Unauthorized("session expired; log in again")
        return session.user

    async def _sync(self) -> None:
        """Read the revocation log (one read shared by every request that needs it). A read
        that started more than ``recheck_s`` before this request may predate a revocation the
        request must see: then another read follows it."""
        due = self._clock.monotonic()
        while self._fresh_until <= due:
            task = self._syncing
            if task is None:
                task = self._syncing = asyncio.get_running_loop().create_task(self._read_log())
            try:
                await asyncio.shield(task)
            finally:
                if task.done() and self._syncing is task:
                    self._syncing = None

    async def _read_log(self) -> None:
        started = self._clock.monotonic()
        self._cursor, revoked = await self._backend.revoked_since(self._cursor)
        self.forget(revoked)
        self._epoch += 1
        self._recent.append((self._epoch, frozenset(revoked)))
        self._fresh_until = started + self._recheck_s

    async def revoke(self, token: str | None) -> str:
        """Log a session out everywhere; the user it belonged to. Asked again after an error,
        it finishes what the first call left."""
        if not token:
            raise Unauthorized("log in first: no session cookie")
        token_hash = hash_token(token)
        self.forget([token_hash])
        session = await self._backend.revoke_session(token_hash)
        if session is None:
            raise Unauthorized("unknown session; log in again")
        if session.expires_ms <= now_ms(self._clock):
            raise Unauthorized("session expired; log in again")
        return session.user

    async def revoke_user(self, user: str) -> int:
        """Revoke every session of ``user``; how many were live."""
        revoked = await self._backend.revoke_sessions(user)
        self.forget(revoked)
        return len(revoked)


class AdminGuard:
    """Checks ``Authorization: Bearer TOKEN`` against the configured admin token."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None

    def check(self, authorization: str | None) -> None:
        """Raise :class:`Unauthorized` unless the header carries the admin token."""
        if self._token is None:
            raise Unauthorized("the admin API is closed: the store was started without a token")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self._token
        ):
            raise Unauthorized("admin token missing or wrong")
