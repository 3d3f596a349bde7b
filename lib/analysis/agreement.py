"""Agreement across the panel per round: Kendall's W and Krippendorff's alpha.

pingouin and krippendorff are imported inside the functions that use them: importing pingouin
takes about two seconds and the app's cold start should not pay for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lib.analysis._common import groups, key_cols, notes, quiet, wide
from lib.analysis.scales import ScaleMap

__all__ = ["MISSING_RULE", "kendall_w", "krippendorff_alpha"]

MISSING_RULE = (
    "Kendall's W needs every panelist to rate every statement of the round (or domain): a "
    "panelist with any blank or 'no opinion' answer there is left out (complete cases, as in "
    "pingouin and JASP), and so is a statement nobody rated. Krippendorff's alpha uses every "
    "rating and tolerates missing ones."
)


def _one_scale(ratings: pd.DataFrame, scales: ScaleMap | None) -> tuple[pd.DataFrame, dict]:
    """Each round's ratings on its most used scale only (ranks and distances across two scales
    mean nothing), and per round a note saying what was left out."""
    if scales is None or not scales.mixed or ratings.empty:
        return ratings, {}
    names = scales.names(ratings)
    keep = pd.Series(False, index=ratings.index)
    left: dict[int, str] = {}
    for rnd, idx in ratings.groupby("round").groups.items():
        per = ratings.loc[idx].assign(scale=names[idx]).drop_duplicates("statement_id")
        counts = per["scale"].value_counts()
        main = counts.index[0]
        keep[idx] = names[idx] == main
        if len(counts) > 1:
            other = int(counts.iloc[1:].sum())
            shown = scales.scale_for(
                int(rnd), per.loc[per["scale"] == main, "statement_id"].iloc[0]
            )
            left[int(rnd)] = (
                f"computed over the {int(counts.iloc[0])} statement(s) on the "
                f"{shown.describe()} scale; {other} on another scale left out"
            )
    return ratings[keep], left


def _with_scale_notes(frame: pd.DataFrame, left: dict[int, str]) -> pd.DataFrame:
    if left:
        extra = [left.get(int(r)) for r in frame["round"]]
        frame["note"] = [
            notes(a if isinstance(a, str) else None, b)
            for a, b in zip(frame["note"], extra, strict=True)
        ]
    return frame


def kendall_w(
    ratings: pd.DataFrame,
    statements: pd.DataFrame | None = None,
    by_domain: bool = False,
    scales: ScaleMap | None = None,
) -> pd.DataFrame:
    """Kendall's W (tie-corrected) per round, or per round and domain, with χ², df and p.

    Complete cases: see ``MISSING_RULE``; the counts left out are in ``panelists_dropped`` and
    ``statements_dropped``.  With ``scales``, a round mixing scales is ranked over the
    statements on its most used scale (the note says so).
    """
    ratings, left = _one_scale(ratings, scales)
    rows = [{**key, **_kendall_one(frame)} for key, frame in groups(ratings, statements, by_domain)]
    cols = [
        *key_cols(by_domain),
        "n_panelists",
        "n_statements",
        "panelists_dropped",
        "statements_dropped",
        "w",
        "chi2",
        "df",
        "p",
        "note",
    ]
    return _with_scale_notes(pd.DataFrame(rows, columns=cols), left)


def _kendall_one(frame: pd.DataFrame) -> dict[str, Any]:
    matrix = wide(frame)
    rated = matrix.dropna(axis=1, how="all")
    complete = rated.dropna(axis=0, how="any")
    m, n = complete.shape
    out = {
        "n_panelists": m,
        "n_statements": n,
        "panelists_dropped": len(rated) - m,
        "statements_dropped": matrix.shape[1] - n,
        "w": np.nan,
        "chi2": np.nan,
        "df": n - 1 if n else np.nan,
        "p": np.nan,
    }
    dropped = notes(
        f"{out['panelists_dropped']} panelist(s) left out for a blank or no-opinion answer"
        if out["panelists_dropped"]
        else None,
        f"{out['statements_dropped']} statement(s) with no ratings left out"
        if out["statements_dropped"]
        else None,
    )
    if m < 2:
        return {**out, "note": notes("fewer than 2 panelists rated every statement", dropped)}
    if n < 2:
        return {**out, "note": notes("fewer than 2 statements: nothing to rank", dropped)}
    if (complete.nunique(axis=1) == 1).all():
        return {
            **out,
            "note": notes(
                "every panelist gave all statements the same rating: W undefined", dropped
            ),
        }
    import pingouin as pg

    long = complete.stack().rename("rating").reset_index()
    res = quiet(pg.friedman, long, dv="rating", within="statement_id", subject="panelist")
    row = res.iloc[0]
    return {
        **out,
        "w": float(row["W"]),
        "chi2": float(row["Q"]),
        "df": int(row["ddof1"]),
        "p": float(row["p_unc"]),
        "note": dropped,
    }


def krippendorff_alpha(
    ratings: pd.DataFrame,
    statements: pd.DataFrame | None = None,
    by_domain: bool = False,
    level: str = "ordinal",
    scales: ScaleMap | None = None,
) -> pd.DataFrame:
    """Krippendorff's alpha per round (or round and domain); missing ratings are tolerated.
    With ``scales``, as :func:`kendall_w`: a round's most used scale only."""
    ratings, left = _one_scale(ratings, scales)
    rows = [
        {**key, **_alpha_one(frame, level)} for key, frame in groups(ratings, statements, by_domain)
    ]
    cols = [
        *key_cols(by_domain),
        "n_panelists",
        "n_statements",
        "n_ratings",
        "alpha",
        "level",
        "note",
    ]
    return _with_scale_notes(pd.DataFrame(rows, columns=cols), left)


def _alpha_one(frame: pd.DataFrame, level: str) -> dict[str, Any]:
    matrix = wide(frame)
    values = matrix.to_numpy(dtype=float)
    pairable = (~np.isnan(values)).sum(axis=0) >= 2
    out = {
        "n_panelists": matrix.shape[0],
        "n_statements": int(pairable.sum()),
        "n_ratings": int((~np.isnan(values[:, pairable])).sum()),
        "alpha": np.nan,
        "level": level,
    }
    if pairable.sum() < 2:
        return {
            **out,
            "note": "fewer than 2 statements rated by 2 or more panelists: alpha "
            "compares statements, so it needs at least 2",
        }
    if len(np.unique(values[:, pairable][~np.isnan(values[:, pairable])])) < 2:
        return {**out, "note": "every rating had the same value: alpha undefined"}
    import krippendorff

    alpha = krippendorff.alpha(reliability_data=values[:, pairable], level_of_measurement=level)
    return {**out, "alpha": float(alpha), "note": ""}
