"""Creating a chat from the dashboard.

The form works without JavaScript: it starts with two participant rows, and "Add
another" / "Remove" are submit buttons that come back to this page with the rows
changed. A participant can come from an unrouted SMS: the row then carries that
message's id and the server looks the number up, so the real number never reaches
the browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for
from sqlmodel.ext.asyncio.session import AsyncSession
from werkzeug.datastructures import MultiDict

from ...errors import NotFound, ProxyError
from ...models import Message
from ...proxy import unrouted_inbox
from ...proxy.chats import (
    MAX_PARTICIPANTS,
    MIN_PARTICIPANTS,
    ChatSpec,
    NewParticipant,
    create_chat,
    retry_on_route_conflict,
)
from .. import services
from ..guards import Staff, staff_required
from .base import FormErrors, InvalidForm, actor_of, error_field, masked, signed_in

blueprint = Blueprint("new_chat", __name__)

TTL_CHOICES = [
    ("", "No idle limit"),
    ("3600", "1 hour without messages"),
    ("14400", "4 hours without messages"),
    ("86400", "1 day without messages"),
    ("259200", "3 days without messages"),
    ("604800", "7 days without messages"),
    ("2592000", "30 days without messages"),
]


@dataclass
class Row:
    number: str = ""  # as typed
    name: str = ""
    source: str = ""  # an unrouted message's public id, instead of a typed number
    source_masked: str = ""  # that message's sender, masked, to show

    @property
    def blank(self) -> bool:
        return not (self.number.strip() or self.name.strip() or self.source)


@dataclass
class NewChatForm:
    rows: list[Row] = field(default_factory=lambda: [Row(), Row()])
    reference: str = ""
    ttl: str = ""
    expires_at: str = ""  # datetime-local, as typed
    tz_offset: str = ""  # minutes, from the browser's getTimezoneOffset()
    intro: bool = True

    @classmethod
    def parse(cls, form: MultiDict[str, str]) -> NewChatForm:
        try:
            count = int(form.get("rows", MIN_PARTICIPANTS))
        except ValueError:
            count = MIN_PARTICIPANTS
        count = min(max(count, MIN_PARTICIPANTS), MAX_PARTICIPANTS)
        rows = [
            Row(
                number=form.get(f"participants-{i}-number", "")[:60],
                name=form.get(f"participants-{i}-name", "")[:100],
                source=form.get(f"participants-{i}-source", "")[:40],
            )
            for i in range(count)
        ]
        return cls(
            rows=rows,
            reference=form.get("reference", "")[:300],
            ttl=form.get("ttl", ""),
            expires_at=form.get("expires_at", "")[:40],
            tz_offset=form.get("tz_offset", "")[:8],
            intro=form.get("intro") == "yes",
        )


async def _render(form: NewChatForm, errors: FormErrors | None = None, status: int = 200) -> Any:
    html = await render_template(
        "chats/new.html",
        form=form,
        errors=errors or {},
        ttl_choices=TTL_CHOICES,
        max_rows=MAX_PARTICIPANTS,
        min_rows=MIN_PARTICIPANTS,
    )
    return html, status


async def _resolve_sources(form: NewChatForm) -> dict[int, Message]:
    """The unrouted messages rows point at; fills in each row's masked sender."""
    found: dict[int, Message] = {}
    wanted = [(i, row) for i, row in enumerate(form.rows) if row.source]
    if not wanted:
        return found
    async with services().db.read() as session:
        for index, row in wanted:
            try:
                message = await unrouted_inbox.get_unrouted(session, row.source)
            except NotFound:
                row.source = ""
                continue
            row.source_masked = masked(message.sender_number)
            found[index] = message
    return found


@blueprint.get("/chats/new")
@staff_required
async def get_new_chat() -> Any:
    form = NewChatForm()
    # ?from=<unrouted message id> starts a chat with that SMS's sender; ?number= and
    # ?name= prefill the first row as if typed.
    form.rows[0] = Row(
        number=request.args.get("number", "")[:60],
        name=request.args.get("name", "")[:100],
        source=request.args.get("from", "")[:40],
    )
    form.reference = request.args.get("reference", "")[:200]
    await _resolve_sources(form)
    return await _render(form)


