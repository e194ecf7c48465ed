"""The `receiver` fixture: a webhook receiver on 127.0.0.1 (`tests.fakes.receiver`).

Test modules take it with `pytest_plugins = ["tests.fakes.webhook_receiver"]`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as value:
        yield value
