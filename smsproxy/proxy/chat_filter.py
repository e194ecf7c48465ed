"""What the chat list shows: a `ChatFilter`, read from a query string in one place
(`parse_chat_filter`) and written back to one (`ChatFilter.query`), so links, saved
views and bulk actions all speak the same bookmarkable language.

    status   active (default), closed or all
    q        a reference, a name, a chat id or a phone number
    view     all (default), mine, unassigned, unread, awaiting (a staff reply)
    assignee a staff username;  label  a label;  number  a proxy number
    from, to creation dates (YYYY-MM-DD, UTC, both included)
    failed   1: only chats with a failed SMS
    sort     activity (latest first, default), waiting (oldest waiting first: only
             chats that wait), created (newest first)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import exists, func, or_
from sqlmodel import col, select

from ..errors import InvalidInput, InvalidNumber
from ..models import (
    AuthorKind,
    Chat,
    ChatLabel,
    ChatReadMark,
    ChatStatus,
    Delivery,
    DeliveryStatus,
    Message,
    Participant,
    StaffUser,
)
from ..phone import parse_number
from .labels import normalise_label

STATUSES = {"active": ChatStatus.active, "closed": ChatStatus.closed, "all": None}
VIEWS = ("all", "mine", "unassigned", "unread", "awaiting")
SORTS = ("activity", "waiting", "created")
FAILED_STATUSES = (DeliveryStatus.failed, DeliveryStatus.rejected, DeliveryStatus.expired)
MAX_TEXT = 200


@dataclass(frozen=True)
class ChatFilter:
    status: ChatStatus | None = None
    text: str = ""  # as typed: a reference, a name, a chat id or a phone number
    default_region: str | None = None
    view: str = "all"
    assignee: str = ""  # a username
    label: str = ""  # normalised
    number: str = ""  # a proxy number, E.164
    created_from: date | None = None
    created_to: date | None = None
    failed: bool = False
    sort: str = "activity"

    @property
    def status_name(self) -> str:
        return self.status.value if self.status is not None else "all"

    def query(self, **changes: Any) -> dict[str, str]:
        """This filter (with `changes`) as query parameters, defaults left out."""
        chosen = replace(self, **changes) if changes else self
        values = {
            "status": chosen.status_name,
            "q": chosen.text.strip(),
            "view": "" if chosen.view == "all" else chosen.view,
            "assignee": chosen.assignee,
            "label": chosen.label,
            "number": chosen.number,
            "from": chosen.created_from.isoformat() if chosen.created_from else "",
            "to": chosen.created_to.isoformat() if chosen.created_to else "",
            "failed": "1" if chosen.failed else "",
            "sort": "" if chosen.sort == "activity" else chosen.sort,
        }
        return {name: value for name, value in values.items() if value}

    @property
    def narrowed(self) -> bool:
        """Anything chosen beyond the status and the search box."""
        return self.query().keys() - {"status", "q"} - {"sort"} != set()


def _date(args: Mapping[str, str], name: str) -> date | None:
    raw = (args.get(name) or "").strip()[:40]
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a date such as 2026-12-31", field=name) from None


def _choice(args: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (args.get(name) or "").strip()[:20] or default
    if value not in allowed:
        raise InvalidInput(f"{name} must be {', '.join(allowed[:-1])} or {allowed[-1]}", field=name)
    return value


def parse_chat_filter(args: Mapping[str, str], default_region: str | None) -> ChatFilter:
    """Read a filter from query parameters; a bad value raises InvalidInput naming it."""
    status = _choice(args, "status", tuple(STATUSES), "active")
    number = (args.get("number") or "").strip()[:40]
    if number:
        try:
            number = parse_number(number, default_region)
        except InvalidNumber as error:
            raise InvalidInput(f"number: {error.message}", field="number") from None
    label = (args.get("label") or "").strip()
    created_from, created_to = _date(args, "from"), _date(args, "to")
    if created_from and created_to and created_to < created_from:
        raise InvalidInput("to must be on or after from", field="to")
    return ChatFilter(
        status=STATUSES[status],
        text=(args.get("q") or "")[:MAX_TEXT].strip(),
        default_region=default_region,
        view=_choice(args, "view", VIEWS, "all"),
        assignee=(args.get("assignee") or "").strip().lower()[:64],
        label=normalise_label(label) if label else "",
        number=number,
        created_from=created_from,
        created_to=created_to,
        failed=(args.get("failed") or "") in ("1", "yes", "on", "true"),
        sort=_choice(args, "sort", SORTS, "activity"),
    )


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def text_condition(search: ChatFilter) -> Any | None:
    """A typed number matches exactly (real or proxy); anything else matches part of a
    reference or a participant's name, or a chat id whole."""
    text = search.text.strip()
    if not text:
        return None
    pattern = _like(text)
    people = select(Participant.chat_id).where(col(Participant.name).ilike(pattern, escape="\\"))
    either = [
        col(Chat.reference).ilike(pattern, escape="\\"),
        col(Chat.public_id) == text,
        col(Chat.id).in_(people),
    ]
    try:
        number = parse_number(text, search.default_region)
    except InvalidNumber:
        number = None
    if number is not None:
        by_number = select(Participant.chat_id).where(
            or_(col(Participant.real_number) == number, col(Participant.proxy_number) == number)
        )
        either.append(col(Chat.id).in_(by_number))
    return or_(*either)


