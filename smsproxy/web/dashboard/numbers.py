"""The number pool: every proxy number with its load; admins add, disable and remove."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for

from ...errors import ProxyError
from ...proxy import pool
from .. import services, settings
from ..guards import admin_required, staff_required
from .base import FormErrors, InvalidForm, error_field, event_position, fragment

blueprint = Blueprint("numbers", __name__)

MAX_LABEL = 100


async def render_numbers(
    *,
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
    row_errors: dict[str, str] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    async with services().db.read() as session:
        position = await event_position(session)
        usage = await pool.list_numbers(session)
    html = await render_template(
        "numbers.html",
        **_pool(usage),
        errors=errors or {},
        typed=typed or {},
        row_errors=row_errors or {},
        last_event_id=position,
    )
    return html, status


@blueprint.get("/numbers")
@staff_required
async def get_numbers() -> Any:
    return await render_numbers()


@blueprint.get("/numbers/table")
@staff_required
async def get_numbers_table() -> Any:
    """The pool with its load, for the page to refresh when numbers or chats change."""
    async with services().db.read() as session:
        usage = await pool.list_numbers(session)
    html = await render_template("numbers/_table.html", **_pool(usage), row_errors={})
    return fragment(html)


def _pool(usage: list[pool.NumberUsage]) -> dict[str, Any]:
    return {
        "usage": usage,
        "total_routes": sum(u.active_routes for u in usage),
        "enabled_count": sum(1 for u in usage if u.number.enabled),
    }


@blueprint.post("/numbers")
@admin_required
async def post_number() -> Any:
    form = await request.form
    typed = {"number": form.get("number", "")[:60], "label": form.get("label", "")[:200]}
    try:
        if len(typed["label"].strip()) > MAX_LABEL:
            raise InvalidForm(f"A label is at most {MAX_LABEL} characters", field="label")
        async with services().db.transaction() as session:
            record = await pool.add_number(
                session,
                typed["number"],
                label=typed["label"],
                default_region=settings().default_region,
            )
    except ProxyError as error:
        errors = {error_field(error, "number"): error.message}
        return await render_numbers(errors=errors, typed=typed, status=error.status)
    await flash(f"{record.number} added to the pool.", "success")
    return redirect(url_for(".get_numbers"), 303)


async def _change(number: str, work: Any, done: str) -> Any:
    try:
        async with services().db.transaction() as session:
            await work(session)
    except ProxyError as error:
        return await render_numbers(row_errors={number: error.message}, status=error.status)
    await flash(done, "success")
    return redirect(url_for(".get_numbers"), 303)


@blueprint.post("/numbers/<number>/enabled")
@admin_required
async def post_number_enabled(number: str) -> Any:
    enable = (await request.form).get("enabled") == "yes"

    async def work(session: Any) -> None:
        await pool.set_enabled(session, number, enable)

    if enable:
        return await _change(number, work, f"{number} is enabled: new chats can use it.")
    return await _change(
        number, work, f"{number} is disabled: its chats go on, new chats will not use it."
    )


@blueprint.post("/numbers/<number>/remove")
@admin_required
async def post_number_remove(number: str) -> Any:
    async def work(session: Any) -> None:
        await pool.remove_number(session, number)

    return await _change(number, work, f"{number} removed from the pool.")
