"""The Reports page: charts of a period, and each chart's numbers as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

from quart import Blueprint, Response, render_template

from ...db import utcnow
from ...errors import NotFound, ProxyError
from ...proxy import reports
from .. import services
from ..guards import staff_required
from .base import FormErrors, InvalidForm, query_value

blueprint = Blueprint("reports", __name__)

CHOICES = (
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
    ("custom", "From … to …"),
)


def typed_period() -> dict[str, str]:
    return {
        "period": query_value("period", "24h", 10).strip() or "24h",
        "from": query_value("from", limit=10).strip(),
        "to": query_value("to", limit=10).strip(),
        "bucket": query_value("bucket", limit=10).strip(),
    }


def _day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidForm(f"{value!r} is not a date (YYYY-MM-DD)", field=field) from None


def period_of(typed: dict[str, str]) -> reports.Period:
    """The period the form (or a CSV link, with the same query string) asks for."""
    custom = typed["period"] == "custom"
    return reports.period_for(
        typed["period"],
        bucket=typed["bucket"],
        since=_day(typed["from"], "from") if custom else None,
        until=_day(typed["to"], "to") if custom else None,
        now=utcnow(),
    )


def link_args(typed: dict[str, str]) -> dict[str, str]:
    """The query string that asks for the same period again."""
    wanted = dict(typed)
    if wanted["period"] != "custom":
        wanted.pop("from"), wanted.pop("to")
    return {name: value for name, value in wanted.items() if value}


def chart_data(report: reports.Report) -> dict[str, Any]:
    """What static/js/reports.js draws (embedded in the page as JSON)."""
    return {
        "bucket": report.period.bucket,
        "starts": report.starts,
        "charts": [
            {
                "key": chart.key,
                "title": chart.title,
                "unit": chart.unit,
                "series": [{"label": s.label, "values": s.values} for s in chart.series],
            }
            for chart in report.charts
        ],
    }


def bucket_label(start: int, bucket: str) -> str:
    moment = datetime.fromtimestamp(start, UTC)
    return moment.strftime("%Y-%m-%d" if bucket == "day" else "%Y-%m-%d %H:%M")


def cell(value: float | None) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


@blueprint.get("/reports")
@staff_required
async def get_reports() -> Any:
    typed = typed_period()
    errors: FormErrors = {}
    report = None
    status = 200
    try:
        period = period_of(typed)
        async with services().db.read() as session:
            report = await reports.build_report(session, period)
    except ProxyError as error:
        errors[error.field or "period"] = error.message
        status = error.status
    html = await render_template(
        "reports.html",
        typed=typed,
        choices=CHOICES,
        errors=errors,
        report=report,
        data=chart_data(report) if report else None,
        csv_args=link_args(typed),
        bucket_label=bucket_label,
        cell=cell,
    )
    return html, status, {"Cache-Control": "no-store"}


@blueprint.get("/reports/<chart>.csv")
@staff_required
async def get_report_csv(chart: str) -> Any:
    """One chart's numbers: a row per hour or day, a column per series."""
    if chart not in reports.CHARTS:
        raise NotFound(f"No chart called {chart!r}: one of {', '.join(reports.CHARTS)}")
    period = period_of(typed_period())
    async with services().db.read() as session:
        found = await reports.build_chart(session, period, chart)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["start (UTC)", *(series.label for series in found.series)])
    for start, values in found.rows(period.starts()):
        moment = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        writer.writerow([moment, *(cell(value) for value in values)])
    name = f"smsproxy-{chart}-{period.start:%Y%m%d-%H%M}-{period.bucket}.csv"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "no-store",
    }
    return Response(out.getvalue(), mimetype="text/csv", headers=headers)
