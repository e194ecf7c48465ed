"""What every dashboard page shares: the blueprint, template filters, form errors, the
signed-in staff member and where a page stands in the event log."""

from __future__ import annotations

from quart import Blueprint, jsonify, request
from quart.wrappers import Response
from sqlmodel.ext.asyncio.session import AsyncSession

from ...errors import ProxyError
from ...events import last_event_id
from ...models import Delivery, Participant
from ...phone import mask
from ...proxy.transcripts import delivery_note
from ..errors import wants_json
from ..guards import Staff, current_staff

blueprint = Blueprint("dashboard", __name__)

FormErrors = dict[str, str]


class InvalidForm(ProxyError):
    """A form value the page itself checks (a choice not offered, a malformed date)."""

    status = 422
    code = "invalid_form"


@blueprint.app_template_filter("masked")
def masked(number: str | None) -> str:
    """`{{ number | masked }}`: the only way a real number reaches a page."""
    return mask(number)


@blueprint.app_template_filter("delivery_note")
def delivery_note_filter(delivery: Delivery) -> str:
    """`{{ delivery | delivery_note }}`: its error and unanswered sends, in words."""
    return delivery_note(delivery)


@blueprint.app_template_filter("person")
def person(participant: Participant | None) -> str:
    return participant.display_name if participant is not None else "Someone"


async def signed_in() -> Staff:
    """The staff member of a guarded request (the guard has already checked)."""
    staff = await current_staff()
    assert staff is not None, "dashboard handlers must be guarded by staff_required"
    return staff


def actor_of(staff: Staff) -> str:
    return f"staff:{staff.username}"


async def event_position(session: AsyncSession) -> int:
    """Where the page about to be rendered stands in the event log. Read it before the
    page's data: an event committed in between is then replayed, never missed."""
    return await last_event_id(session)


def error_field(error: ProxyError, fallback: str) -> str:
    return error.field or fallback


def fetch_wants_json() -> bool:
    """A page script's fetch (Accept: application/json) rather than a form post."""
    return wants_json()


def json_form_error(errors: FormErrors, status: int) -> Response:
    first = next(iter(errors.values()), "That did not work")
    response = jsonify({"error": {"message": first, "fields": errors}})
    response.status_code = status
    return response


def fragment(html: str, status: int = 200) -> tuple[str, int, dict[str, str]]:
    """A piece of a page for a live script to insert; never cached."""
    return html, status, {"Cache-Control": "no-store"}


def query_value(name: str, default: str = "", limit: int = 200) -> str:
    return request.args.get(name, default)[:limit]
