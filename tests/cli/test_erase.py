"""`smsproxy erase NUMBER`: says what it would erase, and erases only with --yes."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from sqlmodel import select

from smsproxy.cli.erase import erase
from smsproxy.models import Message, Participant
from smsproxy.runtime import Runtime
from tests.cli.test_cli import smsproxy
from tests.helpers import add_numbers, start_chat

P1 = "+447700900901"
ERIN, BOB = "+447911123456", "+447700900102"


async def test_without_yes_it_only_says_what_it_would_erase(
    runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ERIN, "Erin"), (BOB, "Bob"))

    code = await erase(runtime, argparse.Namespace(number="+44 7911 123456", yes=False))

    said = capsys.readouterr().err
    assert code == 1
    assert "+44791•••••56: 1 participant row(s), 1 active chat(s) to close" in said
    assert "Nothing was erased" in said and "7911 123456" not in said
    async with runtime.db.read() as session:
        numbers = (await session.exec(select(Participant.real_number))).all()
    assert ERIN in numbers


async def test_with_yes_it_erases(runtime: Runtime, capsys: pytest.CaptureFixture[str]) -> None:
    await add_numbers(runtime, P1)
    await start_chat(runtime, (ERIN, "Erin"), (BOB, "Bob"), intro=True)

    code = await erase(runtime, argparse.Namespace(number="447911123456", yes=True))

    said = capsys.readouterr().err
    assert code == 0
    assert said.startswith("Erased +44791•••••56: closed 1 active chat(s), 1 participant row(s)")
    async with runtime.db.read() as session:
        numbers = (await session.exec(select(Participant.real_number))).all()
        assert (await session.exec(select(Message))).all(), "the chat's history stays"
    assert sorted(numbers) == [BOB, "erased"]


def test_the_command_is_wired(tmp_path: Path) -> None:
    done = smsproxy(tmp_path, "erase", "+447911123456", "--yes")

    assert done.returncode == 0, done.stderr
    assert "Erased +44791•••••56: 0 participant row(s)" in done.stderr
