"""A revocation cut short by a Redis error is finished by the next one: a logout asked again,
the admin revoke, the user's replacement or removal done again; meanwhile and after, no process
serves the session past --cache-ttl."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from sniper.clock import ManualClock
from sniper.errors import Unauthorized, Unavailable
from sniper.store.auth import Sessions
from sniper.store.models import NewUser
from sniper.store.redisdb.backend import RedisBackend

Step = Callable[[RedisBackend, Sessions, str], Awaitable[object]]


def _injected() -> Unavailable:
    return Unavailable("storage unavailable: injected")


def _failing_once(target: Callable[..., Awaitable[Any]], *, ran: bool) -> Callable[..., Any]:
    """``target``, whose first call fails: before it reaches Redis, or after it ran there (its
    reply lost)."""
    armed = [True]

    async def call(*args: Any, **kwargs: Any) -> Any:
        if armed[0] and not ran:
            armed[0] = False
            raise _injected()
        result = await target(*args, **kwargs)
        if armed[0]:
            armed[0] = False
            raise _injected()
        return result

    return call


def _inject(backend: RedisBackend, fault: str) -> None:
    step, _, when = fault.partition(":")
    setattr(backend, step, _failing_once(getattr(backend, step), ran=when == "ran"))


async def _logout(_: RedisBackend, sessions: Sessions, token: str) -> object:
    return await sessions.revoke(token)


async def _admin_revoke(_: RedisBackend, sessions: Sessions, __: str) -> object:
    return await sessions.revoke_user("ann")


async def _replace(backend: RedisBackend, sessions: Sessions, _: str) -> object:
    __, first = sessions.new_session("ann")
    revoked = await backend.create_users([NewUser("ann", "hash-2", first)])
    sessions.forget(revoked)
    return revoked


async def _remove(backend: RedisBackend, sessions: Sessions, _: str) -> object:
    removed, revoked = await backend.delete_users(["ann"])
    sessions.forget(revoked)
    return removed


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("cluster", marks=pytest.mark.cluster),
    ]
)
async def backends(
    request: pytest.FixtureRequest, clock: ManualClock
) -> AsyncIterator[list[RedisBackend]]:
    """Three processes' backends on one Redis (or cluster)."""
    url = request.getfixturevalue(f"{request.param}_url")
    made = [RedisBackend(url, clock) for _ in range(3)]
    for backend in made:
        await backend.open()
    try:
        yield made
    finally:
        for backend in made:
            await backend.aclose()


@pytest.mark.parametrize(
    "fault",
    [
        "_end_session:before",
        "_end_session:ran",
        "_log_revoked:before",
        "_log_revoked:ran",
        "_drop:before",
        "_drop:ran",
    ],
)
@pytest.mark.parametrize(
    "revoke",
    [_logout, _admin_revoke, _replace, _remove],
    ids=["logout", "admin-revoke", "replace", "remove-user"],
)
async def test_a_revocation_cut_short_is_finished_by_the_next(
    backends: list[RedisBackend], clock: ManualClock, fault: str, revoke: Step
) -> None:
    """The first try fails (503) at one step; the second finishes it: the process that cached
    the session refuses it once --cache-ttl has passed, and so does a process that never saw
    it."""
    a, _, c = backends
    here, there, fresh = (Sessions(x, clock, 3600, recheck_s=1.0) for x in backends)
    for sessions in (here, there, fresh):
        await sessions.start()
    token, session = here.new_session("ann")
    await a.create_users([NewUser("ann", "hash-1", session)])
    assert await there.user_for(token) == "ann"  # cached by the other process
    _inject(a, fault)
    with pytest.raises(Unavailable, match="injected"):
        await revoke(a, here, token)
    if revoke is _logout and fault == "_drop:ran":
        # Done but for its reply: the session is gone, and asking again says so.
        with pytest.raises(Unauthorized):
            await revoke(a, here, token)
    else:
        await revoke(a, here, token)
    clock.advance(1.5)
    for sessions in (here, there, fresh):
        with pytest.raises(Unauthorized):
            await sessions.user_for(token)
    assert await c.get_session(session.token_hash) is None
    if revoke is _remove:
        assert await c.password_hash("ann") is None
