"""The tables a report derives from its metrics: fates, flows, panel, final list, changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from lib.analysis import flow, participation, solidity
from lib.analysis.groups import other_label
from lib.analysis.rules import STATUSES, Rule
from lib.analysis.scales import Scale, ScaleMap
from lib.reports.scale_uses import row_scales

if TYPE_CHECKING:
    from lib.reports.data import ReportData

__all__ = [
    "FATE_LABELS",
    "TERMINAL",
    "annotate_metrics",
    "round_flow",
    "panel_composition",
    "final_statements",
    "dropped_items",
    "revisions",
    "HEADERS",
    "DECIMALS",
    "human_table",
]

# Machine column names (the CSV's, for scripts) -> what a person reads, with units.
HEADERS = {
    "snapshot_id": "Snapshot",
    "snapshot_taken": "Snapshot taken (UTC)",
    "content_hash": "Content hash",
    "round": "Round",
    "statement_id": "ID",
    "domain": "Domain",
    "text": "Statement",
    "n": "Valid ratings (n)",
    "n_no_opinion": "No opinion (n)",
    "n_missing": "Blank (n)",
    "n_agree": "Agree (n)",
    "n_disagree": "Disagree (n)",
    "pct_agree": "Agree (%)",
    "pct_neutral": "Neutral (%)",
    "pct_disagree": "Disagree (%)",
    "ci_low": "Agree, 95% CI low (%)",
    "ci_high": "Agree, 95% CI high (%)",
    "cutoff": "Votes needed (n)",
    "votes_to_flip": "Votes to flip (n)",
    "median": "Median (points)",
    "q1": "Q1 (points)",
    "q3": "Q3 (points)",
    "iqr": "IQR (points)",
    "mean": "Mean (points)",
    "sd": "SD (points)",
    "min": "Lowest (points)",
    "max": "Highest (points)",
    "status": "Status",
    "fate": "Outcome",
    "rule": "Rule",
    "scale": "Scale",
    "n_panelists": "Panelists (W, complete cases)",
    "n_statements": "Statements (W)",
    "panelists_dropped": "Panelists left out of W",
    "statements_dropped": "Statements left out of W",
    "w": "Kendall's W",
    "chi2": "Chi-squared (W)",
    "df": "df",
    "p": "p",
    "mcnemar_p": "McNemar p (exact binomial)",
    "wilcoxon_p": "Wilcoxon p",
    "note": "Note",
    "invited": "Invited (n)",
    "responded": "Responded (n)",
    "response_rate": "Response rate (%)",
}
# Decimals a person needs: percentages to 0.1, scale points to 0.01, indices to 0.001.
DECIMALS = {
    **dict.fromkeys(["pct_agree", "pct_neutral", "pct_disagree", "ci_low", "ci_high"], 1),
    **dict.fromkeys(["response_rate", "median"], 1),
    **dict.fromkeys(["q1", "q3", "iqr", "mean", "sd", "chi2"], 2),
    **dict.fromkeys(["w", "alpha"], 3),
    **dict.fromkeys(["p", "mcnemar_p", "wilcoxon_p"], 4),
}


def human_table(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` for a person: numbers rounded (``DECIMALS``), headers with units
    (``HEADERS``); columns not listed are kept as they are.

    >>> human_table(pd.DataFrame({"pct_agree": [86.66666], "sd": [0.912345], "x": [1]}))
       Agree (%)  SD (points)  x
    0       86.7         0.91  1
    """
    out = frame.copy()
    for col, places in DECIMALS.items():
        if col in out and pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].round(places)
    return out.rename(columns=HEADERS)


# What became of a (round, statement): the vocabulary of lib.analysis.flow.statement_flow.
FATE_LABELS = {
    "accepted": "accepted (consensus in)",
    "rejected": "rejected (consensus out)",
    "carried": "rated again",
    "revised": "revised",
    "dropped": "dropped without consensus",
    "open": "no consensus after the last round",
}
TERMINAL = ("accepted", "rejected", "open", "dropped")
_FATE_SHORT = {
    "accepted": "accepted",
    "rejected": "rejected",
    "carried": "rated again",
    "dropped": "dropped",
    "open": "open at the end",
}


def annotate_metrics(
    metrics: pd.DataFrame,
    statements: pd.DataFrame,
    rule: Rule,
    denom_no_opinion: bool = False,
    scales: ScaleMap | None = None,
) -> pd.DataFrame:
    """Metrics with entry, fate, Wilson interval, vote cut-off and votes to flip.

    ``entry`` and ``fate`` come from ``analysis.flow.statement_flow``; ``ci_low``/``ci_high``
    (Wilson 95% of % agree), ``denominator`` (of the percentages), ``cutoff`` and
    ``votes_to_flip`` from ``analysis.solidity``.  With ``scales``, each statement is judged on
    its own scale (a Yes/No question's interval is that of its share of Yes), and ``scale``
    names it (``""``: the main scale) and ``yes_no`` says whether it is a Yes/No question.
    """
    fates = flow.statement_flow(metrics, statements)
    if scales is None:
        solid = solidity.solidity(metrics, rule, denom_no_opinion)
    else:
        solid = solidity.solidity_by_scale(metrics, scales)
    out = metrics.merge(
        fates[["round", "statement_id", "entry", "fate", "next_statement_id"]],
        on=["round", "statement_id"],
        how="left",
    )
    out = out.merge(
        solid[
            ["round", "statement_id", "denominator", "ci_low", "ci_high", "cutoff", "votes_to_flip"]
        ],
        on=["round", "statement_id"],
        how="left",
    )
    if scales is not None:
        own = row_scales(out, scales)
        out["scale"] = [s.name for s in own]
        out["yes_no"] = [s.yes_no for s in own]
    out["fate_detail"] = [
        f"revised as {nxt}" if fate == "revised" else _FATE_SHORT.get(fate, "")
        for fate, nxt in zip(out["fate"], out["next_statement_id"], strict=True)
    ]
    return out


