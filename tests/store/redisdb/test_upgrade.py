"""A Redis written by the release before per-user hash tags and session sets: its users log in,
and revoking a user ends its sessions from then too, on every process."""

from __future__ import annotations

import pytest

from sniper.clock import ManualClock
from sniper.errors import Unauthorized
from sniper.store.auth import LEGACY_SCRYPT, Sessions, hash_password, hash_token, new_token
from sniper.store.redisdb.backend import RedisBackend
from sniper.store.redisdb.client import connect
from tests.conftest import T0_MS

DAY_MS = 86_400_000


def _old_format_hash(password: str) -> str:
    """What the first releases wrote: ``scrypt$SALT$HASH`` at N=2^14."""
    _, _, salt, digest = hash_password(password, LEGACY_SCRYPT).split("$")
    return f"scrypt${salt}${digest}"


async def _write_as_the_old_release(url: str, user: str, password: str) -> str:
    """A user and a session as the release before stored them (no hash tag, no set); the
    session's token."""
    client = connect(url)
    try:
        await client.set(f"sniper:user:{user}", _old_format_hash(password))
        token = new_token()
        key = f"sniper:session:{hash_token(token)}"
        await client.hset(key, mapping={"user": user, "expires_ms": T0_MS + DAY_MS})
        await client.pexpire(key, DAY_MS + 60_000)
        return token
    finally:
        await client.aclose()


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cluster", marks=pytest.mark.cluster),
    ]
)
def url(request: pytest.FixtureRequest) -> str:
    """A private Redis, or cluster, emptied."""
    return str(request.getfixturevalue(f"{request.param}_url"))


async def _sessions(url: str, clock: ManualClock) -> tuple[RedisBackend, Sessions]:
    backend = RedisBackend(url, clock)
    await backend.open()
    sessions = Sessions(backend, clock, 3600)
    await sessions.start()
    return backend, sessions


async def test_users_and_sessions_of_the_old_release_carry_on(url: str, clock: ManualClock) -> None:
    """Written before the upgrade: the user logs in with its password, its old session works
    until an admin revoke, which ends it on a process that had it cached and on a new one."""
    token = await _write_as_the_old_release(url, "alice", "pw")
    backend, sessions = await _sessions(url, clock)
    other_backend, other = await _sessions(url, clock)
    fresh_backend: RedisBackend | None = None
    try:
        assert await other.user_for(token) == "alice"  # cached there
        assert await sessions.login("alice", "pw")
        with pytest.raises(Unauthorized):
            await sessions.login("alice", "wrong")
        assert await sessions.revoke_user("alice") == 2  # the old session and the new one
        clock.advance(1.5)
        fresh_backend, fresh = await _sessions(url, clock)
        for process in (other, fresh):
            with pytest.raises(Unauthorized):
                await process.user_for(token)
    finally:
        for made in (backend, other_backend, fresh_backend):
            if made is not None:
                await made.aclose()


async def test_a_user_written_by_an_old_replica_after_the_upgrade_logs_in(
    url: str, clock: ManualClock
) -> None:
    """During a rolling upgrade an old replica may still write a user where it used to: a login
    on a new one finds it (and moves it)."""
    backend, sessions = await _sessions(url, clock)
    try:
        await _write_as_the_old_release(url, "bob", "pw-bob")
        assert await sessions.login("bob", "pw-bob")
        assert await backend.password_hash("bob") is not None
        assert await sessions.revoke_user("bob") == 1
    finally:
        await backend.aclose()
