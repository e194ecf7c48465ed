"""The sweeper: closes chats past their absolute expiry or idle TTL and, with
RETENTION_DAYS set, erases the texts that have become too old."""

from __future__ import annotations

import asyncio
import logging
import time

from ..db import Database
from ..proxy.chats import Templates
from ..proxy.lifecycle import close_expired
from ..proxy.retention import erase_old_texts

log = logging.getLogger(__name__)

# Retention counts in days: looking every few minutes is plenty, and spares the
# database a scan at every expiry sweep.
RETENTION_EVERY_SECONDS = 600.0


async def run_sweeper(
    db: Database,
    templates: Templates,
    interval_seconds: float,
    retention_days: int | None = None,
) -> None:
    last_retention: float | None = None
    while True:
        try:
            await close_expired(db, templates)
        except Exception:
            log.exception("expiry sweep failed; trying again next interval")
        due = last_retention is None or time.monotonic() - last_retention >= RETENTION_EVERY_SECONDS
        if retention_days is not None and due:
            try:
                await erase_old_texts(db, retention_days)
                last_retention = time.monotonic()
            except Exception:
                log.exception("retention sweep failed; trying again next interval")
        await asyncio.sleep(interval_seconds)
