"""Summaries of a snapshot's metrics for the overview and reports (pure pandas)."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from lib.analysis.flow import families as family_table
from lib.analysis.rules import cutoff_votes
from lib.analysis.scales import ScaleMap
from lib.textsafe import short
from lib.wording import change_summary

__all__ = [
    "round_summary",
    "latest_per_statement",
    "final_statements",
    "status_table",
    "lineage",
    "family_rows",
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
    "W_READING",
    "w_strength",
    "w_read",
    "w_coverage",
    "COUNT_HELP",
    "shown_caption",
    "rule_counts",
    "FINAL_SCOPE",
    "superseded_ids",
    "with_study_status",
    "HEATMAP_ROWS",
    "participation_view",
    "all_groups_hidden",
    "heatmap_pages",
]

# What "statements" counts, everywhere a person reads a count (Overview, Trends, Statements,
# the report): each statement once, in its final version.  Every wording rated (a revised
# statement's earlier versions too) is counted per round: "rated in round k".
COUNT_HELP = (
    "Each statement counted once, in its final version: a revised wording replaces the one it "
    "was revised from (the report counts the same way). The Rounds table counts every wording "
    "rated in each round."
)
FINAL_SCOPE = "final versions"


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
    superseded = set(superseded_ids(metrics))
    latest = latest_per_statement(metrics)
    return latest[~latest["statement_id"].isin(superseded)].reset_index(drop=True)


def status_table(
    metrics: pd.DataFrame,
    round_choice: str | int = "latest",
    domains: list[str] | None = None,
    statuses: list[str] | None = None,
) -> pd.DataFrame:
    """The filtered status table: one round's statements (every version rated in it), or
    ("latest") each statement's final version at its last round, as the Overview counts them.

    The columns a reader needs first come first (id, status, % agree), then the wording."""
    frame = (
        final_statements(metrics)
        if round_choice == "latest"
        else metrics[metrics["round"] == int(round_choice)]
    )
    if domains:
        frame = frame[frame["domain"].isin(domains)]
    if statuses:
        frame = frame[frame["status"].isin(statuses)]
    cols = ["statement_id", "status", "pct_agree", "text", "n", "median", "iqr", "round", "domain"]
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


def family_rows(frame: pd.DataFrame, ids: Iterable[str]) -> pd.DataFrame:
    """The rows of ``frame`` of the statements ``ids`` (every version of one statement, as
    :func:`lineage` gives them); a frame without ``statement_id`` (the respondents) whole.

    A statistic computed per version from its own ratings and those of its earlier versions
    (stability, the other consensus rules, solidity, the attrition what-ifs, rating changes)
    gives a family's rows from these rows alone, as the whole study's frame gives them."""
    if "statement_id" not in frame:
        return frame
    return frame[frame["statement_id"].isin(set(ids))].reset_index(drop=True)


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
    """Kendall's W per round (with what it covers and how strong it is, :func:`w_read`) and
    Krippendorff's alpha (and the ratings it used) beside it."""
    return w_read(kendall).merge(alpha[["round", "alpha", "n_ratings"]], on="round")


# Schmidt RC (1997), "Managing Delphi surveys using nonparametric statistical techniques",
# Decision Sciences 28(3):763-774, reads Kendall's W as 0.1 very weak, 0.3 weak, 0.5 moderate,
# 0.7 strong and 0.9 unusually strong agreement; a W between two points takes the lower one.
W_STRENGTH = [(0.9, "unusually strong"), (0.7, "strong"), (0.5, "moderate"), (0.3, "weak")]
W_READING = (
    "How strong W is: Schmidt (1997, Decision Sciences 28:763) reads 0.1 as very weak, 0.3 "
    "weak, 0.5 moderate, 0.7 strong and 0.9 unusually strong agreement (a W between two takes "
    "the lower). W covers only the panelists who rated every statement of the round (complete "
    "cases); Krippendorff's α uses every rating, so it speaks for the whole panel."
)


