"""The report's tables as files: the metrics CSV and a workbook with one sheet per table.

No cell can run as a formula (``lib.reports.safety``).
"""

from __future__ import annotations

import pandas as pd

from lib.analysis.groups import pooling_rule
from lib.analysis.stability import STABILITY_RULE
from lib.analysis.stakeholders import CONCORDANCE_RULE
from lib.analysis.uncertainty import BIMODALITY_NOTE, SHAPE_RULE
from lib.reports.data import ReportData, rule_check
from lib.reports.decisions import criteria_frame
from lib.reports.groups import BY_GROUP_COLUMNS, GroupResults
from lib.reports.render import rule_definition
from lib.reports.safety import safe_csv, safe_workbook
from lib.reports.scale_uses import (
    ScaleUsed,
    mixed,
    no_opinion_text,
    row_scales,
    scale_name,
    scales_used,
)
from lib.reports.tables import (
    FATE_LABELS,
    TERMINAL,
    dropped_items,
    final_statements,
    human_table,
    revisions,
)
from lib.reports.uncertainty import shape_counts, uncertainty_sheets

__all__ = [
    "GROUP_SHEET_COLUMNS",
    "METRICS_CSV_COLUMNS",
    "group_table",
    "metrics_table",
    "metrics_csv",
    "xlsx_report",
]

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


# The "Results per group" sheet: the by-group export's columns, how the groups agree, and
# whether the row is the statement's final version.
GROUP_SHEET_COLUMNS = [*BY_GROUP_COLUMNS, "concordance", "gap", "final_version"]


def metrics_table(data: ReportData) -> pd.DataFrame:
    """The metrics per round and statement, each row naming its snapshot (and, when some
    statements have a scale of their own, the scale it was rated on: a Yes/No row's
    ``pct_agree`` is its share of Yes, its median and quartiles blank)."""
    s = data.snapshot
    out = data.metrics.assign(
        snapshot_id=s["snapshot_id"],
        snapshot_taken=f"{s['created_at']:%Y-%m-%d %H:%M} UTC",
        content_hash=str(s["content_hash"])[:12],
    )
    return _with_scale(out, data)[_columns(METRICS_CSV_COLUMNS, data)]


def _several(data: ReportData) -> list[ScaleUsed]:
    """The scales used, when any statement was rated on a scale other than the main one."""
    used = scales_used(data.metrics, data.scales, data.scale)
    return used if mixed(used) else []


def _columns(columns: list[str], data: ReportData) -> list[str]:
    return [*columns, "scale"] if _several(data) else columns


def _with_scale(frame: pd.DataFrame, data: ReportData) -> pd.DataFrame:
    """``frame`` with each row's scale named, when the study used more than one."""
    if not _several(data):
        return frame
    return frame.assign(scale=[scale_name(x) for x in row_scales(frame, data.scales)])


def _scales_sheet(used: list[ScaleUsed]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "scale": [scale_name(u.scale) for u in used],
            "used_in": [u.where for u in used],
            "answers": [u.answers for u in used],
            "rule": [u.scale.rule.label for u in used],
            "rule_definition": [rule_definition(u.scale.rule) for u in used],
            "no_opinion": [no_opinion_text(u.scale) for u in used],
        }
    )


def metrics_csv(data: ReportData, round_: int | None = None) -> str:
    """The metrics per round and statement as CSV (one round, or all), formulas neutralised."""
    frame = metrics_table(data)
    if round_ is not None:
        frame = frame[frame["round"] == round_]
    return safe_csv(frame)


def group_table(data: ReportData, g: GroupResults) -> pd.DataFrame:
    """One row per round × statement × group (``All``: the whole panel) with the rule's verdict
    within the group, the study's verdict, the concordance and gap of the statement, and
    whether that round holds its final version."""
    final = final_statements(data)[["round", "statement_id"]].assign(final_version=True)
    conc = g.concordance[["round", "statement_id", "concordance", "gap"]]
    out = g.rows.merge(conc, on=["round", "statement_id"], how="left")
    out = out.merge(final, on=["round", "statement_id"], how="left")
    out["final_version"] = out["final_version"].eq(True).map({True: "yes", False: "no"})
    return _with_scale(out, data)[_columns(GROUP_SHEET_COLUMNS, data)]


