"""Running a command's coroutine under SIGINT/SIGTERM: cancel, let it clean up, exit 130/143."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

EXIT_BY_SIGNAL = {signal.SIGINT: 130, signal.SIGTERM: 143}


async def run_until_signal(work: Coroutine[Any, Any, int]) -> int:
    """Run ``work`` (which returns an exit code); a signal cancels it and gives 130 or 143.

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
        return EXIT_BY_SIGNAL[received[0]]
    finally:
        for sig in EXIT_BY_SIGNAL:
            loop.remove_signal_handler(sig)
