"""Shared fixtures: a migrated database per test (SQLite, or PostgreSQL when
DATABASE_URL says so), a Runtime over it, and the app with its test client."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol
from quart.wrappers import Response
from sqlalchemy import text
from sqlmodel import SQLModel

from smsproxy import models
from smsproxy.app import create_app
from smsproxy.config import Settings
from smsproxy.db import create_engine
from smsproxy.migrate import upgrade
from smsproxy.runtime import Runtime

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("DATABASE_URL", "")
USE_POSTGRES = POSTGRES_URL.startswith(("postgresql://", "postgres://"))
REDIS_URL = os.environ.get("REDIS_URL", "")


def need_service(name: str, url: str, variable: str) -> str:
    """The URL of a service a test needs; skip locally, fail in CI, when it is unset."""
    if url:
        return url
    message = f"{name} tests need {variable} (e.g. set by .ci/run)"
    if IN_CI:
        pytest.fail(message + ", and CI must run them")
    pytest.skip(message)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated once."""
    import asyncpg

    base = POSTGRES_URL.replace("postgres://", "postgresql://", 1)
    name = f"smsproxy_test_{uuid.uuid4().hex[:10]}"
    root, _, _ = base.rpartition("/")

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(base)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = f"{root}/{name}"
    upgrade(url)
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if USE_POSTGRES:
        url: str = request.getfixturevalue("_postgres_database")
        asyncio.run(truncate_all(url))
        return url
    template: Path = request.getfixturevalue("_sqlite_template")
    path = tmp_path / "smsproxy.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


async def truncate_all(url: str) -> None:
    # DELETE, not TRUNCATE: a test leaves a handful of rows, and TRUNCATE's new files
    # for every table and index cost ~0.35 s per test where DELETE takes ~15 ms.
    engine = create_engine(url)
    async with engine.begin() as connection:
        for table in reversed(SQLModel.metadata.sorted_tables):
            await connection.execute(table.delete())
        sequences = await connection.execute(
            text("SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema()")
        )
        for (name,) in sequences.all():
            await connection.execute(text(f'ALTER SEQUENCE "{name}" RESTART'))
    await engine.dispose()


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": "test-secret-key-that-is-long-enough",
        "smsproxy_env": "test",
        "redis_url": None,
        "carrier": "sandbox",
        "vonage_api_key": None,
        "vonage_api_secret": None,
        "vonage_signature_secret": None,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """A Runtime with no background loops: tests drive the sender and sweeper."""
    value = Runtime(settings, background=False)
    await value.start()
    yield value
    await value.stop()


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Quart]:
    value = create_app(settings, background=False)
    async with value.test_app():
        yield value


@pytest.fixture
async def api_key(app: Quart) -> str:
    from tests.helpers import create_api_key

    return await create_api_key(app.extensions["smsproxy"])


@pytest.fixture
def app_runtime(app: Quart) -> Runtime:
    value: Runtime = app.extensions["smsproxy"]
    return value


# Staff sessions for page tests: `staff_client` (an admin) and `agent_client` are
# logged-in test clients; send their forms with `csrf_post(client, path, form)`.

STAFF_PASSWORD = "staff password for tests"
_staff_password_hash: list[str] = []


async def add_staff(app: Quart, username: str, role: str = "agent") -> models.StaffUser:
    """A staff user whose password is STAFF_PASSWORD (hashed once per test session)."""
    from smsproxy.proxy.passwords import hasher

    if not _staff_password_hash:
        _staff_password_hash.append(hasher.hash(STAFF_PASSWORD))
    runtime: Runtime = app.extensions["smsproxy"]
    async with runtime.db.transaction() as session:
        user = models.StaffUser(
            username=username, password_hash=_staff_password_hash[0], role=models.Role(role)
        )
        session.add(user)
    return user


async def logged_in_client(app: Quart, username: str, role: str) -> TestClientProtocol:
    """A test client holding a new staff user's login cookie. It skips the password form
    (tests/web/test_auth.py covers that) so page tests stay fast."""
    from quart_auth import generate_auth_token

    from smsproxy.web.guards import auth_id_for

    user = await add_staff(app, username, role)
    client = app.test_client()
    cookie_name = app.extensions["QUART_AUTH"][0].cookie_name
    client.set_cookie("localhost", cookie_name, generate_auth_token(client, auth_id_for(user)))
    return client


async def csrf_token_of(client: TestClientProtocol) -> str:
    """The client's CSRF token, read from its session (put there first when missing)."""
    async with client.session_transaction() as session:
        token = session.get("csrf_token")
        if not token:
            token = session["csrf_token"] = secrets.token_urlsafe(32)
    return str(token)


async def csrf_headers(client: TestClientProtocol) -> dict[str, str]:
    """Headers a page's fetch() sends: the CSRF token and this site's Origin."""
    return {"X-CSRF-Token": await csrf_token_of(client), "Origin": "http://localhost"}


async def csrf_post(
    client: TestClientProtocol,
    path: str,
    form: dict[str, str] | None = None,
    *,
    headers: dict[str, str] | None = None,
    **kwargs: Any,
) -> Response:
    """POST a form the way this site's own page does: with the CSRF token and Origin."""
    token = await csrf_token_of(client)
    sent = {"Origin": "http://localhost", **(headers or {})}
    return await client.post(
        path, form={**(form or {}), "csrf_token": token}, headers=sent, **kwargs
    )


@pytest.fixture
async def staff_client(app: Quart) -> TestClientProtocol:
    """Logged in as "test-admin", an admin."""
    return await logged_in_client(app, "test-admin", "admin")


@pytest.fixture
async def agent_client(app: Quart) -> TestClientProtocol:
    """Logged in as "test-agent", an agent."""
    return await logged_in_client(app, "test-agent", "agent")
