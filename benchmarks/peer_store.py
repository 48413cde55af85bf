"""The textbook flash-sale store, for comparison: FastAPI, redis-py (asyncio) and one Lua script.

What an engineer writes first when told "a flash sale on Redis, no overselling"::

    POST /api/orders  {"sku_id": "...", "qty": 1, "request_id": "..."}  Cookie: session=TOKEN

    GET  {prefix}session:{TOKEN}        -> the user, else 401
    EVALSHA buy.lua  {prefix}stock:{sku}  {prefix}buyers:{sku}  user qty
        SISMEMBER buyers user          -> 409 limit_reached
        stock < qty                    -> 409 sold_out
        DECRBY stock qty; SADD buyers user
    201 {"order_id": ...}

The benchmark (benchmarks/store_flood.py ``--peer``) seeds the sessions and stock under its own key
prefix and serves this app on the same uvicorn as the store, one worker. It records no order beyond
the buyer (the store also writes the order and its request id), which favours it: a ratio measured
against it is a lower bound.

Settings, from the environment: ``PEER_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``) and
``PEER_PREFIX`` (default ``peer:``).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import redis.asyncio as redis
from fastapi import Cookie, FastAPI, HTTPException
from pydantic import BaseModel, Field

REDIS_URL = os.environ.get("PEER_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("PEER_PREFIX", "peer:")

BUY = """
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 'limit_reached' end
local qty = tonumber(ARGV[2])
if tonumber(redis.call('GET', KEYS[1]) or '0') < qty then return 'sold_out' end
redis.call('DECRBY', KEYS[1], qty)
redis.call('SADD', KEYS[2], ARGV[1])
return 'ok'
"""


class OrderIn(BaseModel):
    """The order request."""

    sku_id: str = Field(min_length=1, max_length=64)
    qty: int = Field(default=1, ge=1, le=100)
    request_id: str | None = Field(default=None, max_length=64)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """One client (its connection pool) and the script, registered once."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    app.state.redis = client
    app.state.buy = client.register_script(BUY)
    yield
    await client.aclose()


app = FastAPI(lifespan=lifespan)


@app.post("/api/orders", status_code=201)
async def create_order(
    order: OrderIn, session: Annotated[str | None, Cookie()] = None
) -> dict[str, Any]:
    """Take one unit (or ``qty``) for the session's user, once per user."""
    user = await app.state.redis.get(f"{PREFIX}session:{session}") if session else None
    if user is None:
        raise HTTPException(status_code=401, detail="not_logged_in")
    result = await app.state.buy(
        keys=[f"{PREFIX}stock:{order.sku_id}", f"{PREFIX}buyers:{order.sku_id}"],
        args=[user, order.qty],
    )
    if result != "ok":
        raise HTTPException(status_code=409, detail=result)
    return {"order_id": uuid.uuid4().hex, "sku_id": order.sku_id, "qty": order.qty}
