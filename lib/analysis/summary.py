"""Summaries of a snapshot's metrics for the overview and reports (pure pandas)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from lib.analysis.flow import families as family_table
from lib.wording import change_summary

__all__ = [
    "round_summary",
    "latest_per_statement",
    "final_statements",
    "status_table",
    "lineage",
    "trajectory_rows",
    "wording_history",
    "attribute_table",
]


def round_summary(metrics: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """Per round: invited, responded, response rate, statements rated, and status counts."""
    counts = (
        metrics.groupby(["round", "status"])
        .size()
        .unstack(fill_value=0)
        .reindex(columns=["consensus_in", "consensus_out", "no_consensus"], fill_value=0)
    )
    counts["statements"] = counts.sum(axis=1)
    out = rates.set_index("round").join(counts, how="outer").fillna(0).reset_index()
    int_cols = [
        "invited",
        "responded",
        "statements",
        "consensus_in",
        "consensus_out",
        "no_consensus",
    ]
    return out.astype({c: "int64" for c in int_cols})


def latest_per_statement(metrics: pd.DataFrame) -> pd.DataFrame:
    """Each statement's row from the last round in which it was rated."""
    return (
        metrics.sort_values(["statement_id", "round"])
        .groupby("statement_id", as_index=False)
        .tail(1)
        .sort_values(["round", "statement_id"])
        .reset_index(drop=True)
    )


def final_statements(metrics: pd.DataFrame) -> pd.DataFrame:
    """The last version of every statement (revised-away wordings left out), at its last round."""
    superseded = set(metrics["revised_from"].dropna()) if "revised_from" in metrics else set()
    latest = latest_per_statement(metrics)
    return latest[~latest["statement_id"].isin(superseded)].reset_index(drop=True)


def status_table(
    metrics: pd.DataFrame,
    round_choice: str | int = "latest",
    domains: list[str] | None = None,
    statuses: list[str] | None = None,
) -> pd.DataFrame:
    """The filtered status table: one round, or each statement's latest round."""
    frame = (
        latest_per_statement(metrics)
        if round_choice == "latest"
        else metrics[metrics["round"] == int(round_choice)]
    )
    if domains:
        frame = frame[frame["domain"].isin(domains)]
    if statuses:
        frame = frame[frame["status"].isin(statuses)]
    cols = ["statement_id", "round", "domain", "text", "n", "pct_agree", "median", "iqr", "status"]
    return frame[cols].reset_index(drop=True)


def lineage(
    statements: pd.DataFrame, statement_id: str, families: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Every version of a statement across rounds: the rows of its family (``families``, as
    ``lib.analysis.flow.families`` returns it: the root of the ``revised_from`` chain and every
    version revised from it; computed from ``statements`` when not given)."""
    if families is None:
        families = family_table(statements)
    root = families.loc[families["statement_id"] == statement_id, "family"]
    members = set(families.loc[families["family"].isin(root), "statement_id"]) | {statement_id}
    rows = statements[statements["statement_id"].isin(members)]
    return rows.sort_values(["round", "statement_id"]).reset_index(drop=True)


def trajectory_rows(
    metrics: pd.DataFrame, families: pd.DataFrame, picked: Iterable[str], repeated_only: bool = True
) -> pd.DataFrame:
    """The metrics rows of every version in the families ``picked`` (family ids, as
    ``lib.analysis.flow.families`` names them); with ``repeated_only``, only families rated in
    more than one round."""
    family = metrics["statement_id"].map(
        dict(zip(families["statement_id"], families["family"], strict=True))
    )
    rows = metrics[family.isin(set(picked))]
    if repeated_only:
        rows = rows[rows.groupby(family[rows.index])["round"].transform("nunique") > 1]
    return rows


def wording_history(family: pd.DataFrame) -> pd.DataFrame:
    """The versions of a statement (:func:`lineage`'s rows, in order) with what each changed.

    Adds ``revised`` (the id it was revised from, "" if none), ``before`` (the latest earlier
    wording of the same id, else of the statement it was revised from; None for a first
    version) and ``change`` (``lib.wording.change_summary`` of the two; "" for a first version).
    """
    latest: dict[str, str] = {}  # each id's latest wording so far: what a version changed
    revised, before, change = [], [], []
    for row in family.itertuples():
        parent = row.revised_from if isinstance(row.revised_from, str) else ""  # NaN: not revised
        prior = latest.get(row.statement_id, latest.get(parent) if parent else None)
        revised.append(parent)
        before.append(prior)
        change.append(change_summary(prior, row.text) if prior is not None else "")
        latest[row.statement_id] = row.text
    # object dtype: a string column would turn the first version's None into NaN
    before_col = pd.Series(before, index=family.index, dtype=object)
    return family.assign(revised=revised, before=before_col, change=change)


def attribute_table(by_attribute: pd.DataFrame, attribute: str) -> pd.DataFrame:
    """One panel attribute's participation as text, a row per group and a column per round:
    "4 of 5", or why the group is hidden (``participation_by_attribute``'s frame in)."""
    f = by_attribute[by_attribute["attribute"] == attribute]
    cells = f.assign(
        cell=[
            h or f"{r:.0f} of {i:.0f}"
            for h, r, i in zip(f["hidden"], f["responded"], f["invited"], strict=True)
        ]
    )
    table = cells.pivot(index="group", columns="round", values="cell")
    table.columns = [f"Round {c}" for c in table.columns]
    return table.reset_index().rename(columns={"group": "Group"})
