"""The Results tab written back to the study's spreadsheet: aggregates only, never identities."""

from __future__ import annotations

from typing import Any

import pandas as pd

__all__ = ["RESULTS_COLUMNS", "results_rows"]

# (metric column, header): per statement and round, what any observer may see
RESULTS_COLUMNS = [
    ("round", "Round"),
    ("statement_id", "ID"),
    ("domain", "Domain"),
    ("text", "Statement"),
    ("n", "n (valid ratings)"),
    ("pct_agree", "% agree"),
    ("pct_disagree", "% disagree"),
    ("median", "Median"),
    ("iqr", "IQR"),
    ("status", "Status"),
]
_STATUS = {
    "consensus_in": "Consensus in",
    "consensus_out": "Consensus out",
    "no_consensus": "No consensus",
}


def _cell(value: Any, digits: int | None = None) -> Any:
    """A JSON-ready cell: None and NaN as empty, numbers rounded, text as text."""
    if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
        return ""
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and digits is not None:
        value = round(value, digits)
        return int(value) if value.is_integer() else value
    return value if isinstance(value, int | float) else str(value)


def results_rows(metrics: pd.DataFrame, info: dict[str, Any]) -> list[list[Any]]:
    """The Results tab's rows: what it is, the snapshot and rule, then one row per statement
    and round (``metrics`` as ``lib.store.metrics_for`` returns it)."""
    rule = info.get("rule") or {}
    head = [
        ["Results written by Delphi Dashboard: aggregates only, no identities."],
        ["Study", str(info.get("study_title", ""))],
        ["Snapshot", int(info["snapshot_id"]), str(info.get("created_at", ""))[:19]],
        ["Consensus rule", str(rule.get("label", "")), str(rule.get("version", "") or "")],
        [],
        [header for _, header in RESULTS_COLUMNS],
    ]
    body = []
    for r in metrics.to_dict("records"):
        row = []
        for col, _ in RESULTS_COLUMNS:
            value = r.get(col)
            if col == "status":
                value = _STATUS.get(str(value), value)
            row.append(_cell(value, 1 if col.startswith("pct") else 2))
        body.append(row)
    return head + body