def w_strength(w: float) -> str:
    """Schmidt's (1997) word for the size of Kendall's W ("" when W is missing).

    >>> [w_strength(x) for x in (0.05, 0.3, 0.69, 0.7, 0.95)]
    ['very weak', 'weak', 'moderate', 'strong', 'unusually strong']
    """
    if pd.isna(w):
        return ""
    return next((word for cut, word in W_STRENGTH if w >= cut), "very weak")


def w_read(kendall: pd.DataFrame) -> pd.DataFrame:
    """``kendall_w``'s frame with ``covers`` (the complete cases W used, of the panelists who
    rated: "11 of 15") and ``strength`` (:func:`w_strength`).

    >>> k = pd.DataFrame({"n_panelists": [11], "panelists_dropped": [4], "w": [0.42]})
    >>> w_read(k)[["covers", "strength"]].values.tolist()
    [['11 of 15', 'weak']]
    """
    rated = kendall["n_panelists"] + kendall["panelists_dropped"]
    covers = [f"{int(n)} of {int(r)}" for n, r in zip(kendall["n_panelists"], rated, strict=True)]
    return kendall.assign(covers=covers, strength=kendall["w"].map(w_strength))


def w_coverage(kendall: pd.DataFrame) -> str:
    """One sentence: how many panelists Kendall's W covers in each round (``kendall_w``'s frame
    per round).

    >>> k = pd.DataFrame({"round": [1, 2], "n_panelists": [11, 15], "panelists_dropped": [4, 0]})
    >>> w_coverage(k)
    "Kendall's W covers 11 of 15 panelists in round 1 (73%), 15 of 15 in round 2 (100%)."
    """
    parts = []
    for i, r in enumerate(kendall.itertuples()):
        rated = int(r.n_panelists + r.panelists_dropped)
        pct = f" ({100 * r.n_panelists / rated:.0f}%)" if rated else ""
        who = " panelists" if i == 0 else ""
        parts.append(f"{int(r.n_panelists)} of {rated}{who} in round {r.round}{pct}")
    return "Kendall's W covers " + ", ".join(parts) + "." if parts else ""


def shown_caption(n_shown: int, round_choice: str | int, n_final: int) -> str:
    """The Overview table's caption: how many rows, and what a row is (a final version, or a
    wording rated in the round picked).

    >>> shown_caption(40, "latest", 42)[:60]
    '40 of 42 statements, each in its final version at the last r'
    >>> shown_caption(19, 2, 42)[:46]
    '19 statements rated in round 2 (every wording '
    """
    if round_choice == "latest":
        of = "" if n_shown == n_final else f" of {n_final}"
        return (
            f"{n_shown}{of} statements, each in its final version at the last round it was "
            "rated. Pick a round to see every wording rated in it, earlier versions of revised "
            "statements too."
        )
    return (
        f"{n_shown} statements rated in round {round_choice} (every wording rated in it, "
        "earlier versions of revised statements too)."
    )


def rule_counts(per: pd.DataFrame, scales: ScaleMap, superseded: Iterable[str]) -> pd.DataFrame:
    """Statements by status under every consensus rule, per round (every wording rated in it)
    and over the final versions (scope ``FINAL_SCOPE``: each statement once, at its last round
    rated, as the Overview and the report count them); ``per`` is
    ``sensitivity_by_scale``'s frame and ``superseded`` the ids a later version replaced."""
    from lib.analysis.sensitivity import sensitivity_counts_by_scale

    every = sensitivity_counts_by_scale(per, scales)
    final = sensitivity_counts_by_scale(per[~per["statement_id"].isin(set(superseded))], scales)
    last = "last round rated"
    return pd.concat(
        [every[every["scope"] != last], final[final["scope"] == last].assign(scope=FINAL_SCOPE)],
        ignore_index=True,
    )


