"""The Panel tab: who was invited, as first written, with their attributes."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lib.config import StudyConfig
from lib.ingest.cells import cell_text, identity_key
from lib.ingest.columns import find_column
from lib.ingest.report import Report, column_letter

__all__ = ["read_panel"]


def read_panel(tabs: dict[str, list[list[Any]]], cfg: StudyConfig, report: Report) -> pd.DataFrame:
    """identity (key), display (as written), then one column per attribute; empty without panel."""
    tab = cfg.panel_tab
    empty = pd.DataFrame(columns=["identity", "display"])
    if not tab or tab not in tabs or not tabs[tab]:
        return empty
    rows = tabs[tab]
    header = [cell_text(h) for h in rows[0]]
    ids = find_column(header, cfg.identity_column)  # the first such column
    if not ids:
        why = f"the '{tab}' tab has no '{cfg.identity_column}' column; panel ignored"
        report.add(tab, 1, None, "", "no identity column", why)
        return empty
    attrs = _attribute_columns(header, ids[0], tab, report)
    out, seen = [], set()
    for i, row in enumerate(rows[1:], start=2):
        written = cell_text(row[ids[0]]) if ids[0] < len(row) else ""
        if not written:
            continue
        key = identity_key(written)
        if key in seen:
            why = f"{written} is listed twice; the first row is used"
            report.add(tab, i, ids[0], header[ids[0]], "duplicate panelist", why)
            continue
        seen.add(key)
        rec = {"identity": key, "display": written}
        rec.update({h: (cell_text(row[j]) if j < len(row) else "") for j, h in attrs})
        out.append(rec)
    return pd.DataFrame(out, columns=["identity", "display", *[h for _, h in attrs]])


def _attribute_columns(
    header: list[str], id_col: int, tab: str, report: Report
) -> list[tuple[int, str]]:
    """Panel attribute columns under unique names: a repeated or reserved one gets its letter."""
    taken, out = {"identity", "display"}, []
    for j, h in enumerate(header):
        if j == id_col or not h:
            continue
        name = h
        while name in taken:
            name = f"{name} ({column_letter(j)})"
        if name != h:
            kind = "renamed column" if h in ("identity", "display") else "duplicate header"
            why = f"another column is already called {h[:80]!r}; this one is kept as {name[:90]!r}"
            report.add(tab, 1, j, h, kind, why)
        taken.add(name)
        out.append((j, name))
    return out
