"""A signal's cancellation is never lost, even when it lands as an awaited step completes.

Python 3.11's ``asyncio.wait_for`` returns the inner result when a cancellation arrives just as
the inner work finishes, and the cancellation is gone: a run told to stop by SIGTERM would go on
until its window closed. Each bounded wait of the client must let the cancellation through.
"""

from __future__ import annotations

import asyncio

import pytest

from sniper.client.connection import Connection, Origin, Response
from sniper.clock import SystemClock


async def test_a_cancellation_as_the_answer_completes_is_not_lost() -> None:
    """The read completes in the same step as the cancel: the caller still ends cancelled."""
    conn = Connection(Origin.from_url("http://127.0.0.1:9"), SystemClock())
    outer: asyncio.Task[str] | None = None

    async def read_as_the_signal_lands() -> Response:
        assert outer is not None
        outer.cancel()  # SIGTERM arrives just as the last byte of the answer does
        return Response(201, (), b"{}", 0.0)

    conn._read = read_as_the_signal_lands  # type: ignore[method-assign]

    async def caller() -> str:
        await conn.read_response(5.0)
        await asyncio.sleep(0.5)  # the run would go on to its next step
        return "went on"

    outer = asyncio.create_task(caller())
    with pytest.raises(asyncio.CancelledError):
        await outer
