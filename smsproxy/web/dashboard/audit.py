"""The audit log (admins only): who did what and when, filtered, paged, exported as CSV."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from quart import Blueprint, Response, render_template, url_for

from ...models import AuditEvent
from ...proxy import audit
from .. import services
from ..guards import admin_required
from ..spreadsheets import csv_line
from .base import FormErrors, InvalidForm, actor_of, query_value, signed_in

blueprint = Blueprint("audit", __name__)

FILTERS = ("action", "actor", "target", "since", "until")
CSV_COLUMNS = ("id", "at", "actor", "action", "target", "detail")


def typed_filters() -> dict[str, str]:
    return {name: query_value(name, limit=100).strip() for name in FILTERS}


def parse_day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidForm(f"{value!r} is not a date (YYYY-MM-DD)", field=field) from None


def audit_filter(typed: dict[str, str]) -> audit.AuditFilter:
    """The filter the form asks for; days are whole UTC days, `until` included."""
    since = parse_day(typed["since"], "since")
    until = parse_day(typed["until"], "until")
    if since and until and until < since:
        raise InvalidForm("The end date is before the start date", field="until")
    return audit.AuditFilter(
        action=typed["action"],
        actor=typed["actor"],
        target=typed["target"],
        since=datetime.combine(since, time(), UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), time(), UTC) if until else None,
    )


def describe(detail: dict[str, Any]) -> str:
    return ", ".join(f"{key}: {value}" for key, value in sorted((detail or {}).items()))


@blueprint.get("/audit")
@admin_required
async def get_audit() -> Any:
    typed = typed_filters()
    cursor = query_value("cursor", limit=100) or None
    errors: FormErrors = {}
    entries: list[AuditEvent] = []
    next_cursor = None
    status = 200
    async with services().db.read() as session:
        actions = await audit.known_actions(session)
        try:
            where = audit_filter(typed)
            entries, next_cursor = await audit.list_events(session, where, cursor=cursor)
        except InvalidForm as error:
            errors[error.field or "form"] = error.message
            status = error.status
    filters: dict[str, Any] = {name: value for name, value in typed.items() if value}
    html = await render_template(
        "audit.html",
        entries=entries,
        actions=actions,
        typed=typed,
        errors=errors,
        describe=describe,
        cursor=cursor,
        next_url=url_for(".get_audit", cursor=next_cursor, **filters) if next_cursor else None,
        newest_url=url_for(".get_audit", **filters) if cursor else None,
        csv_url=url_for(".get_audit_csv", **filters),
    )
    return html, status, {"Cache-Control": "no-store"}


@blueprint.get("/audit.csv")
@admin_required
async def get_audit_csv() -> Any:
    """Every entry the filters match, newest first, as CSV (the export is audited too)."""
    staff = await signed_in()
    typed = typed_filters()
    where = audit_filter(typed)
    svc = services()
    async with svc.db.transaction() as session:
        audit.record(
            session,
            actor=actor_of(staff),
            action="audit.export",
            detail={name: value for name, value in typed.items() if value},
        )

    async def rows() -> AsyncIterator[str]:
        yield csv_line(list(CSV_COLUMNS))
        async with svc.db.read() as session:
            async for entry in audit.stream_events(session, where):
                yield csv_line(
                    [
                        str(entry.id),
                        entry.at.isoformat(),
                        entry.actor,
                        entry.action,
                        entry.target or "",
                        json.dumps(entry.detail or {}, sort_keys=True),
                    ]
                )

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    headers = {
        "Content-Disposition": f'attachment; filename="smsproxy-audit-{stamp}.csv"',
        "Cache-Control": "no-store",
    }
    return Response(rows(), mimetype="text/csv", headers=headers)
