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
