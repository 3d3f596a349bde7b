"""Agreement across the panel per round: Kendall's W and Krippendorff's alpha.

krippendorff is imported inside the function that uses it, so the app's cold start does not
pay for it.  Kendall's W is pingouin.friedman's formula on the complete-case matrix (the tests
compare the two, and R's irr::kendall).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lib.analysis._common import key_cols, notes, wide_groups
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
    # W is the same whatever the panelists' order: ranks are multiples of ½, so their sums and
    # Σ R_j² are exact in floating point while 4·k·(n·k)² < 2^53 (n = 10,000 panelists on
    # k = 200 statements); beyond, the order moves W in its last bits
    matrices = wide_groups(ratings, statements, by_domain, sorted_rows=False)
    rows = [{**key, **_kendall_one(x)} for key, x in matrices]
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


def _kendall_one(matrix: np.ndarray) -> dict[str, Any]:
    rated = matrix[:, ~np.isnan(matrix).all(axis=0)]
    complete = rated[~np.isnan(rated).any(axis=1)]
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
    if (complete.min(axis=1) == complete.max(axis=1)).all():
        return {
            **out,
            "note": notes(
                "every panelist gave all statements the same rating: W undefined", dropped
            ),
        }
    w, q, p = _friedman(complete)
    return {**out, "w": w, "chi2": q, "df": n - 1, "p": p, "note": dropped}


def _friedman(x: np.ndarray) -> tuple[float, float, float]:
    """W, χ² and p of the complete panelists × statements matrix ``x``: pingouin.friedman's
    formula (tie-corrected W, χ² = n(k − 1)W on k − 1 df) and operations, without its
    long-to-wide pivot, which cost twice the rest at 2,000 panelists × 200 statements.

    Average ranks within each row as ``scipy.stats.rankdata(x, axis=1)`` gives them (each run of
    tied ratings gets the mean of its positions: a multiple of 0.5, exact in floating point) and
    p = ``scipy.special.chdtrc``, which ``scipy.stats.chi2.sf`` calls: importing scipy.stats
    cost 0.43 s of CPU on the first page that showed W.
    """
    from scipy.special import chdtrc

    n, k = x.shape
    order = np.argsort(x, axis=1, kind="stable")
    s = np.take_along_axis(x, order, axis=1)
    run = np.ones(s.shape, bool)
    run[:, 1:] = s[:, 1:] != s[:, :-1]  # a run never crosses rows: run[:, 0] starts each row
    run_id = np.cumsum(run.ravel()) - 1
    positions = np.tile(np.arange(1, k + 1, dtype=float), n)
    size = np.bincount(run_id)
    mean = np.bincount(run_id, weights=positions) / size
    ranked = np.empty(s.shape)
    np.put_along_axis(ranked, order, mean[run_id].reshape(n, k), axis=1)
    ssbn = (ranked.sum(axis=0) ** 2).sum()
    # Σ t(t² − 1) over each panelist's runs of tied ratings (pingouin: np.unique per row)
    ties = np.sum(size * (size * size - 1))
    w = (12 * ssbn - 3 * n**2 * k * (k + 1) ** 2) / (n**2 * k * (k - 1) * (k + 1) - n * ties)
    q = n * (k - 1) * w
    return float(w), float(q), float(chdtrc(k - 1, q))


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
        {**key, **_alpha_one(x, level)} for key, x in wide_groups(ratings, statements, by_domain)
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


def _alpha_one(values: np.ndarray, level: str) -> dict[str, Any]:
    pairable = (~np.isnan(values)).sum(axis=0) >= 2
    out = {
        "n_panelists": values.shape[0],
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
