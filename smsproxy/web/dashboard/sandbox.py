"""Simulated phones (sandbox carrier only): what each real number received and sent,
and a box to text any proxy number from it through the same path a webhook takes.

These phones are fake, so their full numbers are shown here, and only here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quart import (
    Blueprint,
    flash,
    redirect,
    render_template,
    render_template_string,
    request,
    session,
    url_for,
)
from sqlmodel import col, select
from werkzeug.exceptions import NotFound

from ...carrier.handsets import Handset, HandsetPage, describe, find_handsets, matches
from ...errors import ProxyError
from ...models import ProxyNumber
from ...phone import parse_number
from ...proxy.messages import MAX_BODY_LENGTH
from ...proxy.routing import Route
from ...proxy.sandbox import text_from_handset
from .. import services, settings
from ..guards import staff_required
from .base import (
    FormErrors,
    InvalidForm,
    error_field,
    event_position,
    fetch_wants_json,
    fragment,
    query_value,
)

blueprint = Blueprint("sandbox", __name__)

SESSION_PHONES = "sandbox_phones"
MAX_ADDED_PHONES = 20
OUTCOMES = {
    Route.routed: "Delivered into its chat: the other participants get it.",
    Route.held: "Held: it contains contact details, and waits for staff on the chat page.",
    Route.keyword: "A keyword (STOP, START or HELP): acted on and answered, not forwarded.",
    Route.unrouted: "No active chat for this phone on that number: kept as unrouted.",
    Route.not_ours: "That number is not in the pool: kept as unrouted, no reply.",
    Route.duplicate: "Already received.",
    Route.buffered: "Part of a longer SMS: waiting for the rest.",
}


def require_sandbox() -> None:
    # Checked inside each guarded handler, so a visitor who is not logged in is sent
    # to the login page whatever the carrier.
    if settings().carrier != "sandbox":
        raise NotFound("The sandbox exists only while the sandbox carrier is in use.")


def _added_phones() -> list[str]:
    value = session.get(SESSION_PHONES, [])
    return [str(number) for number in value][:MAX_ADDED_PHONES] if isinstance(value, list) else []


@dataclass(frozen=True)
class Phones:
    found: HandsetPage
    numbers: list[ProxyNumber]  # the pool, for each phone's "Text to"
    position: int
    query: str


def _search() -> tuple[str, int]:
    """`?q=` (part of a number or a name) and `?page=`."""
    raw_page = query_value("page", limit=6)
    return query_value("q", limit=100).strip(), int(raw_page) if raw_page.isdigit() else 1


async def _phones() -> Phones:
    query, page = _search()
    async with services().db.read() as db_session:
        position = await event_position(db_session)
        found = await find_handsets(db_session, query=query, page=page)
        numbers = list(
            (await db_session.exec(select(ProxyNumber).order_by(col(ProxyNumber.number)))).all()
        )
        if found.page == 1:
            # Phones added on this page that have not texted yet: first, on the first page.
            shown = {handset.number for handset in found.handsets}
            added = [n for n in _added_phones() if n not in shown and matches(n, [], query)]
            known = {h.number for h in await describe(db_session, added) if h.sms or h.names}
            found.handsets[:0] = [Handset(n) for n in added if n not in known]
    return Phones(found, numbers, position, query)


async def render_sandbox(
    *,
    errors: dict[str, FormErrors] | None = None,
    typed: dict[str, dict[str, str]] | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """`errors` and `typed` are keyed by phone number ("new" for the add-a-phone form)."""
    phones = await _phones()
    html = await render_template(
        "sandbox.html",
        found=phones.found,
        handsets=phones.found.handsets,
        numbers=phones.numbers,
        q=phones.query,
        errors=errors or {},
        typed=typed or {},
        max_body=MAX_BODY_LENGTH,
        last_event_id=phones.position,
    )
    return html, status


@blueprint.get("/sandbox")
@staff_required
async def get_sandbox() -> Any:
    require_sandbox()
    return await render_sandbox()


@blueprint.get("/sandbox/phones")
@staff_required
async def get_phones() -> Any:
    """The phones of the page's search and page (`?q=`, `?page=`), for the live script
    to refresh the page's logs from."""
    require_sandbox()
    phones = await _phones()
    html = await render_template_string(
        '{% from "macros.html" import sandbox_phones %}'
        "{{ sandbox_phones(handsets, numbers, {}, {}, max_body) }}",
        handsets=phones.found.handsets,
        numbers=phones.numbers,
        max_body=MAX_BODY_LENGTH,
    )
    return fragment(html)


def _check_text(text: str) -> str:
    if not text.strip():
        raise InvalidForm("Write the SMS to send", field="text")
    if len(text) > MAX_BODY_LENGTH:
        raise InvalidForm(f"An SMS here is at most {MAX_BODY_LENGTH} characters", field="text")
    return text


async def _send(phone: str, proxy: str, text: str) -> Route:
    if not proxy:
        raise InvalidForm("Choose the proxy number to text", field="proxy")
    try:
        parse_number(proxy, settings().default_region)
    except ProxyError as error:
        error.field = "proxy"
        raise
    _check_text(text)
    svc = services()
    outcome = await text_from_handset(
        svc.db, svc.routing, phone, proxy, text, default_region=svc.settings.default_region
    )
    return outcome.route


async def _answer(key: str, typed: dict[str, str], work: Any) -> Any:
    try:
        route = await work()
    except ProxyError as error:
        field = error_field(error, "text")
        if fetch_wants_json():
            return {"error": {"message": error.message, "fields": {field: error.message}}}, 422
        return await render_sandbox(
            errors={key: {field: error.message}}, typed={key: typed}, status=422
        )
    note = OUTCOMES.get(route, "Sent.") if route is not None else "Phone added."
    if fetch_wants_json():
        return {"route": route.value if route is not None else None, "note": note}, 200
    await flash(note, "success")
    return redirect(url_for(".get_sandbox"), 303)


@blueprint.post("/sandbox/phones")
@staff_required
async def post_phone() -> Any:
    """A new simulated phone; with a first SMS, it sends that at once."""
    require_sandbox()
    form = await request.form
    typed = {
        "number": form.get("number", "")[:60],
        "proxy": form.get("proxy", ""),
        "text": form.get("text", "")[: MAX_BODY_LENGTH + 1],
    }

    async def work() -> Route | None:
        try:
            number = parse_number(typed["number"], settings().default_region)
        except ProxyError as error:
            error.field = "number"
            raise
        if typed["text"].strip():
            route = await _send(number, typed["proxy"], typed["text"])
        else:
            route = None
        phones = _added_phones()
        if number not in phones:
            session[SESSION_PHONES] = [*phones, number][-MAX_ADDED_PHONES:]
        return route

    return await _answer("new", typed, work)


@blueprint.post("/sandbox/phones/<phone>/sms")
@staff_required
async def post_phone_sms(phone: str) -> Any:
    require_sandbox()
    form = await request.form
    typed = {"proxy": form.get("proxy", ""), "text": form.get("text", "")[: MAX_BODY_LENGTH + 1]}

    async def work() -> Route:
        return await _send(phone, typed["proxy"], typed["text"])

    return await _answer(phone, typed, work)