def view_condition(view: str, staff_user_id: int) -> Any | None:
    if view == "mine":
        return col(Chat.assignee_id) == staff_user_id
    if view == "unassigned":
        return col(Chat.assignee_id).is_(None)
    if view == "awaiting":
        return col(Chat.awaiting_since).is_not(None)
    if view == "unread":
        mark = (
            select(ChatReadMark.last_message_id)
            .where(
                col(ChatReadMark.staff_user_id) == staff_user_id,
                # Correlated to the message, the query it sits in: naming Chat here
                # would leave it uncorrelated inside EXISTS, one row per chat.
                col(ChatReadMark.chat_id) == Message.chat_id,
            )
            .scalar_subquery()
        )
        return exists().where(
            col(Message.chat_id) == Chat.id,
            col(Message.author_kind) == AuthorKind.participant,
            col(Message.id) > func.coalesce(mark, 0),
        )
    return None


def facet_conditions(search: ChatFilter, staff_user_id: int) -> dict[str, Any]:
    """The filter's conditions on Chat, by the facet each belongs to: counting the
    options of one facet applies all the others."""
    found: dict[str, Any] = {
        "status": col(Chat.status) == search.status if search.status is not None else None,
        "text": text_condition(search),
        "view": view_condition(search.view, staff_user_id),
        "assignee": None,
        "label": None,
        "number": None,
        "created": None,
        "failed": None,
        "sort": col(Chat.awaiting_since).is_not(None) if search.sort == "waiting" else None,
    }
    if search.assignee:
        who = select(StaffUser.id).where(col(StaffUser.username) == search.assignee)
        found["assignee"] = col(Chat.assignee_id).in_(who)
    if search.label:
        labelled = select(ChatLabel.chat_id).where(col(ChatLabel.label) == search.label)
        found["label"] = col(Chat.id).in_(labelled)
    if search.number:
        found["number"] = on_number(search.number)
    created = []
    if search.created_from:
        created.append(col(Chat.created_at) >= _day_start(search.created_from))
    if search.created_to:
        created.append(col(Chat.created_at) < _day_start(search.created_to + timedelta(days=1)))
    if created:
        found["created"] = created[0] if len(created) == 1 else created[0] & created[1]
    if search.failed:
        found["failed"] = col(Chat.id).in_(failed_chats())
    return found


def on_number(number: str) -> Any:
    """Chats with a participant on this proxy number. EXISTS, not IN: a number carries
    thousands of chats, and a page stops after a few of them instead of listing all."""
    return exists().where(
        col(Participant.chat_id) == Chat.id, col(Participant.proxy_number) == number
    )


def failed_chats() -> Any:
    return select(Delivery.chat_id).where(col(Delivery.status).in_(FAILED_STATUSES))


def conditions(search: ChatFilter, staff_user_id: int, *, without: str = "") -> list[Any]:
    return [
        condition
        for facet, condition in facet_conditions(search, staff_user_id).items()
        if condition is not None and facet != without
    ]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
