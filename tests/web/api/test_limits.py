"""API rate limits: per API key, and per connection address whatever the header says."""

from __future__ import annotations

from typing import Any

from quart import Quart

from smsproxy.web.api.base import (
    ADDRESS_LIMITS,
    ADDRESS_LIMITS_CONFIG,
    api_key_or_address,
    connection_address,
)
from tests.helpers import auth
from tests.web.test_meta_auth import rate_limits_of

HERE = {"client": ("203.0.113.5", 40000)}
ELSEWHERE = {"client": ("203.0.113.6", 40000)}


async def get_chats(app: Quart, headers: dict[str, str], scope: dict[str, Any]) -> Any:
    return await app.test_client().get("/api/v1/chats", headers=headers, scope_base=scope)


async def test_made_up_key_prefixes_share_one_budget_per_address(app: Quart, api_key: str) -> None:
    app.config[ADDRESS_LIMITS_CONFIG] = {60: 3}  # three a minute from one address
    # Each looks like a different key, so each has a fresh per-key budget; none of them
    # is a key, and neither is no header at all.
    for headers in (auth("spx_madeup0001x"), auth("spx_madeup0002x"), {}):
        assert (await get_chats(app, headers, HERE)).status_code == 401

    refused = await get_chats(app, auth("spx_madeup0003x"), HERE)
    real_key_here = await get_chats(app, auth(api_key), HERE)
    real_key_elsewhere = await get_chats(app, auth(api_key), ELSEWHERE)

    assert refused.status_code == 429
    assert (await refused.get_json())["error"]["code"] == "too_many_requests"
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert real_key_here.status_code == 429  # the address's budget is spent, key or not
    assert real_key_elsewhere.status_code == 200


async def test_the_default_address_limits_are_generous(app: Quart, api_key: str) -> None:
    for _ in range(5):
        assert (await get_chats(app, auth("spx_madeup0001x"), HERE)).status_code == 401
    assert (await get_chats(app, auth(api_key), HERE)).status_code == 200
    assert [(limit.count, limit.period.total_seconds()) for limit in ADDRESS_LIMITS] == [
        (100, 1.0),
        (3000, 60.0),
    ]


def test_every_api_route_has_per_key_and_per_address_limits(app: Quart) -> None:
    api = [rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")]
    assert api
    for rule in api:
        keyed_on = {limit.key_function for limit in rate_limits_of(app, rule)}
        assert {api_key_or_address, connection_address} <= keyed_on, rule.rule
