"""Summaries of a snapshot's metrics for the overview and reports (pure pandas)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from lib.analysis.flow import families as family_table
from lib.analysis.rules import cutoff_votes
from lib.textsafe import short
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
    "round_labels",
    "statement_labels",
    "short_texts",
    "family_options",
    "families_labelled",
    "families_in_domain",
    "cutoff_note",
    "agreement_indices",
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
    table = table.reindex(pd.unique(f["group"]))  # the frame's order: the pooled row last
    table.columns = [f"Round {c}" for c in table.columns]
    return table.reset_index().rename(columns={"group": "Group"})


def round_labels(metrics: pd.DataFrame) -> dict[str, int]:
    """ "Round 1" -> 1 for every round rated, in order: a picker's options as text.

    >>> round_labels(pd.DataFrame({"round": [2, 1, 2]}))
    {'Round 1': 1, 'Round 2': 2}
    """
    return {f"Round {r}": int(r) for r in sorted(metrics["round"].unique())}


def statement_labels(latest: pd.DataFrame, domain: str = "All", width: int = 90) -> dict[str, str]:
    """A statement picker's label ("S01 — its wording, cut to ``width``") -> statement id, for
    the statements of ``domain`` ("All": every one); ``latest`` has one row per statement."""
    rows = latest if domain == "All" else latest[latest["domain"] == domain]
    ids, texts = rows["statement_id"], rows["text"]
    return {f"{s} — {short(t, width)}": s for s, t in zip(ids, texts, strict=True)}


def short_texts(metrics: pd.DataFrame, width: int = 80) -> dict[str, str]:
    """Statement id -> its wording on one line, cut to ``width`` (the last row's wording)."""
    cut = metrics["text"].map(lambda t: short(t, width))
    return dict(zip(metrics["statement_id"], cut, strict=True))


def family_options(families: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The labels of every statement family, in order, and of those with more than one version
    (``lib.analysis.flow.families``'s frame in)."""
    labels = list(dict.fromkeys(families["family_label"]))
    revised = list(dict.fromkeys(families.loc[families["versions"] > 1, "family_label"]))
    return labels, revised


def families_labelled(families: pd.DataFrame, labels: Iterable[str]) -> pd.Series:
    """The family id of every version in the families with these labels."""
    return families.loc[families["family_label"].isin(list(labels)), "family"]


def families_in_domain(families: pd.DataFrame, metrics: pd.DataFrame, domain: str) -> pd.Series:
    """The family id of every statement rated in ``domain``."""
    rated = metrics.loc[metrics["domain"] == domain, "statement_id"]
    return families.loc[families["statement_id"].isin(rated), "family"]


def cutoff_note(metrics: pd.DataFrame, threshold: float | None) -> str:
    """The rule's threshold in votes of the largest number of valid ratings, for a chart:
    " (k of n votes)"; "" for a rule without a threshold."""
    if not threshold:
        return ""
    n_max = int(metrics["n"].max())
    return f" ({cutoff_votes(threshold, n_max)} of {n_max} votes)"


def agreement_indices(kendall: pd.DataFrame, alpha: pd.DataFrame) -> pd.DataFrame:
    """Kendall's W per round with Krippendorff's alpha (and the ratings it used) beside it."""
    return kendall.merge(alpha[["round", "alpha", "n_ratings"]], on="round")
