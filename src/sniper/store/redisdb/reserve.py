"""Reservations that arrive together go to Redis as one script call per SKU.

At an opening hundreds of reservations of one item arrive within a millisecond. Each used to be
its own ``EVALSHA`` of the reservation script in a shared pipeline: redis-py's cost per command
(encoding, parsing, a reply each) was most of this process's time per order. Now a turn's
reservations are grouped by SKU, and each group is ONE call of ``lua/reserve_many.lua``, which
decides them in their order, atomically, and answers each. Groups of different SKUs go out in one
pipeline, each routed by its SKU's keys (one slot per SKU on a cluster).

Each caller gets its own answer. A group whose call fails fails only its own callers: a failure
before anything was sent is ``503 unavailable``; one after the call may have left (a timeout, a
dropped connection, an error reply) is ``503 outcome_unknown``. A group resent after Redis lost
the script (a restart) is safe: the script answers a reservation whose order id already exists as
created, without taking stock again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from redis.exceptions import NoScriptError

from sniper.store.backends.batcher import Call
from sniper.store.redisdb.batch import RedisBatcher
from sniper.store.redisdb.client import check_out
from sniper.store.redisdb.keys import sku_keys

#: One reservation: its SKU, and its arguments (user, qty, request id, now, order id, order).
Reserve = tuple[str, list[Any]]
#: What a caller gets: its own reply ``[outcome, stock, order_json]``, and the item's fields
#: after the batch (``HGETALL``'s flat list) when the batch refused any (else None).
Answer = tuple[list[Any], list[str] | None]


class ReserveBatcher(RedisBatcher[Reserve]):
    """``await batcher(sku_id, args)``: one reservation, decided with the others of its SKU that
    arrived with it."""

    def __call__(self, sku_id: str, args: list[Any]) -> asyncio.Future[Answer]:
        """Queue one reservation; the batch leaves once those ready in this turn have joined."""
        return self._submit((sku_id, args))

    async def _send(self, batch: list[Call[Reserve]]) -> None:
        groups: dict[str, list[Call[Reserve]]] = {}
        for call in batch:
            groups.setdefault(call[0][0], []).append(call)
        replies = await self._pipeline(groups)
        again: list[list[Call[Reserve]]] = []
        # Answer every group that has its answer first, so that a reload below never keeps a
        # decided caller waiting.
        for group, reply in zip(groups.values(), replies, strict=True):
            if isinstance(reply, NoScriptError):  # Redis restarted: load it, call again
                again.append(group)
            elif isinstance(reply, Exception):  # the script may have run
                self._fail(group, self.errors.unknown(reply))
            else:
                self._answer(group, reply)
        await asyncio.gather(*(self._alone(group) for group in again))

    async def _pipeline(self, groups: dict[str, list[Call[Reserve]]]) -> list[Any]:
        """One reply per group; a Redis error raised here means nothing was sent."""
        async with self._slots, self.client.pipeline(transaction=False) as pipe:
            for sku_id, group in groups.items():
                keys = sku_keys(sku_id).reserve()
                # By name, not pipe.evalsha(): redis-py refuses that one in cluster pipelines,
                # yet routes this by its first key like any other command.
                pipe.execute_command("EVALSHA", self.script.sha, len(keys), *keys, *_args(group))
            await check_out(pipe)
            return await self.errors.sent(pipe.execute(raise_on_error=False))

    async def _alone(self, group: list[Call[Reserve]]) -> None:
        sku_id = group[0][0][0]
        try:
            async with self._slots:
                reply = await self.script(keys=sku_keys(sku_id).reserve(), args=_args(group))
        except Exception as exc:  # the reload and the call are one trip: it may have run
            self._fail(group, self.errors.unknown(exc))
        else:
            self._answer(group, reply)

    def _answer(self, group: list[Call[Reserve]], reply: list[Any]) -> None:
        """Each caller its own reply, with the item's fields when the batch refused any."""
        item = reply[-1] or None
        for (_, future), own in zip(group, reply, strict=False):
            self._settle(future, result=(own, item))


def _args(group: list[Call[Reserve]]) -> list[Any]:
    """The script's arguments: the count, then each reservation's, in arrival order."""
    flat: list[Any] = [len(group)]
    for (_, args), _ in group:
        flat.extend(args)
    return flat
