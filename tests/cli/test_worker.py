"""`smsproxy worker` sends what web processes running with BACKGROUND_JOBS=off queue."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests
from sqlmodel import select

from smsproxy.models import Delivery, DeliveryStatus
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.helpers import add_numbers, start_chat
from tests.server import AppServer

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]
pytestmark = pytest.mark.slow

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"


async def prepare(database_url: str) -> None:
    rt = Runtime(make_settings(database_url), background=False)
    await rt.start()
    try:
        await add_numbers(rt, P1)
        await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
    finally:
        await rt.stop()


async def statuses(database_url: str) -> list[DeliveryStatus]:
    rt = Runtime(make_settings(database_url), background=False)
    try:
        async with rt.db.read() as session:
            return [row.status for row in (await session.exec(select(Delivery))).all()]
    finally:
        await rt.stop()


def test_the_worker_sends_what_the_web_queues(
    database_url: str, fake_vonage: FakeVonage, tmp_path: Path
) -> None:
    env = {
        "DATABASE_URL": database_url,
        **fake_vonage.environment(),
        "BACKGROUND_JOBS": "off",
    }
    web = AppServer(env, log_dir=tmp_path)
    with web:
        asyncio.run(prepare(database_url))
        fields = {"msisdn": ALICE[1:], "to": P1[1:], "messageId": "W1", "text": "Hello?"}
        answer = requests.post(web.url("/webhooks/inbound-sms"), data=fields, timeout=10)
        assert answer.status_code == 204
        # The web process queued it and, with its background jobs off, leaves it queued.
        time.sleep(1.0)
        assert asyncio.run(statuses(database_url)) == [DeliveryStatus.queued]
        assert fake_vonage.requests == []

        worker = subprocess.Popen(
            [sys.executable, "-m", "smsproxy", "worker"],
            env=web.env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            [sent] = fake_vonage.wait_for(1, timeout=30)
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            output, _ = worker.communicate(timeout=30)

    assert (sent.text, sent.to) == ("Hello?", BOB.removeprefix("+"))
    assert worker.returncode == 0, output
    assert "smsproxy worker is running: sweeper, multipart, sender" in output
    assert "smsproxy worker stopped" in output