def round_flow(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per round: statements rated, how they entered, their status and what became of them."""
    cols = {
        "entry": {
            "entered": "entered",
            "added": "added",
            "carried": "carried_in",
            "revised": "revised_in",
        },
        "status": {s: s for s in STATUSES},
        "fate": {
            "accepted": "accepted",
            "rejected": "rejected",
            "carried": "to_next_round",
            "revised": "revised_for_next",
            "dropped": "dropped",
            "open": "open",
        },
    }
    out = pd.DataFrame({"rated": metrics.groupby("round").size()})
    for col, names in cols.items():
        counts = metrics.groupby(["round", col]).size().unstack(fill_value=0)
        for value, name in names.items():
            out[name] = counts[value] if value in counts else 0
    return out.reset_index().astype("int64")


def panel_composition(attributes: pd.DataFrame, min_group_size: int) -> pd.DataFrame:
    """Counts per panel attribute group, pooled as the Panel page pools them.

    The groups are ``participation.attribute_groups`` (``groups.pool_small_groups``), so the
    report shows no size the page hides nor the reverse.  An attribute whose values are all
    numbers is summarised by its median and IQR instead (no range: its ends are one person);
    an attribute held by fewer than ``min_group_size`` panelists in all is left out.
    """
    shown = participation.attribute_groups(attributes, min_group_size)
    rows = []
    for attr, part in attributes.dropna(subset=["attribute"]).groupby("attribute", sort=True):
        pooled = shown[shown["attribute"] == attr]
        if pooled["group"].isna().all():
            continue
        values = pd.to_numeric(part["value"], errors="coerce")
        if values.notna().all():
            q1, med, q3 = values.quantile([0.25, 0.5, 0.75])  # type 7, as everywhere else
            rows.append((attr, f"median {med:g} (IQR {q1:g}–{q3:g})", len(values)))
            continue
        counts = pooled["group"].value_counts()
        other = other_label(min_group_size)
        by_size = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
        rows += [(attr, v, int(n)) for v, n in by_size if v != other]
        rows += [(attr, other, int(counts[other]))] if other in counts.index else []
    return pd.DataFrame(rows, columns=["attribute", "value", "count"])


def final_statements(data: ReportData) -> pd.DataFrame:
    """Each statement's final version and outcome: accepted, rejected, open or dropped."""
    m = data.metrics[data.metrics["fate"].isin(TERMINAL)].copy()
    m["_order"] = m["fate"].map({f: i for i, f in enumerate(TERMINAL)})
    return m.sort_values(["_order", "statement_id"]).drop(columns="_order").reset_index(drop=True)


def dropped_items(data: ReportData) -> pd.DataFrame:
    """Statements that left the study without being accepted, with the reason."""
    m = data.metrics[data.metrics["fate"].isin(["rejected", "dropped"])]
    reasons = [
        _dropped_reason(r, data.scales.scale_for(r.round, r.statement_id)) for r in m.itertuples()
    ]
    return m.assign(reason=reasons)[
        ["statement_id", "round", "domain", "text", "reason"]
    ].reset_index(drop=True)


def _dropped_reason(r: Any, scale: Scale) -> str:
    """Why a statement left the study, in its own scale's terms."""
    if r.fate == "rejected":
        if scale.yes_no:
            no = scale.point_labels()[0]
            return f"Consensus against in round {r.round}: {r.pct_disagree:.0f}% answered {no}"
        lo, hi = scale.rule.disagree
        return f"Consensus against in round {r.round}: {r.pct_disagree:.0f}% rated {lo:g}–{hi:g}"
    share = (
        f"{r.pct_agree:.0f}% {scale.point_labels()[1]}"
        if scale.yes_no
        else (f"{r.pct_agree:.0f}% agreement")
    )
    return (
        f"No consensus in round {r.round} ({share}); not taken to the next round by the "
        "steering committee"
    )


def revisions(data: ReportData) -> pd.DataFrame:
    """Wording changes: each revised statement beside the wording it replaced."""
    m = data.metrics
    new = m[m["entry"] == "revised"]
    old = m.drop_duplicates("statement_id", keep="last").set_index("statement_id")["text"]
    return pd.DataFrame(
        {
            "round": new["round"],
            "statement_id": new["statement_id"],
            "revised_from": new["revised_from"],
            "previous_text": new["revised_from"].map(old),
            "text": new["text"],
        }
    ).reset_index(drop=True)
