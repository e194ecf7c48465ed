"""API keys on the dashboard: shown once, revoked, admins only."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol as Client

from smsproxy.models import (
    ApiKey,
)
from smsproxy.proxy import keys
from smsproxy.runtime import Runtime
from tests.conftest import csrf_post
from tests.web.dashboard.pages import (
    field_error,
    rows_of,
    text,
)


async def test_api_key_is_shown_once(staff_client: Client, app_runtime: Runtime) -> None:
    response = await csrf_post(staff_client, "/api-keys", {"name": "Booking service"})
    # Post/redirect/get: reloading the page that shows the key creates no second one.
    assert response.status_code == 303 and response.headers["Location"] == "/api-keys"
    shown = await staff_client.get("/api-keys")
    html = await text(shown)
    assert shown.headers["Cache-Control"] == "no-store"
    key = re.search(r'value="(spx_[^"]+)"', html)
    assert key and "will not be shown again" in html
    assert 'data-copy="new-key"' in html
    listing = await text(await staff_client.get("/api-keys"))
    assert key.group(1) not in listing
    assert len(await rows_of(app_runtime, ApiKey)) == 1
    assert "Booking service" in listing and key.group(1)[:12] + "…" in listing
    assert "Never" in listing and "Active" in listing

    assert (await keys.check_key(app_runtime.db, key.group(1))) is not None
    listing = await text(await staff_client.get("/api-keys"))
    assert "Never" not in listing and key.group(1) not in listing


async def test_api_key_errors_and_revocation(staff_client: Client, app_runtime: Runtime) -> None:
    blank = await csrf_post(staff_client, "/api-keys", {"name": "  "})
    assert blank.status_code == 422
    assert "needs a name" in field_error(await text(blank), "name")

    await csrf_post(staff_client, "/api-keys", {"name": "Old integration"})
    [record] = await rows_of(app_runtime, ApiKey)
    response = await csrf_post(staff_client, f"/api-keys/{record.id}/revoke", {})
    assert response.status_code == 303
    html = await text(await staff_client.get("/api-keys"))
    assert "is revoked" in html and "Revoked" in html
    [record] = await rows_of(app_runtime, ApiKey)
    assert record.revoked_at is not None
    again = await csrf_post(staff_client, f"/api-keys/{record.id}/revoke", {})
    assert again.status_code == 303
    assert "No active API key" in await text(await staff_client.get("/api-keys"))


async def test_a_name_in_use_by_an_active_key_is_refused(
    staff_client: Client, app_runtime: Runtime
) -> None:
    await csrf_post(staff_client, "/api-keys", {"name": "CRM"})
    again = await csrf_post(staff_client, "/api-keys", {"name": " CRM "})
    assert again.status_code == 409
    assert field_error(await text(again), "name") == (
        "An active API key is already named &#39;CRM&#39;: choose another name, or revoke "
        "that key first"
    )
    [record] = await rows_of(app_runtime, ApiKey)
    await csrf_post(staff_client, f"/api-keys/{record.id}/revoke", {})
    # A revoked key's name is free again.
    assert (await csrf_post(staff_client, "/api-keys", {"name": "CRM"})).status_code == 303
    assert len(await rows_of(app_runtime, ApiKey)) == 2


async def test_agents_cannot_manage_api_keys(agent_client: Client, app_runtime: Runtime) -> None:
    assert (await agent_client.get("/api-keys")).status_code == 403
    assert (await csrf_post(agent_client, "/api-keys", {"name": "sneaky"})).status_code == 403
    assert await rows_of(app_runtime, ApiKey) == []
