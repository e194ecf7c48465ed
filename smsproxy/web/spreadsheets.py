"""CSV that spreadsheets open safely: what every export of the dashboard and API writes."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

# A cell a spreadsheet would run as a formula (a username typed at the login form
# could be "=HYPERLINK(...)", a participant's text "=1+1"): written with a leading
# apostrophe, as OWASP advises.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def csv_line(values: Iterable[str]) -> str:
    """One CSV row (with its line end), every cell made safe."""
    out = io.StringIO()
    csv.writer(out).writerow([csv_cell(value) for value in values])
    return out.getvalue()
