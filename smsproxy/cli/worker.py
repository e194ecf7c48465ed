"""`smsproxy worker`: the background jobs (sender, expiry sweeper, multipart flusher)
in a process of their own, without the web.

For deployments that keep sending apart from the web processes (which then run with
BACKGROUND_JOBS=off): webhooks keep their event loop to themselves, and sends leave at
the set rate however busy the web is. Several workers may run at once: rows are claimed
with leases.
"""

from __future__ import annotations

import asyncio
import signal

from ..config import Settings
from ..migrate import upgrade_async
from ..runtime import Runtime
from .output import say


def run_worker(settings: Settings) -> None:
    asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    await upgrade_async(settings.database_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runtime = Runtime(settings, background=True)
    await runtime.start()
    say(f"smsproxy worker is running: {', '.join(runtime.jobs())} (carrier: {settings.carrier})")
    try:
        await stop.wait()
    finally:
        await runtime.stop()
    say("smsproxy worker stopped")
