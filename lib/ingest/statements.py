"""The statements of a study: the Statements tab as listed, merged with those the tabs ask."""

from __future__ import annotations

from typing import Any

import pandas as pd

from lib.config import StudyConfig
from lib.ingest.cells import cell_text
from lib.ingest.columns import Column
from lib.ingest.report import IngestError, Report

__all__ = ["STATEMENT_COLUMNS", "asked_rows", "listed_statements", "statement_table"]

STATEMENT_COLUMNS = ["statement_id", "round", "domain", "text", "revised_from"]


def listed_statements(
    tabs: dict[str, list[list[Any]]], cfg: StudyConfig, report: Report
) -> pd.DataFrame | None:
    """The Statements tab as a frame (STATEMENT_COLUMNS), or None when the study has none."""
    tab = cfg.statements_tab
    if not tab or tab not in tabs:
        return None
    rows = tabs[tab]
    first = _header(tab, rows)
    out = []
    for i, row in enumerate(rows[1:], start=2):
        rec = {h: (cell_text(row[j]) if j < len(row) else "") for h, j in first.items()}
        if not rec.get("statement_id") or not rec.get("text"):
            if any(cell_text(v) for v in row):
                why = "row without statement_id or text; ignored"
                report.add(tab, i, None, "", "incomplete statement", why)
            continue
        rnd = _round_number(rec["round"])
        if rnd is None:
            why = f"round {rec['round'][:40]!r} is not a whole number; row ignored"
            report.add(tab, i, first["round"], "round", "bad round", why)
            continue
        domain, revised = rec.get("domain") or "Unassigned", rec.get("revised_from") or None
        out.append([rec["statement_id"], rnd, domain, rec["text"], revised])
    return pd.DataFrame(out, columns=STATEMENT_COLUMNS)


def _header(tab: str, rows: list[list[Any]]) -> dict[str, int]:
    """Each (case-folded) column name of the Statements tab -> its first column."""
    if not rows:
        raise IngestError(
            f"The '{tab}' tab is empty: it needs a header row "
            "statement_id, round, domain, text, revised_from"
        )
    header = [cell_text(h).casefold() for h in rows[0]]
    missing = [c for c in ["statement_id", "round", "text"] if c not in header]
    if missing:
        raise IngestError(
            f"The '{tab}' tab has no column {', '.join(missing)} "
            f"(found: {', '.join(cell_text(h) for h in rows[0])})"
        )
    return {h: j for j, h in reversed(list(enumerate(header)))}  # a repeated header: the first


def _round_number(text: str) -> int | None:
    """A round number as written in the Statements tab ('2', '2.0'); None for anything else.

    >>> _round_number("2"), _round_number("2.0"), _round_number("1.5"), _round_number("nan")
    (2, 2, None, None)
    """
    try:
        number = float(text)
    except ValueError:
        return None
    # the store keeps rounds as 32-bit integers; NaN, ±inf and 1.5 are not round numbers
    if not number.is_integer() or abs(number) >= 2**31:
        return None
    return int(number)


def asked_rows(rnd: int, stmt_cols: list[Column]) -> list[dict[str, Any]]:
    """The statements a round tab asks, as STATEMENT_COLUMNS records."""
    return [
        {
            "statement_id": c.statement_id,
            "round": rnd,
            "domain": c.domain,
            "text": c.text,
            "revised_from": None,
        }
        for c in stmt_cols
    ]


def statement_table(
    listed: pd.DataFrame | None, found: list[dict[str, Any]], cfg: StudyConfig, report: Report
) -> pd.DataFrame:
    """Every statement of the study: those listed, plus those asked but not listed.

    A listed statement no read round tab asks is reported (an empty round tab is reported
    once, as an empty tab).
    """
    if listed is None:
        return pd.DataFrame(found, columns=STATEMENT_COLUMNS)
    asked = {(f["round"], f["statement_id"]) for f in found}
    read = {r for r, _ in asked}
    tab_of = {r: t for t, r in cfg.rounds.items() if r in read}
    for s in listed.itertuples():
        if s.round in tab_of and (s.round, s.statement_id) not in asked:
            report.add(
                tab_of[s.round],
                1,
                None,
                "",
                "statement not asked",
                f"statement {s.statement_id} is listed for round {s.round} but has no "
                "question in this tab",
            )
    listed_keys = set(zip(listed["round"], listed["statement_id"], strict=True))
    extra = [f for f in found if (f["round"], f["statement_id"]) not in listed_keys]
    merged = pd.concat([listed, _fill_from_catalogue(extra, listed)], ignore_index=True)
    return merged.drop_duplicates(["round", "statement_id"]).reset_index(drop=True)


def _fill_from_catalogue(extra: list[dict[str, Any]], listed: pd.DataFrame) -> pd.DataFrame:
    """A statement asked in a round the Statements tab does not list: copy its listed wording."""
    out = []
    for f in extra:
        known = listed[listed["statement_id"] == f["statement_id"]]
        rec = dict(f)
        if len(known):
            first = known.iloc[-1]
            rec.update(domain=first["domain"], text=first["text"])
        out.append(rec)
    return pd.DataFrame(out, columns=listed.columns)
