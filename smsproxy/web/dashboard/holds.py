"""Held texts on the chat page: staff release or reject them (CONTACT_POLICY=hold).

Plain forms, so the buttons work without scripts; the chat page's live script shows
the decision (and the SMS a release causes) in every open browser.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, url_for

from ...errors import ProxyError
from ...proxy.holds import reject_held, release_held
from ...proxy.screening import FORWARD_CAP, is_capped
from .. import services
from ..guards import staff_required
from .base import actor_of, fetch_wants_json, json_form_error, signed_in

blueprint = Blueprint("holds", __name__)


@blueprint.app_template_global("forward_cap")
def forward_cap() -> int:
    return FORWARD_CAP


@blueprint.app_template_test("cut_when_forwarded")
def cut_when_forwarded(body: str) -> bool:
    """`{% if m.body is cut_when_forwarded %}`: only the first FORWARD_CAP characters
    of this text went on."""
    return is_capped(body)


@blueprint.post("/chats/<chat_id>/messages/<message_id>/release")
@staff_required
async def post_release(chat_id: str, message_id: str) -> Any:
    staff = await signed_in()
    svc = services()
    try:
        async with svc.db.transaction() as session:
            decision = await release_held(
                session,
                chat_id,
                message_id,
                actor=actor_of(staff),
                policy=svc.routing.contact_policy,
            )
    except ProxyError as error:
        return await _refused(chat_id, error)
    count = len(decision.deliveries)
    return await _done(chat_id, f"Released: forwarded to {count} participant{_s(count)}.")


@blueprint.post("/chats/<chat_id>/messages/<message_id>/reject")
@staff_required
async def post_reject(chat_id: str, message_id: str) -> Any:
    staff = await signed_in()
    try:
        async with services().db.transaction() as session:
            await reject_held(session, chat_id, message_id, actor=actor_of(staff))
    except ProxyError as error:
        return await _refused(chat_id, error)
    return await _done(chat_id, "Rejected: the message will never be forwarded.")


async def _done(chat_id: str, note: str) -> Any:
    if fetch_wants_json():
        return {"note": note}, 200
    await flash(note, "success")
    return redirect(url_for("dashboard.chat.get_chat_page", chat_id=chat_id), 303)


async def _refused(chat_id: str, error: ProxyError) -> Any:
    if fetch_wants_json():
        return json_form_error({"form": error.message}, error.status)
    await flash(error.message, "error")
    return redirect(url_for("dashboard.chat.get_chat_page", chat_id=chat_id), 303)


def _s(count: int) -> str:
    return "" if count == 1 else "s"
