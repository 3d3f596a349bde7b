"""The report's tables as files: the metrics CSV and a workbook with one sheet per table.

No cell can run as a formula (``lib.reports.safety``).
"""

from __future__ import annotations

import pandas as pd

from lib.analysis.stability import STABILITY_RULE
from lib.reports.data import ReportData, rule_check
from lib.reports.safety import safe_csv, safe_workbook
from lib.reports.tables import FATE_LABELS, TERMINAL, dropped_items, final_statements, revisions

__all__ = ["METRICS_CSV_COLUMNS", "metrics_table", "metrics_csv", "xlsx_report"]

METRICS_CSV_COLUMNS = [
    "snapshot_id",
    "snapshot_taken",
    "content_hash",
    "round",
    "statement_id",
    "domain",
    "text",
    "n",
    "n_no_opinion",
    "n_missing",
    "n_agree",
    "n_disagree",
    "pct_agree",
    "ci_low",
    "ci_high",
    "cutoff",
    "votes_to_flip",
    "pct_neutral",
    "pct_disagree",
    "median",
    "q1",
    "q3",
    "iqr",
    "mean",
    "sd",
    "min",
    "max",
    "status",
    "fate",
    "rule",
]
_FINAL_COLUMNS = [
    "statement_id",
    "round",
    "domain",
    "text",
    "n",
    "pct_agree",
    "ci_low",
    "ci_high",
    "median",
    "q1",
    "q3",
    "iqr",
    "status",
    "fate",
]


def metrics_table(data: ReportData) -> pd.DataFrame:
    """The metrics per round and statement, each row naming its snapshot."""
    s = data.snapshot
    return data.metrics.assign(
        snapshot_id=s["snapshot_id"],
        snapshot_taken=f"{s['created_at']:%Y-%m-%d %H:%M} UTC",
        content_hash=str(s["content_hash"])[:12],
    )[METRICS_CSV_COLUMNS]


def metrics_csv(data: ReportData, round_: int | None = None) -> str:
    """The metrics per round and statement as CSV (one round, or all), formulas neutralised."""
    frame = metrics_table(data)
    if round_ is not None:
        frame = frame[frame["round"] == round_]
    return safe_csv(frame)


def _summary_rows(data: ReportData) -> pd.DataFrame:
    s, rule = data.snapshot, data.rule
    final = final_statements(data)["fate"].value_counts()
    rows = [
        ("Study", data.title),
        ("Snapshot", s["snapshot_id"]),
        ("Snapshot taken (UTC)", f"{s['created_at']:%Y-%m-%d %H:%M}"),
        ("Content hash", s["content_hash"][:12]),
        ("Source", s.get("source_title") or ""),
        ("Consensus rule", rule.label),
        ("Rule version", rule.version or "(none)"),
        ("Rule definition", rule.describe()),
        ("Rule source", rule.source or ""),
        ("Rule as configured now", rule_check(data)),
        ("Rounds", len(data.rates)),
        ("Panelists invited", int(data.rates["invited"].max())),
        *[
            (f"Responded in round {r.round}", f"{r.responded} ({r.response_rate:.0f}%)")
            for r in data.rates.itertuples()
        ],
        *[(f"Final: {FATE_LABELS[f]}", int(final.get(f, 0))) for f in TERMINAL],
        ("Generated (UTC)", f"{data.generated_at:%Y-%m-%d %H:%M}"),
        *[(f"Software: {k}", v) for k, v in data.software.items()],
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def _note(note: str) -> pd.DataFrame:
    return pd.DataFrame({"note": [note]})


def _sheets(data: ReportData) -> dict[str, pd.DataFrame]:
    comments = (
        data.comments
        if data.comments is not None
        else _note("Comments are shown to the steering committee only (privacy.observer_comments).")
    )
    methods = [p for p in data.narrative.split("\n\n") if p.strip()]
    return {
        "Summary": _summary_rows(data),
        "Final statements": final_statements(data)[_FINAL_COLUMNS],
        "Metrics per round": metrics_table(data).drop(
            columns=["snapshot_id", "snapshot_taken", "content_hash"]
        ),
        "Statement flow": data.flow,
        "Items dropped": dropped_items(data),
        "Revisions": revisions(data),
        "Stability": data.stability
        if not data.stability.empty
        else _note(data.stats_note or "No statement was rated in two rounds."),
        "Kendall W": data.kendall
        if not data.kendall.empty
        else _note(data.stats_note or "Not computed."),
        "Panel and response": data.rates,
        "Panel composition": data.panel if not data.panel.empty else _note("No panel attributes."),
        "Comments": comments,
        "Methods": pd.DataFrame(
            {
                "section": ["Methods and results"] * len(methods)
                + ["Consensus rule", "Stability rule"],
                "text": [*methods, data.rule.describe(), STABILITY_RULE.replace("**", "")],
            }
        ),
    }


def xlsx_report(data: ReportData) -> bytes:
    """The report as a workbook, one sheet per table; no cell can run as a formula."""
    return safe_workbook(_sheets(data))
