"""Two tiny ASGI apps for ``date_clock.py``, served by uvicorn exactly as the store is.

* ``exact``: writes its own ``Date`` from the clock at each request (run with
  ``--no-date-header``, so uvicorn adds none);
* ``cached``: writes none, so uvicorn's own is sent: a copy it refreshes from a timer once a
  second, at whatever phase the server started (``uvicorn.Server.on_tick``).
"""

import time
from email.utils import formatdate


async def exact(scope, receive, send):  # type: ignore[no-untyped-def]  # as small as raw_asgi
    if scope["type"] == "http":
        date = formatdate(time.time(), usegmt=True).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"date", date), (b"content-length", b"0")],
            }
        )
        await send({"type": "http.response.body", "body": b""})


async def cached(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] == "http":
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]}
        )
        await send({"type": "http.response.body", "body": b""})
