from __future__ import annotations

from quart import Quart


async def test_healthz_answers(app: Quart) -> None:
    client = app.test_client()
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert (await response.get_json()) == {"status": "ok"}


async def test_readyz_checks_database(app: Quart) -> None:
    response = await app.test_client().get("/readyz")
    assert response.status_code == 200
    assert (await response.get_json())["database"] == "ok"


async def test_unknown_api_route_answers_json(app: Quart) -> None:
    response = await app.test_client().get("/api/v1/nothing-here")
    assert response.status_code == 404
    body = await response.get_json()
    assert body["error"]["code"] == "not_found"


async def test_database_errors_are_told_apart() -> None:
    """A database that is down is "unavailable" (callers answer 503 and retry later); a
    wrong statement is not."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from smsproxy.db import create_engine, is_unavailable
    from tests.conftest import POSTGRES_URL, USE_POSTGRES

    async def error_of(url: str, statement: str) -> BaseException:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                await connection.execute(text(statement))
        except (SQLAlchemyError, OSError) as error:
            return error
        finally:
            await engine.dispose()
        raise AssertionError("no error")

    assert is_unavailable(await error_of("postgresql://postgres@127.0.0.1:1/x", "SELECT 1"))
    assert is_unavailable(await error_of("sqlite:////nonexistent-dir/x.db", "SELECT 1"))
    assert not is_unavailable(await error_of("sqlite://", "SELECT * FROM no_such_table"))
    if USE_POSTGRES:
        root = POSTGRES_URL.rpartition("/")[0]
        assert is_unavailable(await error_of(f"{root}/no_such_database_here", "SELECT 1"))
        assert not is_unavailable(await error_of(POSTGRES_URL, "SELECT * FROM no_such_table"))


async def test_api_answers_503_when_the_database_cannot_be_reached() -> None:
    """The driver raises OSError itself when nothing listens: still a 503 to retry."""
    from smsproxy.app import create_app
    from tests.conftest import make_settings

    app = create_app(make_settings("postgresql://postgres@127.0.0.1:1/smsproxy"), background=False)
    async with app.test_app():
        response = await app.test_client().get(
            "/api/v1/chats", headers={"Authorization": "Bearer spx_" + "x" * 43}
        )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert (await response.get_json())["error"]["code"] == "unavailable"
