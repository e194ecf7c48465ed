"""The Integrations page: webhook endpoints with the secret shown once, edits, enable
and disable, delete, a real test ping with its log, resend; admins only; no inline
code."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol as Client

from smsproxy.models import AuditEvent, WebhookDelivery, WebhookEndpoint
from smsproxy.runtime import Runtime
from tests.conftest import csrf_post
from tests.fakes.receiver import Answer, Receiver
from tests.web.dashboard.pages import field_error, rows_of, text

pytest_plugins = ["tests.fakes.webhook_receiver"]


async def add(client: Client, url: str, **form: str) -> tuple[str, str]:
    response = await csrf_post(client, "/integrations", {"url": url, "all_events": "yes", **form})
    assert response.status_code == 303, await text(response)
    shown = await client.get(response.headers["Location"])
    html = await text(shown)
    secret = re.search(r'value="(whsec_[^"]+)"', html)
    endpoint = re.search(r'href="/integrations/(we_[0-9a-f]+)"', html)
    assert secret and endpoint
    return endpoint.group(1), secret.group(1)


async def test_the_secret_is_shown_once_with_a_copy_button(
    staff_client: Client, app_runtime: Runtime, receiver: Receiver
) -> None:
    response = await csrf_post(
        staff_client, "/integrations", {"url": receiver.url("/a"), "all_events": "yes"}
    )
    # Post/redirect/get: the page after the redirect shows the secret, once.
    assert response.status_code == 303
    shown = await staff_client.get(response.headers["Location"])
    html = await text(shown)
    assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    assert "will not be shown again" in html
    secret = re.search(r'<input id="new-secret"[^>]* value="(whsec_[^"]+)"', html)
    assert secret
    # The button needs the script (which unhides it); without it the field is selectable.
    assert re.search(
        r'<button type="button" class="btn btn-sm copy-button" data-copy="new-secret" hidden>', html
    )

    listing = await text(await staff_client.get("/integrations"))
    assert secret.group(1) not in listing and receiver.url("/a") in listing
    assert 'data-state="enabled"' in listing
    [stored] = await rows_of(app_runtime, WebhookEndpoint)
    assert secret.group(1) not in stored.secret  # sealed at rest
    assert app_runtime.webhooks.box.open(stored.secret) == secret.group(1)


async def test_bad_urls_and_no_events_are_refused_with_the_reason(
    staff_client: Client, app_runtime: Runtime
) -> None:
    plain = await csrf_post(
        staff_client, "/integrations", {"url": "http://example.com/hook", "all_events": "yes"}
    )
    assert plain.status_code == 422
    assert "must use https://" in field_error(await text(plain), "url")
    none = await csrf_post(staff_client, "/integrations", {"url": "https://example.com/hook"})
    html = await text(none)
    assert none.status_code == 422 and "at least one event type" in field_error(html, "events")
    assert 'value="https://example.com/hook"' in html  # what was typed stays
    assert await rows_of(app_runtime, WebhookEndpoint) == []


async def test_edit_disable_enable_and_delete(
    staff_client: Client, app_runtime: Runtime, receiver: Receiver
) -> None:
    endpoint_id, _ = await add(staff_client, receiver.url("/a"))
    page = f"/integrations/{endpoint_id}"
    edit = await csrf_post(
        staff_client,
        page,
        {"url": receiver.url("/b"), "description": "Bookings", "events": "message.received"},
    )
    assert edit.status_code == 303
    html = await text(await staff_client.get(page))
    assert receiver.url("/b") in html and "Bookings" in html
    assert re.search(r'value="message.received" checked', html)
    assert not re.search(r'value="chat.created" checked', html)

    bad = await csrf_post(staff_client, page, {"url": "ftp://x", "events": "chat.created"})
    assert bad.status_code == 422 and "https://" in field_error(await text(bad), "url")

    await csrf_post(staff_client, f"{page}/enabled", {"enabled": "no"})
    html = await text(await staff_client.get(page))
    assert 'data-state="disabled"' in html and "Disabled by staff:test-admin" in html
    await csrf_post(staff_client, f"{page}/enabled", {"enabled": "yes"})
    assert 'data-state="enabled"' in await text(await staff_client.get(page))

    deleted = await csrf_post(staff_client, f"{page}/delete", {})
    assert deleted.status_code == 303
    assert (await staff_client.get(page)).status_code == 404
    assert "No endpoints yet" in await text(await staff_client.get("/integrations"))
    actions = [a.action for a in await rows_of(app_runtime, AuditEvent)]
    for change in ("created", "updated", "disabled", "enabled", "deleted"):
        assert f"webhook_endpoint.{change}" in actions


async def test_a_test_ping_shows_in_the_log_and_can_be_resent(
    staff_client: Client, app_runtime: Runtime, receiver: Receiver
) -> None:
    endpoint_id, secret = await add(staff_client, receiver.url("/a"))
    receiver.verify_with("/a", secret)
    page = f"/integrations/{endpoint_id}"
    assert (await csrf_post(staff_client, f"{page}/test", {})).status_code == 303
    html = await text(await staff_client.get(page))
    assert "Test event delivered: the endpoint answered 204." in html
    assert "<strong>204</strong>" in html and "ping" in html
    [ping] = receiver.received
    assert ping.verified and ping.type == "ping"

    [row] = await rows_of(app_runtime, WebhookDelivery)
    resend = await csrf_post(staff_client, f"{page}/deliveries/{row.public_id}/resend", {})
    assert resend.status_code == 303
    assert "Queued again" in await text(await staff_client.get(page))
    assert await app_runtime.webhook_worker.drain() == 1
    first, second = receiver.received
    assert second.verified and second.headers["webhook-id"] == first.headers["webhook-id"]

    receiver.always("/a", Answer(500))
    await csrf_post(staff_client, f"{page}/test", {})
    html = await text(await staff_client.get(page))
    assert "Test event not delivered: HTTP 500 Internal Server Error." in html


async def test_the_pages_carry_no_inline_code(staff_client: Client, receiver: Receiver) -> None:
    endpoint_id, _ = await add(staff_client, receiver.url("/a"))
    for path in ("/integrations", f"/integrations/{endpoint_id}"):
        html = await text(await staff_client.get(path))
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
        assert not re.search(r"\sstyle=|\son[a-z]+=", html), path
    assert 'href="/integrations"' in html  # in the navigation, for admins


async def test_agents_cannot_see_or_change_webhooks(
    agent_client: Client, app_runtime: Runtime
) -> None:
    assert (await agent_client.get("/integrations")).status_code == 403
    created = await csrf_post(
        agent_client, "/integrations", {"url": "https://example.com", "all_events": "yes"}
    )
    assert created.status_code == 403
    assert await rows_of(app_runtime, WebhookEndpoint) == []
    assert 'href="/integrations"' not in await text(await agent_client.get("/chats"))
