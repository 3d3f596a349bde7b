"""The pre-registered eligibility criteria (``[[eligibility]]``), checked on the Panel tab.

Each criterion names a Panel column, found as ``panel_attributes`` are (trimmed, ignoring case),
whether or not ``panel_attributes`` lists it: a criterion column is read for this check only,
never becomes an attribute and is never shown to observers.  Each invited panelist gets one row
per criterion: the value as written and whether it is met (True, False, or None: missing).

- A blank cell is missing.
- ``min`` / ``max``: a number as written, "5", "5.0", "5,5" (a decimal comma before one or two
  digits) or a number followed by words ("12 years", "12 yrs."); anything else ("about 10",
  "10-15", "10+", "1,000") cannot be read: missing, and reported with its row (the panelist
  may well meet the criterion, so it is not counted as failing).
- ``equals``: the value, trimmed, equals one of the accepted values ignoring case (a Sheets
  checkbox reads TRUE or FALSE); any other written value is not met.
- A criterion naming a column the Panel tab lacks is a configuration error: the refresh fails
  naming the criterion and the tab's columns, and the last good snapshot stays current.
- Without a Panel tab (none configured, none in the source, an empty one, or one without the
  identity column) the invited panelists are the respondents and every criterion is missing for
  each of them; one problem says so.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from lib.config import Criterion, StudyConfig
from lib.ingest.cells import cell_text, identity_key
from lib.ingest.columns import find_column
from lib.ingest.report import IngestError, Report

__all__ = ["ELIGIBILITY_COLUMNS", "criteria_results", "meets", "read_number"]

ELIGIBILITY_COLUMNS = ["identity", "criterion", "attribute", "wording", "test", "value", "met"]
# a number, then at most some words of letters ("12 years", "12 yrs."); a comma before one or
# two digits is a decimal comma, so "1,000" (a thousands separator, or a typo) is not read
_NUMBER = re.compile(
    r"([+-]?\d+)(?:\.(\d+)|,(\d{1,2}))?"  # the number
    r"(?:\s*[^\W\d_]+\.?(?:\s+[^\W\d_]+\.?)*)?"  # words, one space or more apart
)
_LONGEST = 60  # characters: a longer cell is no number of years (and is not searched)
_MAX_HEADERS = 40  # columns named in the error message


def read_number(text: str) -> float | None:
    """The number a cell states, or None when it states none that can be read.

    >>> [read_number(t) for t in ("5", "5.0", "5,5", "12 years", " 7 yrs. ")]
    [5.0, 5.0, 5.5, 12.0, 7.0]
    >>> [read_number(t) for t in ("about 10", "10-15", "10+", "1,000", "")]
    [None, None, None, None, None]
    """
    text = text.strip()
    m = _NUMBER.fullmatch(text) if len(text) <= _LONGEST else None
    if not m:
        return None
    whole, point, comma = m.groups()
    return float(f"{whole}.{point or comma or 0}")


def meets(criterion: Criterion, text: str) -> bool | None:
    """Whether a Panel value (as written) meets ``criterion``: None when missing or unreadable.

    >>> years = Criterion("Years in practice", "≥ 5 years", min=5.0)
    >>> meets(years, "12 years"), meets(years, "4"), meets(years, ""), meets(years, "many")
    (True, False, None, None)
    >>> meets(Criterion("COI disclosed", "COI", equals=("Yes",)), " yes ")
    True
    """
    text = text.strip()
    if not text:
        return None
    if criterion.equals:
        return text.casefold() in {v.casefold() for v in criterion.equals}
    number = read_number(text)
    if number is None:
        return None
    low = criterion.min is None or number >= criterion.min
    return low and (criterion.max is None or number <= criterion.max)


def criteria_results(
    tabs: dict[str, list[list[Any]]], cfg: StudyConfig, report: Report, invited: list[str]
) -> pd.DataFrame:
    """ELIGIBILITY_COLUMNS: one row per invited panelist (identity keys, in order) and criterion.

    Raises IngestError when a criterion names a column the Panel tab lacks."""
    if not cfg.eligibility:
        return pd.DataFrame(columns=ELIGIBILITY_COLUMNS)
    values = _panel_values(tabs, cfg, report)
    rows = []
    for k, c in enumerate(cfg.eligibility, start=1):
        for key in invited:
            text = values.get(key, {}).get(k, "")
            rows.append([key, k, c.attribute, c.wording, c.describe(), text, meets(c, text)])
    out = pd.DataFrame(rows, columns=ELIGIBILITY_COLUMNS)
    return out.astype({"criterion": "int64", "met": "boolean"})


def _panel_values(
    tabs: dict[str, list[list[Any]]], cfg: StudyConfig, report: Report
) -> dict[str, dict[int, str]]:
    """Identity key -> criterion number -> value as written, from each panelist's first row."""
    tab = cfg.panel_tab
    rows = tabs.get(tab) if tab else None
    if not rows:
        why = f"there is no '{tab}' tab" if tab else "no Panel tab is configured (panel_tab)"
        _unchecked(cfg, report, why)
        return {}
    header = [cell_text(h) for h in rows[0]]
    columns = {k: _column(header, c, k, tab) for k, c in enumerate(cfg.eligibility, start=1)}
    ids = find_column(header, cfg.identity_column)
    if not ids or len(rows) < 2:
        why = f"the '{tab}' tab " + (
            f"has no '{cfg.identity_column}' column" if not ids else "lists nobody"
        )
        _unchecked(cfg, report, why)
        return {}
    out: dict[str, dict[int, str]] = {}
    for i, row in enumerate(rows[1:], start=2):
        written = cell_text(row[ids[0]]) if ids[0] < len(row) else ""
        key = identity_key(written) if written else ""
        if not key or key in out:  # a duplicate row: the first is used (read_panel reports it)
            continue
        out[key] = {k: cell_text(row[j]) if j < len(row) else "" for k, j in columns.items()}
        _report_unreadable(cfg, out[key], columns, tab, i, header, report)
    return out


def _column(header: list[str], criterion: Criterion, k: int, tab: str) -> int:
    """The criterion's column (the first of that name), or the refresh fails naming it."""
    found = find_column(header, criterion.attribute)
    if found:
        return found[0]
    shown = [repr(h[:60]) for h in header if h][:_MAX_HEADERS]
    more = len([h for h in header if h]) - len(shown)
    raise IngestError(
        f"Study configuration: eligibility[{k}].attribute {criterion.attribute!r} is not a "
        f"column of the '{tab}' tab; its columns: {', '.join(shown) or 'none'}"
        + (f" and {more} more" if more > 0 else "")
    )


def _report_unreadable(
    cfg: StudyConfig,
    values: dict[int, str],
    columns: dict[int, int],
    tab: str,
    row: int,
    header: list[str],
    report: Report,
) -> None:
    """A min / max criterion's value that states no readable number is reported (missing)."""
    for k, c in enumerate(cfg.eligibility, start=1):
        text = values[k]
        if c.equals or not text or read_number(text) is not None:
            continue
        why = (
            f"eligibility[{k}] ({c.attribute[:60]} {c.describe()}) needs a number; "
            f"{text[:40]!r} is not one, so the criterion counts as missing"
        )
        report.add(tab, row, columns[k], header[columns[k]], "criterion not a number", why)


def _unchecked(cfg: StudyConfig, report: Report, why: str) -> None:
    n = len(cfg.eligibility)
    message = (
        f"{why}: the {n} eligibility criteri{'a' if n > 1 else 'on'} cannot be checked, "
        "so every panelist counts as missing on each"
    )
    report.add(cfg.panel_tab or "", None, None, "", "eligibility not checked", message)
