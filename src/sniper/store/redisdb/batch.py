"""Calls of one Lua script that arrive together go to Redis in one pipeline.

At an opening hundreds of reservations arrive within a millisecond. Sent one by one, each costs
redis-py a connection checkout, a write and a read (~120 µs of this process's CPU here); sent as
one pipeline, the calls of a turn of the event loop share them (~45 µs each). Each call stays one
atomic ``EVALSHA`` on the server: pipelining changes the trip, not the step. The queue and the
answers are :class:`~sniper.store.backends.batcher.Batcher`'s; pipelines go out side by side.

A failure before the calls leave (no connection could be had) is ``503 unavailable``: nothing ran.
Any failure after they may have left (a timeout, a dropped connection, an error reply) is
``503 outcome_unknown``: the script may have run, and only a retry with the request id can tell.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from sniper.errors import StoreError, Unavailable
from sniper.store.backends.batcher import Batcher, Call, P
from sniper.store.redisdb.client import REDIS_ERRORS, Client, CommandSlots, check_out

#: A script call: its keys and its arguments.
ScriptCall = tuple[list[str], list[Any]]


class RedisBatcher(Batcher[P]):
    """What a batcher of one Redis script has: the client, its command slots, the script."""

    def __init__(
        self, client: Client, slots: CommandSlots, script: AsyncScript, max_batch: int = 256
    ) -> None:
        super().__init__(REDIS_ERRORS, max_batch=max_batch)
        self.client, self.script = client, script
        self._slots = slots


class ScriptBatcher(RedisBatcher[ScriptCall]):
    """``await batcher(keys, args)``: one script call, sent with the others of this moment."""

    def __call__(self, keys: list[str], args: list[Any]) -> asyncio.Future[Any]:
        """Queue one call; the batch leaves once the calls ready in this turn have joined."""
        return self._submit((keys, args))

    async def _send(self, batch: list[Call[ScriptCall]]) -> None:
        results = await self._pipeline(batch)
        again: list[Call[ScriptCall]] = []
        # Answer everything that has its answer first, so that a reload below never keeps
        # a decided caller waiting (or, failing, takes its answer away).
        for call, result in zip(batch, results, strict=True):
            if isinstance(result, NoScriptError):  # Redis restarted: load it, call again
                again.append(call)
            elif isinstance(result, Exception):  # the script may have written some keys
                self._settle(call[1], error=self.errors.unknown(result))
            else:
                self._settle(call[1], result=result)
        await asyncio.gather(*(self._alone(keys, args, future) for (keys, args), future in again))

    async def _pipeline(self, batch: list[Call[ScriptCall]]) -> list[Any]:
        """The batch's replies; a Redis error raised here means nothing was sent."""
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for (keys, args), _ in batch:
                # By name, not pipe.evalsha(): redis-py refuses that one in cluster pipelines,
                # yet routes this by its first key like any other command.
                pipe.execute_command("EVALSHA", self.script.sha, len(keys), *keys, *args)
            await check_out(pipe)
            return await self.errors.sent(pipe.execute(raise_on_error=False))

    async def _alone(self, keys: list[str], args: list[Any], future: asyncio.Future[Any]) -> None:
        try:
            async with self._slots:
                result = await self.script(keys=keys, args=args)
        except Exception as exc:  # the reload and call are one trip: it may have run
            self._settle(future, error=self._unknown(exc))
        else:
            self._settle(future, result=result)

    def _unknown(self, exc: BaseException) -> StoreError:
        """What a caller hears when its call may have run."""
        if isinstance(exc, StoreError) and not isinstance(exc, Unavailable):
            return exc
        return self.errors.unknown(exc)
