"""The expiry sweeper: closes chats past their absolute expiry or idle TTL."""

from __future__ import annotations

import asyncio
import logging

from ..db import Database
from ..proxy.chats import Templates
from ..proxy.lifecycle import close_expired

log = logging.getLogger(__name__)


async def run_sweeper(db: Database, templates: Templates, interval_seconds: float) -> None:
    while True:
        try:
            await close_expired(db, templates)
        except Exception:
            log.exception("expiry sweep failed; trying again next interval")
        await asyncio.sleep(interval_seconds)
