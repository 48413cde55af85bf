"""Running a command's coroutine under SIGINT/SIGTERM: cancel it, let it clean up, exit 130/143."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any, TypeVar

from sniper.errors import SniperError

T = TypeVar("T")
EXIT_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


class Interrupted(SniperError):
    """A signal stopped the command; ``code`` is the exit code it calls for."""

    def __init__(self, code: int) -> None:
        super().__init__(f"interrupted ({code})")
        self.code = code


async def run_until_signal(work: Coroutine[Any, Any, T]) -> T:
    """Run ``work``; SIGINT or SIGTERM cancels it and raises :class:`Interrupted`.

    The coroutine's own cleanup (closing connections, flushing the log, the summary) runs in its
    ``finally`` blocks while the cancellation unwinds; a second signal is not needed.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    main = loop.create_task(work)
    received: list[signal.Signals] = []

    def on_signal(sig: signal.Signals) -> None:
        received.append(sig)
        main.cancel()

    for sig in EXIT_BY_SIGNAL:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        return await main
    except asyncio.CancelledError:
        if not received or (task is not None and task.cancelling()):
            raise
        raise Interrupted(EXIT_BY_SIGNAL[received[0]]) from None
    finally:
        for sig in EXIT_BY_SIGNAL:
            loop.remove_signal_handler(sig)
