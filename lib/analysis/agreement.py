"""Agreement across the panel per round: Kendall's W and Krippendorff's alpha.

pingouin and krippendorff are imported inside the functions that use them: importing pingouin
takes about two seconds and the app's cold start should not pay for it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lib.analysis._common import groups, key_cols, notes, quiet, wide

__all__ = ["MISSING_RULE", "kendall_w", "krippendorff_alpha"]

MISSING_RULE = (
    "Kendall's W needs every panelist to rate every statement of the round (or domain): a "
    "panelist with any blank or 'no opinion' answer there is left out (complete cases, as in "
    "pingouin and JASP), and so is a statement nobody rated. Krippendorff's alpha uses every "
    "rating and tolerates missing ones."
)


def kendall_w(
    ratings: pd.DataFrame, statements: pd.DataFrame | None = None, by_domain: bool = False
) -> pd.DataFrame:
    """Kendall's W (tie-corrected) per round, or per round and domain, with χ², df and p.

    Complete cases: see ``MISSING_RULE``; the counts left out are in ``panelists_dropped`` and
    ``statements_dropped``.
    """
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
    return pd.DataFrame(rows, columns=cols)


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
) -> pd.DataFrame:
    """Krippendorff's alpha per round (or round and domain); missing ratings are tolerated."""
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
    return pd.DataFrame(rows, columns=cols)


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
