"""The admin commands, called as the CLI calls them."""

from __future__ import annotations

import argparse
import io

import pytest
from sqlalchemy import update

from smsproxy.models import ProxyNumber
from smsproxy.proxy import users
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers
from tests.staff_accounts import PASSWORD, load


@pytest.mark.parametrize("generated", [True, False])
async def test_cli_users_create_marks_generated_passwords_one_time(
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    generated: bool,
) -> None:
    from smsproxy.cli import admin

    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    args = argparse.Namespace(username="erin", role="agent", password_stdin=not generated)
    assert await admin.users_create(runtime, args) == 0
    printed = capsys.readouterr()
    user = await load(runtime, "erin")
    assert user.must_change_password is generated
    assert ("One-time password" in printed.err) is generated
    password = printed.out.strip() if generated else PASSWORD
    async with runtime.db.transaction() as session:
        assert await users.authenticate(session, "erin", password) is not None


async def test_cli_numbers_recount_reports_then_fixes_drift(
    runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    from smsproxy.cli import admin

    await add_numbers(runtime, "+447700900901")
    async with runtime.db.transaction() as session:
        await session.exec(update(ProxyNumber).values(active_routes=4, active_chats=2))
    assert await admin.numbers_recount(runtime, argparse.Namespace(check=True)) == 1
    assert "+447700900901: counted 0 routes in 0 chats, stored 4 in 2\n" in capsys.readouterr().err
    assert await admin.numbers_recount(runtime, argparse.Namespace(check=False)) == 0
    assert "(fixed)" in capsys.readouterr().err
    assert await admin.numbers_recount(runtime, argparse.Namespace(check=True)) == 0
    assert "match" in capsys.readouterr().err


async def test_cli_reset_password_gives_a_one_time_password_that_logs_in(
    runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    from smsproxy.cli import admin

    async with runtime.db.transaction() as session:
        await users.create_user(session, "frank", PASSWORD, "admin")
    assert await admin.users_reset_password(runtime, argparse.Namespace(username="Frank")) == 0
    new_password = capsys.readouterr().out.strip()
    user = await load(runtime, "frank")
    assert user.must_change_password
    async with runtime.db.transaction() as session:
        assert await users.authenticate(session, "frank", PASSWORD) is None
        assert await users.authenticate(session, "frank", new_password) is not None
