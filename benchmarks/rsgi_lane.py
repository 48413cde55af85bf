"""The store's order lane served through granian's RSGI interface: what a change of server could
give the store at best, for ``benchmarks/server_choice.py``.

granian parses and writes HTTP in Rust, on threads of its own, and RSGI hands Python one call
per request with the body already read: no scope dict, no ``receive``/``send`` messages. Here
``POST /api/orders`` goes straight to the store's :class:`~sniper.store.hotpath.OrderLane` (the
same answers ``sniper serve`` gives); every other request (the benchmark's admin calls) goes to
the store's ASGI app through a small bridge. None of ``store/protocol.py``'s hardening exists
here (header and body deadlines, the header cap, the connection bound): the figure is an upper
bound, not a way to serve the store.

    granian --interface rsgi --factory rsgi_lane:store   (the worker's settings in SNIPER_WORKER)
    granian --interface rsgi rsgi_lane:raw               (the same server answering nothing)
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from order_cost import call_app
from sniper.store.app import StoreApp, worker_app
from sniper.store.hotpath import ORDER_LANE, OrderLane
from sniper.store.http import ORDER_PATH

JSON = ("content-type", "application/json")


class RsgiStore:
    """The store app opened in granian's worker, its lane answering orders."""

    def __init__(self, app: StoreApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._lifespan: contextlib.AbstractAsyncContextManager[Any] | None = None

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._lifespan = self.app.lifespan()
        self.state = loop.run_until_complete(self._lifespan.__aenter__())

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._lifespan is not None:
            loop.run_until_complete(self._lifespan.__aexit__(None, None, None))

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        lane: OrderLane = self.state[ORDER_LANE]
        claim = None
        if scope.method == "POST" and scope.path == ORDER_PATH and not scope.query_string:
            claim = lane.claims(
                (name, value.encode("latin-1"))
                for name in (b"cookie", b"content-length")
                if (value := scope.headers.get(name.decode())) is not None
            )
        if claim is None:  # not an order, or not in the lane's form: the app answers
            await self._bridged(scope, protocol)
            return
        known = lane.known(claim, await protocol())
        answer = known if isinstance(known, tuple) else await lane.place(claim, known)
        status, payload, extra = answer
        protocol.response_bytes(
            status, [JSON, *((k.decode("latin-1"), v.decode("latin-1")) for k, v in extra)], payload
        )

    async def _bridged(self, scope: Any, protocol: Any) -> None:
        """One request through the store's ASGI app."""
        headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in scope.headers.items()
        ]
        status, sent, body = await call_app(
            self.app,
            scope.method,
            scope.path,
            await protocol(),
            headers,
            query=scope.query_string.encode(),
            state=dict(self.state),
        )
        protocol.response_bytes(
            status, [(k.decode("latin-1"), v.decode("latin-1")) for k, v in sent], body
        )


def store() -> RsgiStore:
    """The app of one granian worker, from the settings its parent passed down."""
    return RsgiStore(worker_app())


async def raw(scope: Any, protocol: Any) -> None:
    """The ceiling on RSGI: the smallest app that answers, as ``raw_asgi.py`` on ASGI."""
    protocol.response_bytes(200, [JSON], b'{"ok":true}')
