"""GET /api/v1/messages/search: hits as JSON with masked numbers and highlight offsets,
pages by cursor, and a 400 JSON error that says what is wrong."""

from __future__ import annotations

from quart import Quart

from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, auth, start_chat
from tests.privacy import spelled_in
from tests.web.dashboard.pages import reply

P1 = "+447700900901"
RIDER, DRIVER = "+447700900001", "+447700900002"
SEARCH = "/api/v1/messages/search"


async def test_hits_carry_the_chat_masked_numbers_and_highlights(
    app: Quart, api_key: str, app_runtime: Runtime
) -> None:
    await add_numbers(app_runtime, P1)
    view = await start_chat(app_runtime, (RIDER, "Rider"), (DRIVER, "Driver"))
    await reply(app_runtime, view, RIDER, "Running late, at the roundabout")
    client = app.test_client()

    response = await client.get(SEARCH, query_string={"q": "round"}, headers=auth(api_key))

    assert response.status_code == 200
    page = await response.get_json()
    [hit] = page["hits"]
    assert hit["chat_id"] == view.chat.public_id
    assert (hit["direction"], hit["author"], hit["author_number"]) == (
        "inbound", "Rider", "+44770•••••01",
    )  # fmt: skip
    start, end = hit["highlights"][0]
    assert hit["snippet"][start:end] == "roundabout"
    assert page["number"] is None and page["next_cursor"] is None
    by_number = await client.get(SEARCH, query_string={"q": "447700900001"}, headers=auth(api_key))
    body = await by_number.get_data(as_text=True)
    assert (await by_number.get_json())["number"] == "+44770•••••01"
    assert spelled_in(body, RIDER, DRIVER) == []


async def test_pages_follow_the_cursor(app: Quart, api_key: str, app_runtime: Runtime) -> None:
    await add_numbers(app_runtime, P1)
    view = await start_chat(app_runtime, (RIDER, "Rider"), (DRIVER, "Driver"))
    for n in range(5):
        await reply(app_runtime, view, DRIVER, f"ping {n}")
    client, seen, cursor = app.test_client(), [], None
    while True:
        args = {"q": "ping", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get(SEARCH, query_string=args, headers=auth(api_key))).get_json()
        seen += [hit["snippet"] for hit in page["hits"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [f"ping {n}" for n in (4, 3, 2, 1, 0)]


async def test_bad_queries_are_400_json_saying_why(app: Quart, api_key: str) -> None:
    client = app.test_client()
    for args, field in (
        ({"q": "***"}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "ping", "cursor": "nonsense"}, "cursor"),
    ):
        response = await client.get(SEARCH, query_string=args, headers=auth(api_key))
        assert response.status_code == 400, args
        error = (await response.get_json())["error"]
        assert error["message"] and error["field"] == field
    missing = await client.get(SEARCH, headers=auth(api_key))
    assert missing.status_code == 400 and (await missing.get_json())["error"]["message"]
