"""Sessions, passwords and the admin token.

Session tokens are random (256 bits); the store keeps only their SHA-256, looks sessions up by
that hash and compares it in constant time, so neither the database nor response timing gives a
token away. Passwords are hashed with scrypt. The admin token is compared in constant time; with
no admin token configured every admin request is refused.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets

from sniper.clock import Clock, now_ms
from sniper.errors import Unauthorized
from sniper.store.backends.base import Backend
from sniper.store.models import Session

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P, _SCRYPT_LEN = 2**14, 8, 1, 32
_DUMMY_HASH = "scrypt$" + "A" * 22 + "$" + "A" * 43


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


def hash_password(password: str) -> str:
    """A salted scrypt hash, ``scrypt$SALT$HASH``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P,
                            dklen=_SCRYPT_LEN)
    return f"scrypt${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """True if ``password`` matches ``stored``; takes as long for an unknown user."""
    _, salt, digest = (stored or _DUMMY_HASH).split("$")
    computed = hashlib.scrypt(
        password.encode(), salt=_unb64(salt), n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P,
        dklen=_SCRYPT_LEN,
    )
    return hmac.compare_digest(computed, _unb64(digest)) and stored is not None


class Sessions:
    """Issues sessions and resolves tokens to users, with a per-process cache."""

    def __init__(self, backend: Backend, clock: Clock, ttl_s: float, max_cached: int = 200_000):
        self._backend, self._clock, self._ttl_ms = backend, clock, int(ttl_s * 1000)
        self._cache: dict[str, Session] = {}
        self._max_cached = max_cached

    def new_session(self, user: str) -> tuple[str, Session]:
        """A token and its session record (not yet stored)."""
        token = new_token()
        return token, Session(user, hash_token(token), now_ms(self._clock) + self._ttl_ms)

    def remember(self, session: Session) -> None:
        """Cache a session this process just stored, so that its first request at an opening
        does not wait for a database read."""
        if len(self._cache) >= self._max_cached:
            self._cache.clear()
        self._cache[session.token_hash] = session

    @property
    def ttl_s(self) -> int:
        """How long a session lives, in seconds."""
        return self._ttl_ms // 1000

    async def login(self, user: str, password: str) -> str:
        """Check the password and store a new session; returns its token."""
        stored = await self._backend.password_hash(user)
        if not await asyncio.to_thread(verify_password, password, stored):
            raise Unauthorized("wrong user or password")
        token, session = self.new_session(user)
        await self._backend.create_session(session)
        self.remember(session)
        return token

    async def user_for(self, token: str | None) -> str:
        """The user a token belongs to; :class:`Unauthorized` if missing, unknown or expired."""
        if not token:
            raise Unauthorized("log in first: no session cookie")
        token_hash = hash_token(token)
        session = self._cache.get(token_hash)
        if session is None:
            session = await self._backend.get_session(token_hash)
            if session is None or not hmac.compare_digest(session.token_hash, token_hash):
                raise Unauthorized("unknown session; log in again")
            if len(self._cache) >= self._max_cached:
                self._cache.clear()
            self._cache[token_hash] = session
        if session.expires_ms <= now_ms(self._clock):
            self._cache.pop(token_hash, None)
            raise Unauthorized("session expired; log in again")
        return session.user


class AdminGuard:
    """Checks ``Authorization: Bearer TOKEN`` against the configured admin token."""

    def __init__(self, token: str | None) -> None:
        self._token = token.encode() if token else None

    def check(self, authorization: str | None) -> None:
        """Raise :class:`Unauthorized` unless the header carries the admin token."""
        if self._token is None:
            raise Unauthorized("the admin API is closed: the store was started without a token")
        scheme, _, given = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                 self._token):
            raise Unauthorized("admin token missing or wrong")
