"""Fixtures of the dashboard page tests."""

from __future__ import annotations

import pytest

from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat
from tests.web.dashboard.pages import DRIVER, P1, P2, RIDER


@pytest.fixture
async def chat(app_runtime: Runtime) -> ChatView:
    await add_numbers(app_runtime, P1, P2)
    return await start_chat(app_runtime, (RIDER, "Rider"), (DRIVER, "Driver"), intro=True)