def with_study_status(per: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """``sensitivity_by_scale``'s frame with ``study_rule`` set to the status the study gave
    each (round, statement) (``metrics``' ``status``): with ``[groups] consensus =
    "every_group"`` that is the rule within every group, not on the whole panel, and the
    comparison must count what the Overview and the report count."""
    status = metrics.set_index(["round", "statement_id"])["status"]
    keys = pd.MultiIndex.from_frame(per[["round", "statement_id"]])
    study = pd.Series(status.reindex(keys).to_numpy(), index=per.index)
    out = per.assign(study_rule=study.fillna(per["study_rule"]))
    rules = [
        c
        for c in out.columns
        if c not in ("round", "statement_id", "n_rules_consensus", "rules_disagree")
    ]
    out["n_rules_consensus"] = (out[rules].notna() & (out[rules] != "no_consensus")).sum(axis=1)
    out["rules_disagree"] = out[rules].nunique(axis=1) > 1
    return out


def superseded_ids(metrics: pd.DataFrame) -> list[str]:
    """The ids of wordings a later version was revised from (``revised_from``), sorted."""
    if "revised_from" not in metrics:
        return []
    return sorted(set(metrics["revised_from"].dropna()))


HEATMAP_ROWS = 50  # rows of statements per heatmap page: ~1,300 px, the round labels in reach


def heatmap_pages(
    metrics: pd.DataFrame, families: pd.DataFrame, domain: str | None = None, size: int = 0
) -> dict[str, pd.DataFrame]:
    """The Trends heatmap cut into pages of at most ``size`` statement rows (default
    ``HEATMAP_ROWS``), in the heatmap's order (first round, then id): label ("Statements 1–50
    of 200") -> the metrics rows of that page's families; ``domain`` keeps the families with a
    version rated in it.  One page, labelled "All", when they fit."""
    size = size or HEATMAP_ROWS
    family = (
        metrics["statement_id"]
        .map(dict(zip(families["statement_id"], families["family"], strict=True)))
        .fillna(metrics["statement_id"])
    )
    keep = family if domain is None else family[metrics["domain"] == domain]
    first = families.drop_duplicates("family").set_index("family")["first_round"]
    order = sorted(set(keep), key=lambda f: (first.get(f, 0), f))
    if len(order) <= size:
        return {"All": metrics[family.isin(order)]}
    pages = {}
    for start in range(0, len(order), size):
        part = order[start : start + size]
        label = f"Statements {start + 1}–{start + len(part)} of {len(order)}"
        pages[label] = metrics[family.isin(part)]
    return pages


def participation_view(part: pd.DataFrame) -> pd.DataFrame:
    """``participation``'s frame for reading: retained, lost and attrition %, which mean nothing
    in round 1 (nobody to retain yet), as "—" there instead of a blank, numbers as text.

    >>> p = pd.DataFrame({"round": [1, 2], "retained": [None, 14.0], "lost": [None, 1.0],
    ...                   "attrition_pct": [None, 6.67]})
    >>> participation_view(p)[["retained", "lost", "attrition_pct"]].values.tolist()
    [['—', '—', '—'], ['14', '1', '7']]
    """
    out = part.copy()
    for col in ("retained", "lost", "attrition_pct"):
        if col in out:
            out[col] = [f"{v:.0f}" if pd.notna(v) else "—" for v in out[col]]
    return out


def all_groups_hidden(by_attribute: pd.DataFrame, attribute: str, pooled: str = "") -> bool:
    """Whether no group of ``attribute`` is shown on its own: each is hidden (``hidden`` says
    why) or pooled into the row labelled ``pooled`` (``groups.other_label``), so a chart
    would be empty or one pooled bar."""
    rows = by_attribute[by_attribute["attribute"] == attribute]
    own = rows[(rows["hidden"] == "") & (rows["group"] != pooled)]
    return bool(len(rows)) and own.empty