def _expiry(form: NewChatForm) -> datetime | None:
    return local_expiry(form.expires_at, form.tz_offset)


def local_expiry(raw: str, tz_offset: str) -> datetime | None:
    """An absolute expiry typed in a datetime-local field, in UTC. The browser sends
    its offset beside the local time it shows; without JavaScript the field is read as
    UTC (and the hint says so)."""
    if not raw.strip():
        return None
    try:
        local = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise InvalidForm(
            "Enter a date and time such as 2030-01-31 18:00", field="expires_at"
        ) from None
    if local.tzinfo is not None:
        return local.astimezone(UTC)
    try:
        offset = int(tz_offset) if tz_offset else 0
    except ValueError:
        offset = 0
    if abs(offset) > 24 * 60:
        offset = 0
    return (local + timedelta(minutes=offset)).replace(tzinfo=UTC)


def _ttl(form: NewChatForm) -> int | None:
    allowed = {value for value, _ in TTL_CHOICES}
    if form.ttl not in allowed:
        raise InvalidForm("Choose one of the idle limits offered", field="ttl")
    return int(form.ttl) if form.ttl else None


def _field_for(error_name: str, used: list[int]) -> str:
    """Map a rule's field ("participants.1.number", on the rows actually sent) back to
    the form row it came from."""
    parts = error_name.split(".")
    if len(parts) == 3 and parts[0] == "participants" and parts[1].isdigit():
        index = int(parts[1])
        if index < len(used):
            return f"participants.{used[index]}.{parts[2]}"
    return {"ttl_seconds": "ttl"}.get(error_name, error_name)


@blueprint.post("/chats/new")
@staff_required
async def post_new_chat() -> Any:
    staff = await signed_in()
    form = NewChatForm.parse(await request.form)
    action = (await request.form).get("action", "create")
    sources = await _resolve_sources(form)
    if action == "add" or action.startswith("remove-"):
        return await _render(_change_rows(form, action))
    used = [i for i, row in enumerate(form.rows) if not row.blank]
    if len(used) < MIN_PARTICIPANTS:
        first_blank = next(i for i, row in enumerate(form.rows) if row.blank)
        message = f"Enter participant {first_blank + 1}'s phone number: a chat needs two people"
        return await _render(form, {f"participants.{first_blank}.number": message}, 422)
    people = []
    for i in used:
        row = form.rows[i]
        number = (sources[i].sender_number or "") if i in sources else row.number
        people.append(NewParticipant(number=number, name=row.name))
    try:
        chat_id = await _create(form, people, staff, list(sources.values()))
    except ProxyError as error:
        name = _field_for(error_field(error, "form"), used)
        return await _render(form, {name: error.message}, error.status)
    await flash("Chat created: each participant has a number to text.", "success")
    return redirect(url_for("dashboard.chat.get_chat_page", chat_id=chat_id), 303)


def _change_rows(form: NewChatForm, action: str) -> NewChatForm:
    """ "Add another" and "Remove" without scripts: the same form, rows changed."""
    if action == "add" and len(form.rows) < MAX_PARTICIPANTS:
        form.rows.append(Row())
    index = action.removeprefix("remove-")
    if index.isdigit() and len(form.rows) > MIN_PARTICIPANTS and int(index) < len(form.rows):
        del form.rows[int(index)]
    return form


async def _create(
    form: NewChatForm, people: list[NewParticipant], staff: Staff, sources: list[Message]
) -> str:
    """The chat, and the unrouted SMS it was started from marked handled by it, in one
    transaction."""
    svc = services()
    spec = ChatSpec(
        participants=people,
        reference=form.reference.strip() or None,
        ttl_seconds=_ttl(form),
        expires_at=_expiry(form),
        intro=form.intro,
    )

    async def create(session: AsyncSession) -> str:
        view = await create_chat(
            session,
            spec,
            templates=svc.templates,
            actor=actor_of(staff),
            default_region=svc.settings.default_region,
        )
        fresh = [await unrouted_inbox.get_unrouted(session, m.public_id) for m in sources]
        await unrouted_inbox.handled_by_chat(session, fresh, view.chat.public_id, by=staff.username)
        return view.chat.public_id

    return await retry_on_route_conflict(svc.db, create)
