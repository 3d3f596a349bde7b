"""The panel against its pre-registered eligibility criteria: counts, the sentence reports
carry, and which verdicts would change without the panelists who are not eligible.

The per-panelist results come from ``lib.store.eligibility_for`` (one row per panelist and
criterion, ``met`` True, False or missing); the Panel tab's values were checked at ingest
(``lib.ingest.eligibility``).  Counts and the sensitivity frame carry no pseudonym; only
:func:`panelist_table` (the coordinator's) does.
"""

from __future__ import annotations

import pandas as pd

from lib.analysis.consensus import study_metrics
from lib.analysis.scales import ScaleMap

__all__ = [
    "ELIGIBILITY_RULE",
    "SENSITIVITY_RULE",
    "counts",
    "panelist_status",
    "panelist_table",
    "sensitivity",
    "sensitivity_sentence",
    "summary_sentence",
]

ELIGIBILITY_RULE = (
    "A panelist is eligible when the Panel tab shows them meeting every pre-registered "
    "criterion. A blank value (or a number that cannot be read) is missing: the criterion is "
    "not shown to be met, so that panelist is not counted as eligible. Ratings from panelists "
    "who are not eligible are kept in every result and flagged for the coordinator."
)
SENSITIVITY_RULE = (
    "Each statement's verdict recomputed, with the study's rule on its own scale, from the "
    "ratings of eligible panelists only (a missing value counts as not eligible), beside the "
    "verdict from every rating. Under [groups] the verdicts compared are the whole panel's."
)
COUNT_COLUMNS = [
    "criterion",
    "attribute",
    "wording",
    "test",
    "n_met",
    "n_not_met",
    "n_missing",
    "n_eligible",
]
SENSITIVITY_COLUMNS = [
    "round",
    "statement_id",
    "n_all",
    "status_all",
    "n_eligible",
    "status_eligible",
    "changes",
]


def panelist_status(results: pd.DataFrame) -> pd.DataFrame:
    """One row per panelist: eligible (every criterion met), n_not_met, n_missing, and the
    attributes not met and missing ("; "-separated), from ``eligibility_for``'s frame.

    >>> r = pd.DataFrame({"panelist": ["P01", "P02", "P01", "P02"], "criterion": [1, 1, 2, 2],
    ...     "attribute": ["Years", "Years", "COI", "COI"],
    ...     "met": pd.array([True, True, True, None], dtype="boolean")})
    >>> s = panelist_status(r)
    >>> s["eligible"].tolist(), s["missing"].tolist()
    ([True, False], ['', 'COI'])
    """
    met = results["met"].astype("boolean")
    frame = pd.DataFrame(
        {
            "panelist": results["panelist"].to_numpy(),
            "attribute": results["attribute"].to_numpy(),
            "not_met": met.eq(False).fillna(False).to_numpy(dtype=bool),
            "missing": met.isna().to_numpy(),
        }
    )
    per = frame.groupby("panelist", sort=True)[["not_met", "missing"]].sum()
    out = pd.DataFrame(
        {
            "panelist": per.index,
            "eligible": (per.sum(axis=1) == 0).to_numpy(),
            "n_not_met": per["not_met"].to_numpy(dtype=int),
            "n_missing": per["missing"].to_numpy(dtype=int),
        }
    )
    for column in ("not_met", "missing"):
        names = frame[frame[column]].groupby("panelist")["attribute"].agg("; ".join)
        out[column] = names.reindex(per.index, fill_value="").to_numpy()
    return out


def counts(results: pd.DataFrame, n_invited: int) -> pd.DataFrame:
    """Per criterion (in the study file's order): how many invited panelists meet it, do not,
    or have no value; ``n_eligible`` (the same on every row) meet them all.  An invited
    panelist without a result row counts as missing.  No rows without criteria."""
    if results.empty:
        return pd.DataFrame(columns=COUNT_COLUMNS)
    met = results["met"].astype("boolean")
    absent = max(int(n_invited) - results["panelist"].nunique(), 0)
    eligible = int(panelist_status(results)["eligible"].sum())
    rows = []
    for k, part in results.assign(_met=met).groupby("criterion", sort=True):
        first = part.iloc[0]
        rows.append(
            [k, first["attribute"], first["wording"], first["test"]]
            + [int(part["_met"].eq(True).sum()), int(part["_met"].eq(False).sum())]
            + [int(part["_met"].isna().sum()) + absent, eligible]
        )
    return pd.DataFrame(rows, columns=COUNT_COLUMNS)


