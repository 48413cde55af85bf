"""Calls of one Lua script that arrive together go to Redis in one pipeline.

At an opening hundreds of reservations arrive within a millisecond. Sent one by one, each costs
redis-py a connection checkout, a write and a read (~120 µs of this process's CPU here); sent as
one pipeline, the calls of a turn of the event loop share them (~45 µs each). Each call stays one
atomic ``EVALSHA`` on the server: pipelining changes the trip, not the step.

A failure before the calls leave (no connection could be had) is ``503 unavailable``: nothing ran.
Any failure after they may have left (a timeout, a dropped connection, an error reply) is
``503 outcome_unknown``: the script may have run, and only a retry with the request id can tell.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from sniper.errors import OutcomeUnknown, StoreError, Unavailable
from sniper.store.redisdb.client import Calls, Client, check_out, sent

_Call = tuple[list[str], list[Any], "asyncio.Future[Any]"]


class ScriptBatcher:
    """``await batcher(keys, args)``: one script call, sent with the others of this moment."""

    def __init__(
        self, client: Client, calls: Calls, script: AsyncScript, max_batch: int = 256
    ) -> None:
        self.client, self.script, self.max_batch = client, script, max_batch
        self._calls = calls
        self._pending: list[_Call] = []
        self._tasks: set[asyncio.Task[None]] = set()
        #: Pipelines sent and calls carried (how well calls are being grouped).
        self.batches = 0
        self.carried = 0

    async def __call__(self, keys: list[str], args: list[Any]) -> Any:
        """Queue one call; the batch leaves once the calls ready in this turn have joined."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((keys, args, future))
        return await future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), self.max_batch):
            task = asyncio.get_running_loop().create_task(
                self._send(pending[start : start + self.max_batch])
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, batch: list[_Call]) -> None:
        self.batches += 1
        self.carried += len(batch)
        try:
            results = await self._pipeline(batch)
            again: list[_Call] = []
            # Answer everything that has its answer first, so that a reload below never keeps
            # a decided caller waiting (or, failing, takes its answer away).
            for call, result in zip(batch, results, strict=True):
                if isinstance(result, NoScriptError):  # Redis restarted: load it, call again
                    again.append(call)
                elif isinstance(result, Exception):  # the script may have written some keys
                    _settle(call[2], error=_unknown(result))
                else:
                    _settle(call[2], result=result)
            await asyncio.gather(*(self._alone(*call) for call in again))
        except Unavailable as exc:  # raised before anything was sent: certainly not run
            _fail(batch, exc)
        except Exception as exc:  # sent, and then the trip failed: it may have run
            _fail(batch, _unknown(exc))
        finally:  # even when cancelled: nobody waits forever
            _fail(batch, OutcomeUnknown("storage call cancelled"))

    async def _pipeline(self, batch: list[_Call]) -> list[Any]:
        """The batch's replies; ``Unavailable`` only if nothing was sent."""
        async with self._calls(), self.client.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                # By name, not pipe.evalsha(): redis-py refuses that one in cluster pipelines,
                # yet routes this by its first key like any other command.
                pipe.execute_command("EVALSHA", self.script.sha, len(keys), *keys, *args)
            await check_out(pipe)
            return await sent(pipe.execute(raise_on_error=False))

    async def _alone(self, keys: list[str], args: list[Any], future: asyncio.Future[Any]) -> None:
        try:
            async with self._calls():
                result = await sent(self.script(keys=keys, args=args))
        except Exception as exc:  # the reload and call are one trip: it may have run
            _settle(future, error=_unknown(exc))
        else:
            _settle(future, result=result)


def _settle(
    future: asyncio.Future[Any], *, result: Any = None, error: StoreError | None = None
) -> None:
    """Answer a caller unless it has gone (cancelled: a client that hung up)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _unknown(exc: BaseException) -> StoreError:
    """What a caller hears when its call may have run."""
    if isinstance(exc, StoreError) and not isinstance(exc, Unavailable):
        return exc
    return OutcomeUnknown(f"storage failed during the call ({type(exc).__name__})")


def _fail(batch: list[_Call], error: StoreError) -> None:
    for _, _, future in batch:
        _settle(future, error=error)
