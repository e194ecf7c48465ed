"""The multipart flusher: forwards, as received, long SMS whose parts stopped coming."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from ..db import Database
from ..proxy.multipart import flush_expired
from ..proxy.routing import RoutingOptions

log = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 5.0


async def run_flusher(db: Database, options: RoutingOptions, max_age: timedelta) -> None:
    interval = min(FLUSH_INTERVAL_SECONDS, max_age.total_seconds())
    while True:
        try:
            await flush_expired(db, options, max_age)
        except Exception:
            log.exception("multipart flush failed; trying again next interval")
        await asyncio.sleep(interval)
