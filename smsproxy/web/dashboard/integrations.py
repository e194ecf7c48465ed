"""Integrations (admins only): webhook endpoints: add one (its secret shown once), change, enable or
disable, delete, send a test ping, and read its delivery log with a resend button."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for
from quart import session as browser_session

from ...errors import ProxyError
from ...events import INTEGRATION_TYPES
from ...integrations import endpoints, history
from ...integrations.endpoints import ALL_EVENTS, EndpointChanges, EndpointSpec, state_of
from .. import services
from ..guards import admin_required
from .base import FormErrors, actor_of, error_field, query_value, signed_in

NEW_ENDPOINT = "new_webhook_endpoint"

blueprint = Blueprint("integrations", __name__)

NO_STORE = {"Cache-Control": "no-store"}
LOG_PAGE = 20


async def _typed_form() -> dict[str, Any]:
    form = await request.form
    chosen = form.getlist("events")
    return {
        "url": form.get("url", "")[:2100],
        "description": form.get("description", "")[:300],
        "events": [ALL_EVENTS] if form.get("all_events") == "yes" else chosen[:20],
    }


async def render_list(
    *,
    errors: FormErrors | None = None,
    typed: dict[str, Any] | None = None,
    created: tuple[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int, dict[str, str]]:
    """`created` is (endpoint id, secret) right after creation: the only time it is
    shown."""
    async with services().db.read() as session:
        found = await endpoints.list_endpoints(session)
    html = await render_template(
        "integrations.html",
        endpoints=found,
        state_of=state_of,
        event_types=INTEGRATION_TYPES,
        errors=errors or {},
        typed=typed or {"events": [ALL_EVENTS]},
        created=created,
    )
    return html, status, NO_STORE


@blueprint.get("/integrations")
@admin_required
async def get_integrations() -> Any:
    created = browser_session.pop(NEW_ENDPOINT, None)
    if isinstance(created, list) and len(created) == 2:
        return await render_list(created=(str(created[0]), str(created[1])))
    return await render_list()


@blueprint.post("/integrations")
@admin_required
async def post_endpoint() -> Any:
    staff = await signed_in()
    typed = await _typed_form()
    spec = EndpointSpec(typed["url"], typed["events"], typed["description"])
    try:
        async with services().db.transaction() as session:
            endpoint, secret = await endpoints.create_endpoint(
                session, spec, box=services().webhooks.box, actor=actor_of(staff)
            )
    except ProxyError as error:
        errors = {error_field(error, "url"): error.message}
        return await render_list(errors=errors, typed=typed, status=error.status)
    # Post/redirect/get: the secret waits in the signed session for exactly one render,
    # so a reload shows nothing and creates nothing.
    browser_session[NEW_ENDPOINT] = [endpoint.public_id, secret]
    return redirect(url_for(".get_integrations"), 303)


async def render_endpoint(
    endpoint_id: str,
    *,
    errors: FormErrors | None = None,
    typed: dict[str, Any] | None = None,
    status: int = 200,
) -> tuple[str, int, dict[str, str]]:
    cursor = query_value("cursor", limit=100) or None
    async with services().db.read() as session:
        endpoint = await endpoints.get_endpoint(session, endpoint_id)
        try:
            entries, next_cursor = await history.delivery_log(
                session, endpoint, cursor=cursor, limit=LOG_PAGE
            )
        except ProxyError:
            entries, next_cursor = await history.delivery_log(session, endpoint, limit=LOG_PAGE)
            cursor = None
    html = await render_template(
        "integration_endpoint.html",
        endpoint=endpoint,
        state=state_of(endpoint).value,
        event_types=INTEGRATION_TYPES,
        entries=entries,
        next_cursor=next_cursor,
        paged=cursor is not None,
        errors=errors or {},
        typed=typed
        or {
            "url": endpoint.url,
            "description": endpoint.description,
            "events": endpoint.event_types,
        },
    )
    return html, status, NO_STORE


@blueprint.get("/integrations/<endpoint_id>")
@admin_required
async def get_endpoint_page(endpoint_id: str) -> Any:
    return await render_endpoint(endpoint_id)


@blueprint.post("/integrations/<endpoint_id>")
@admin_required
async def post_endpoint_edit(endpoint_id: str) -> Any:
    staff = await signed_in()
    typed = await _typed_form()
    changes = EndpointChanges(typed["url"], typed["events"], typed["description"])
    try:
        async with services().db.transaction() as session:
            await endpoints.update_endpoint(session, endpoint_id, changes, actor=actor_of(staff))
    except ProxyError as error:
        if error.status == 404:
            raise
        errors = {error_field(error, "url"): error.message}
        return await render_endpoint(endpoint_id, errors=errors, typed=typed, status=error.status)
    await flash("Endpoint saved.", "success")
    return redirect(url_for(".get_endpoint_page", endpoint_id=endpoint_id), 303)


@blueprint.post("/integrations/<endpoint_id>/enabled")
@admin_required
async def post_endpoint_enabled(endpoint_id: str) -> Any:
    staff = await signed_in()
    enable = (await request.form).get("enabled") == "yes"
    changes = EndpointChanges(enabled=enable)
    async with services().db.transaction() as session:
        await endpoints.update_endpoint(session, endpoint_id, changes, actor=actor_of(staff))
    done = "enabled: events are sent to it" if enable else "disabled: nothing is sent to it"
    await flash(f"Endpoint {done}.", "success")
    return redirect(url_for(".get_endpoint_page", endpoint_id=endpoint_id), 303)


@blueprint.post("/integrations/<endpoint_id>/delete")
@admin_required
async def post_endpoint_delete(endpoint_id: str) -> Any:
    staff = await signed_in()
    async with services().db.transaction() as session:
        await endpoints.delete_endpoint(session, endpoint_id, actor=actor_of(staff))
    await flash("Endpoint deleted: nothing more is sent to it.", "success")
    return redirect(url_for(".get_integrations"), 303)


@blueprint.post("/integrations/<endpoint_id>/test")
@admin_required
async def post_endpoint_test(endpoint_id: str) -> Any:
    row = await services().webhooks.ping(endpoint_id)
    if row.last_status_code is not None and 200 <= row.last_status_code < 300:
        await flash(
            f"Test event delivered: the endpoint answered {row.last_status_code}.", "success"
        )
    else:
        await flash(f"Test event not delivered: {row.last_error or 'no answer'}.", "error")
    return redirect(url_for(".get_endpoint_page", endpoint_id=endpoint_id), 303)


@blueprint.post("/integrations/<endpoint_id>/deliveries/<delivery_id>/resend")
@admin_required
async def post_endpoint_resend(endpoint_id: str, delivery_id: str) -> Any:
    staff = await signed_in()
    try:
        async with services().db.transaction() as session:
            endpoint = await endpoints.get_endpoint(session, endpoint_id)
            await history.resend(session, endpoint, delivery_id, actor=actor_of(staff))
    except ProxyError as error:
        if error.status == 404:
            raise
        await flash(error.message, "error")
    else:
        await flash("Queued again: it is sent in a moment.", "success")
    return redirect(url_for(".get_endpoint_page", endpoint_id=endpoint_id), 303)