def summary_sentence(counts: pd.DataFrame, n_invited: int) -> str:
    """The numbers ACCORD asks for, without a final full stop: "15 invited, 14 eligible;
    1 missing COI disclosed".

    >>> c = pd.DataFrame({"attribute": ["Years in practice", "COI disclosed"],
    ...     "test": ["≥ 5", "one of Yes"], "n_not_met": [2, 0], "n_missing": [0, 1],
    ...     "n_eligible": [12, 12]})
    >>> summary_sentence(c, 15)
    '15 invited, 12 eligible; 2 not meeting Years in practice (≥ 5); 1 missing COI disclosed'
    """
    if counts.empty:
        return f"{n_invited} invited; no eligibility criteria were checked"
    parts = [f"{n_invited} invited, {int(counts['n_eligible'].iloc[0])} eligible"]
    for row in counts.itertuples():
        if row.n_not_met:
            parts.append(f"{row.n_not_met} not meeting {row.attribute} ({row.test})")
        if row.n_missing:
            parts.append(f"{row.n_missing} missing {row.attribute}")
    return "; ".join(parts)


def sensitivity(ratings: pd.DataFrame, results: pd.DataFrame, scales: ScaleMap) -> pd.DataFrame:
    """Each (round, statement)'s status from every rating (``status_all``) and from eligible
    panelists' ratings only (``status_eligible``), with the valid ratings behind each and
    whether the verdict ``changes``.  A panelist not eligible (a criterion not met or missing)
    is left out; without results (no criteria) nobody is."""
    if ratings.empty:
        return pd.DataFrame(columns=SENSITIVITY_COLUMNS)
    status = panelist_status(results) if not results.empty else None
    out = set() if status is None else set(status.loc[~status["eligible"], "panelist"])
    keys = ["round", "statement_id"]
    every = study_metrics(ratings, scales)[[*keys, "n", "status"]]
    kept = ratings[~ratings["panelist"].isin(out)]
    if kept.empty:
        fewer = every[keys].assign(n=0, status="no_consensus")
    else:
        fewer = study_metrics(kept, scales)[[*keys, "n", "status"]]
    both = every.merge(fewer, on=keys, how="left", suffixes=("_all", "_eligible"))
    both = both.fillna({"n_eligible": 0, "status_eligible": "no_consensus"})
    both["changes"] = both["status_all"] != both["status_eligible"]
    return both.astype({"n_all": int, "n_eligible": int})[SENSITIVITY_COLUMNS]


def sensitivity_sentence(results: pd.DataFrame, ratings: pd.DataFrame, sens: pd.DataFrame) -> str:
    """How many panelists and ratings :func:`sensitivity` (its frame: ``sens``) leaves out, and
    how many verdicts change: counts only."""
    status = panelist_status(results) if not results.empty else None
    if status is None or status["eligible"].all():
        return "Every panelist meets every criterion: no rating is left out, no verdict changes."
    out = set(status.loc[~status["eligible"], "panelist"])
    n_out = len(out)
    n_ratings = int(ratings.loc[ratings["panelist"].isin(out), "rating"].notna().sum())
    who = f"{n_out} panelist{'s' if n_out != 1 else ''} not eligible"
    changed = int(sens["changes"].sum())
    verdicts = f"{changed} of {len(sens)} verdict{'s' if len(sens) != 1 else ''}"
    return (
        f"Without the {n_ratings} rating{'s' if n_ratings != 1 else ''} of the {who}, "
        f"{verdicts} would change."
    )


def panelist_table(results: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
    """The coordinator's table, one row per panelist (pseudonym): eligible, one column per
    criterion ("✓ 18", "✗ No", "missing", "missing: 'many'"), the ratings they gave (kept in
    every result) and whether those are flagged."""
    if results.empty:
        return pd.DataFrame(columns=["panelist", "eligible", "n_ratings", "ratings_flag"])
    status = panelist_status(results).set_index("panelist")
    cells = [_cell(v, m) for v, m in zip(results["value"], results["met"], strict=True)]
    wide = results.assign(cell=cells)
    labels = _labels(results)
    table = wide.pivot(index="panelist", columns="criterion", values="cell").rename(columns=labels)
    given = ratings[ratings["rating"].notna()].groupby("panelist").size()
    table.insert(0, "eligible", status["eligible"])
    table["n_ratings"] = given.reindex(table.index, fill_value=0).astype(int)
    table["ratings_flag"] = [
        "" if ok else ("flagged: kept, left out of the sensitivity view" if n else "")
        for ok, n in zip(table["eligible"], table["n_ratings"], strict=True)
    ]
    table.columns.name = None
    return table.reset_index()


def _cell(value: object, met: object) -> str:
    text = "" if value is None or pd.isna(value) else str(value)
    if met is pd.NA or met is None:
        return f"missing: {text[:40]!r}" if text else "missing"
    return f"{'✓' if met else '✗'} {text}"


def _labels(results: pd.DataFrame) -> dict[int, str]:
    """Column headers: "Years in practice (≥ 5)", numbered when two read the same."""
    first = results.drop_duplicates("criterion").set_index("criterion")
    names = {k: f"{r.attribute} ({r.test})" for k, r in first.iterrows()}
    seen = list(names.values())
    return {k: (f"{k}. {v}" if seen.count(v) > 1 else v) for k, v in names.items()}
