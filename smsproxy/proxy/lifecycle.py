"""Chat expiry: a sweeper closes chats past their absolute expiry or idle TTL."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..runtime import Runtime


async def run_sweeper(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(runtime.settings.sweep_interval_seconds)
