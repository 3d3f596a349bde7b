"""Summaries of a snapshot's metrics for the overview and reports (pure pandas)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

__all__ = ["round_summary", "latest_per_statement", "final_statements", "status_table", "lineage",
           "trajectory_rows"]


def round_summary(metrics: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """Per round: invited, responded, response rate, statements rated, and status counts."""
    counts = (metrics.groupby(["round", "status"]).size().unstack(fill_value=0)
              .reindex(columns=["consensus_in", "consensus_out", "no_consensus"], fill_value=0))
    counts["statements"] = counts.sum(axis=1)
    out = rates.set_index("round").join(counts, how="outer").fillna(0).reset_index()
    int_cols = ["invited", "responded", "statements", "consensus_in", "consensus_out",
                "no_consensus"]
    return out.astype({c: "int64" for c in int_cols})


def latest_per_statement(metrics: pd.DataFrame) -> pd.DataFrame:
    """Each statement's row from the last round in which it was rated."""
    return (metrics.sort_values(["statement_id", "round"])
            .groupby("statement_id", as_index=False).tail(1)
            .sort_values(["round", "statement_id"]).reset_index(drop=True))


def final_statements(metrics: pd.DataFrame) -> pd.DataFrame:
    """The last version of every statement (revised-away wordings left out), at its last round."""
    superseded = set(metrics["revised_from"].dropna()) if "revised_from" in metrics else set()
    latest = latest_per_statement(metrics)
    return latest[~latest["statement_id"].isin(superseded)].reset_index(drop=True)


def status_table(metrics: pd.DataFrame, round_choice: str | int = "latest",
                 domains: list[str] | None = None, statuses: list[str] | None = None
                 ) -> pd.DataFrame:
    """The filtered status table: one round, or each statement's latest round."""
    frame = latest_per_statement(metrics) if round_choice == "latest" else \
        metrics[metrics["round"] == int(round_choice)]
    if domains:
        frame = frame[frame["domain"].isin(domains)]
    if statuses:
        frame = frame[frame["status"].isin(statuses)]
    cols = ["statement_id", "round", "domain", "text", "n", "pct_agree", "median", "iqr",
            "status"]
    return frame[cols].reset_index(drop=True)


def lineage(statements: pd.DataFrame, statement_id: str,
            families: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every version of a statement across rounds: the rows of its family (``families``, as
    ``lib.stats.families`` returns it: the root of the ``revised_from`` chain and every version
    revised from it; computed from ``statements`` when not given)."""
    if families is None:
        from lib.stats import families as family_table

        families = family_table(statements)
    root = families.loc[families["statement_id"] == statement_id, "family"]
    members = set(families.loc[families["family"].isin(root), "statement_id"]) | {statement_id}
    rows = statements[statements["statement_id"].isin(members)]
    return rows.sort_values(["round", "statement_id"]).reset_index(drop=True)


def trajectory_rows(metrics: pd.DataFrame, families: pd.DataFrame, picked: Iterable[str],
                    repeated_only: bool = True) -> pd.DataFrame:
    """The metrics rows of every version in the families ``picked`` (family ids, as
    ``lib.stats.families`` names them); with ``repeated_only``, only families rated in more
    than one round."""
    family = metrics["statement_id"].map(dict(zip(families["statement_id"], families["family"],
                                                  strict=True)))
    rows = metrics[family.isin(set(picked))]
    if repeated_only:
        rows = rows[rows.groupby(family[rows.index])["round"].transform("nunique") > 1]
    return rows