def _group_methods(g: GroupResults) -> list[tuple[str, str]]:
    """The Methods sheet's rows on the stakeholder groups: the choice, concordance, pooling."""
    shown = ", ".join(g.labels)
    small = (
        pooling_rule(g.min_group_size) + " The study's status is computed on every group."
        if g.pooled
        else "Every group is shown, whatever its size (the steering committee's copy)."
    )
    choice = g.choice.describe()
    return [
        ("Stakeholder groups", f"{g.choice.attribute}: {shown}"),
        ("Stakeholder groups", f"{choice[:1].upper()}{choice[1:]}."),
        ("Concordance rule", CONCORDANCE_RULE),
        ("Small groups", small),
    ]


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
        ("Rule definition", rule_definition(rule)),
        ("Rule source", rule.source or ""),
        ("Rule as configured now", rule_check(data)),
        *(
            [("Consensus in the study", data.groups.choice.describe())]
            if data.groups is not None
            else []
        ),
        *_stopping_rows(data),
        ("Rounds", len(data.rates)),
        ("Panelists invited", int(data.rates["invited"].max())),
        *([("Eligibility", data.eligibility.sentence)] if data.eligibility is not None else []),
        *[
            (f"Responded in round {r.round}", f"{r.responded} ({r.response_rate:.0f}%)")
            for r in data.rates.itertuples()
        ],
        *[(f"Final: {FATE_LABELS[f]}", int(final.get(f, 0))) for f in TERMINAL],
        *_uncertainty_rows(data),
        ("Generated (UTC)", f"{data.generated_at:%Y-%m-%d %H:%M}"),
        *[(f"Software: {k}", v) for k, v in data.software.items()],
    ]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": str})


def _stopping_rows(data: ReportData) -> list[tuple[str, str]]:
    """The stopping rule, its verdict after the last round and any conflict with stability."""
    s = data.stopping
    if s is None:
        return []
    rows = [("Stopping rule", s.described)]
    if s.verdict is None:
        return [*rows, ("Stopping verdict", s.note)]
    if s.rule is not None:
        rows.append(("Stopping verdict", s.verdict.headline))
    if s.verdict.conflict:
        rows.append(("Stopping rule and stability", s.verdict.conflict))
    return rows


def _uncertainty_rows(data: ReportData) -> list[tuple[str, str]]:
    """How many statements ended without consensus, by the shape of their ratings."""
    u = data.uncertainty
    if u is None:
        return []
    shapes = ", ".join(f"{n} {name}" for name, n in shape_counts(u.areas))
    return [("Areas of uncertainty", f"{len(u.areas)}: {shapes}")]


def _decision_methods(data: ReportData) -> list[tuple[str, str]]:
    """The Methods sheet's rows on the stopping rule, eligibility and areas of uncertainty."""
    rows = []
    if data.stopping is not None:
        rows.append(("Stopping rule", data.stopping.described))
        rows += [("Stopping verdict", r) for r in data.stopping.reasons]
    if data.eligibility is not None:
        rows += [("Eligibility", data.eligibility.rule)]
    if data.uncertainty is not None:
        rows.append(("Shape of the disagreement", SHAPE_RULE))
        rows.append(("Bimodality coefficient", BIMODALITY_NOTE))
    return rows


def _note(note: str) -> pd.DataFrame:
    return pd.DataFrame({"note": [note]})


def _sheets(data: ReportData) -> dict[str, pd.DataFrame]:
    comments = (
        data.comments
        if data.comments is not None
        else _note("Comments are shown to the steering committee only (privacy.observer_comments).")
    )
    methods = [p for p in data.narrative.split("\n\n") if p.strip()]
    used = _several(data)
    rules = (
        [rule_definition(data.rule)]
        if not used
        else [f"{scale_name(u.scale)}, {u.where}: {rule_definition(u.scale.rule)}" for u in used]
    )
    scales = {"Scales": _scales_sheet(used)} if used else {}
    g = data.groups
    by_group = {"Results per group": group_table(data, g)} if g is not None else {}
    extra = (_group_methods(g) if g is not None else []) + _decision_methods(data)
    e = data.eligibility
    criteria = {"Eligibility": criteria_frame(e)} if e is not None else {}
    stability = STABILITY_RULE.replace("**", "")
    return {
        "Summary": _summary_rows(data),
        **scales,
        "Final statements": _with_scale(final_statements(data), data)[
            _columns(_FINAL_COLUMNS, data)
        ],
        **uncertainty_sheets(data),
        "Metrics per round": metrics_table(data).drop(
            columns=["snapshot_id", "snapshot_taken", "content_hash"]
        ),
        **by_group,
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
        **criteria,
        "Comments": comments,
        "Methods": pd.DataFrame(
            {
                "section": ["Methods and results"] * len(methods)
                + ["Consensus rule"] * len(rules)
                + [k for k, _ in extra]
                + ["Stability rule"],
                "text": [*methods, *rules, *[v for _, v in extra], stability],
            }
        ),
    }


def xlsx_report(data: ReportData, *, human: bool = False) -> bytes:
    """The report as a workbook, one sheet per table; no cell can run as a formula.  Headers
    are the CSV's machine names, or with ``human`` headers with units and numbers rounded as
    a person reads them (``lib.reports.tables.human_table``)."""
    sheets = _sheets(data)
    if human:
        sheets = {name: human_table(frame) for name, frame in sheets.items()}
    return safe_workbook(sheets)
