"""The Panel tab: who was invited, as first written, with their name and listed attributes.

Only the columns the study configuration lists in ``panel_attributes`` become attributes, the
values observers may see (in groups pooled under ``privacy.min_group_size``).  Every other
column (names, phones, profiles, anything) stays out: the first column called "… name …" gives
the coordinator's identity table the panelist's name, and nothing else of them is kept.
Whether a listed column *looks* identifying is only a warning in the report: the allowlist,
not a guess from header words, decides.  The columns the ``[[eligibility]]`` criteria name are
read by :mod:`lib.ingest.eligibility` for that check alone: listed or not, never as attributes.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from lib.config import StudyConfig
from lib.ingest.cells import cell_text, identity_key
from lib.ingest.columns import find_column
from lib.ingest.report import Report, column_letter

__all__ = ["PANEL_COLUMNS", "read_panel"]

PANEL_COLUMNS = ["identity", "display", "name"]  # then one column per listed attribute
_NAME = re.compile(r"(?i)\bname\b")  # the name for the coordinator's mail merge
# Header words and values that suggest a listed attribute identifies someone: a warning only.
_IDENTIFYING = re.compile(
    r"(?i)(name|\bnom\b|surname|initials|e-?mail|phone|mobile|\btel\b|address|contact|linkedin"
    r"|orcid|twitter|website|birth)"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.\w")


def read_panel(tabs: dict[str, list[list[Any]]], cfg: StudyConfig, report: Report) -> pd.DataFrame:
    """identity (key), display (as written), name (or None), then one column per attribute
    listed in ``cfg.panel_attributes`` and found in the tab; empty without a panel."""
    tab = cfg.panel_tab
    empty = pd.DataFrame(columns=PANEL_COLUMNS)
    if not tab or tab not in tabs or not tabs[tab]:
        return empty
    rows = tabs[tab]
    header = [cell_text(h) for h in rows[0]]
    ids = find_column(header, cfg.identity_column)  # the first such column
    if not ids:
        why = f"the '{tab}' tab has no '{cfg.identity_column}' column; panel ignored"
        report.add(tab, 1, None, "", "no identity column", why)
        return empty
    attrs = _attribute_columns(header, ids[0], cfg.panel_attributes, tab, report)
    named = [j for j, h in enumerate(header) if j != ids[0] and _NAME.search(h)]
    out, seen = [], set()
    for i, row in enumerate(rows[1:], start=2):
        written = _cell(row, ids[0])
        if not written:
            continue
        key = identity_key(written)
        if key in seen:
            why = f"{written} is listed twice; the first row is used"
            report.add(tab, i, ids[0], header[ids[0]], "duplicate panelist", why)
            continue
        seen.add(key)
        rec = {"identity": key, "display": written, "name": _cell(row, named[0]) if named else ""}
        rec.update({h: _cell(row, j) for j, h in attrs})
        out.append(rec)
    panel = pd.DataFrame(out, columns=[*PANEL_COLUMNS, *[h for _, h in attrs]])
    _warn_email_values(panel, attrs, tab, report)
    return panel.assign(name=panel["name"].map(lambda v: v or None))


def _cell(row: list[Any], j: int) -> str:
    return cell_text(row[j]) if j < len(row) else ""


def _attribute_columns(
    header: list[str], id_col: int, listed: tuple[str, ...], tab: str, report: Report
) -> list[tuple[int, str]]:
    """The listed columns, under unique names (a repeated or reserved one gets its letter);
    a listed name with no column, or one that looks identifying, is reported."""
    wanted = {name.casefold(): name for name in listed}
    taken, out, found = set(PANEL_COLUMNS), [], set()
    for j, h in enumerate(header):
        if j == id_col or h.casefold() not in wanted:
            continue
        found.add(h.casefold())
        name = h
        while name in taken:
            name = f"{name} ({column_letter(j)})"
        if name != h:
            kind = "renamed column" if h in PANEL_COLUMNS else "duplicate header"
            why = f"another column is already called {h[:80]!r}; this one is kept as {name[:90]!r}"
            report.add(tab, 1, j, h, kind, why)
        if _IDENTIFYING.search(h):
            why = (
                f"{h[:80]!r} is listed in panel_attributes but its header suggests it identifies "
                "a person; observers see its values (groups under the minimum pooled)"
            )
            report.add(tab, 1, j, h, "attribute may identify", why)
        taken.add(name)
        out.append((j, name))
    for key, name in wanted.items():
        if key not in found:
            why = f"panel_attributes lists {name[:80]!r} but the '{tab}' tab has no such column"
            report.add(tab, 1, None, name, "attribute not found", why)
    return out


def _warn_email_values(
    panel: pd.DataFrame, attrs: list[tuple[int, str]], tab: str, report: Report
) -> None:
    """A listed column holding e-mail addresses is reported (it is still an attribute)."""
    for j, name in attrs:
        if panel[name].str.contains(_EMAIL).any():
            why = f"{name[:80]!r} is listed in panel_attributes but holds e-mail addresses"
            report.add(tab, 1, j, name, "attribute may identify", why)
