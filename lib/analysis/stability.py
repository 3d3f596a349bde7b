"""Stability between rounds: each statement's ratings paired with its previous version's.

scipy is imported inside the functions that use it; pingouin is not used here (its wrappers
compute effect sizes that cost more than the tests themselves, see ``_wilcoxon``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from lib.analysis._common import notes, quiet
from lib.analysis.flow import previous_versions
from lib.analysis.scales import Scale, ScaleMap

__all__ = ["STABILITY_RULE", "CV_CHANGE_LIMIT", "STABILITY_P", "MIN_PAIRED", "stability"]

CV_CHANGE_LIMIT = 15.0  # percent; Dajani, Sincoff & Talley 1979 (unverified, see DELPHI.md)
STABILITY_P = 0.05
MIN_PAIRED = 3
STABILITY_RULE = (
    f"A statement is stable between two rounds when the coefficient of variation "
    f"(CV = SD / mean of the panelists who rated both versions) changed by less than "
    f"{CV_CHANGE_LIMIT:g}% of its earlier value (a threshold attributed to Dajani et al. 1979, "
    f"unverified) and the paired Wilcoxon signed-rank test finds no shift "
    f"(p ≥ {STABILITY_P:g}, or nobody changed their rating; exact p without ties, else the "
    f"normal approximation with continuity correction, as R's wilcox.test); otherwise it is "
    f"still moving. "
    f"A CV that grows from 0 (a unanimous panel starting to split) counts as moving. With fewer "
    f"than {MIN_PAIRED} paired ratings it is not assessable; versions rated on different scales "
    f"(a 7-point round, then a Yes/No vote) are not compared. McNemar's test on agree / not agree "
    f"and the share of panelists who changed their rating are shown for information. A revised "
    f"statement is compared with the version it was revised from."
)


def stability(
    ratings: pd.DataFrame,
    statements: pd.DataFrame,
    agree: tuple[float, float] = (4, 5),
    scales: ScaleMap | None = None,
) -> pd.DataFrame:
    """Per statement and round, the paired comparison with its previous version (see
    ``STABILITY_RULE``): Wilcoxon, McNemar on agree / not agree, share changed, change in CV.

    With ``scales``, each pair is compared on its own scale's agree range, and a pair whose
    versions were rated on different scales (7 points, then Yes/No) is not compared: its
    verdict says so."""
    valid = ratings.dropna(subset=["rating", "panelist"])
    # Positions of each (round, statement)'s ratings, paired by panelist code with numpy: a
    # pandas join per pair took 1.3 of the 3.3 s at 2,000 panelists.
    who = pd.factorize(valid["panelist"])[0]
    score = valid["rating"].to_numpy(float)
    at = valid.groupby(["round", "statement_id"]).indices
    none = np.array([], dtype=np.intp)
    rows = []
    for pair in previous_versions(statements).itertuples(index=False):
        prev = at.get((pair.prev_round, pair.prev_statement_id), none)
        cur = at.get((pair.round, pair.statement_id), none)
        # a panelist rated a version twice only if ingest failed to de-duplicate: the first counts
        _, i, j = np.intersect1d(who[prev], who[cur], return_indices=True)
        if scales is None:
            rows.append({**pair._asdict(), **_paired(score[prev[i]], score[cur[j]], agree)})
            continue
        was = scales.scale_for(pair.prev_round, pair.prev_statement_id)
        now = scales.scale_for(pair.round, pair.statement_id)
        if not was.same_as(now):
            rows.append({**pair._asdict(), **_not_comparable(len(i), was, now)})
            continue
        rows.append({**pair._asdict(), **_paired(score[prev[i]], score[cur[j]], now.rule.agree)})
    cols = [
        "round",
        "statement_id",
        "prev_round",
        "prev_statement_id",
        "revised",
        "n_paired",
        "n_changed",
        "pct_changed",
        "mean_prev",
        "mean",
        "mean_change",
        "cv_prev",
        "cv",
        "cv_change_pct",
        "wilcoxon_w",
        "wilcoxon_p",
        "n_to_agree",
        "n_from_agree",
        "mcnemar_p",
        "verdict",
        "note",
    ]
    return pd.DataFrame(rows, columns=cols)


def _not_comparable(n: int, was: Scale, now: Scale) -> dict[str, Any]:
    """A pair rated on two different scales: counted, never tested."""
    why = f"rated on {was.describe()} then on {now.describe()}: ratings on different scales"
    return {"n_paired": n, "verdict": "not comparable", "note": f"{why} are not compared"}


def _paired(prev: np.ndarray, cur: np.ndarray, agree: tuple[float, float]) -> dict[str, Any]:
    """The stability figures of one statement: ``prev[k]`` and ``cur[k]`` are one panelist's."""
    n = len(prev)
    changed = int((prev != cur).sum())
    out: dict[str, Any] = {
        "n_paired": n,
        "n_changed": changed,
        "pct_changed": 100 * changed / n if n else np.nan,
        "mean_prev": prev.mean() if n else np.nan,
        "mean": cur.mean() if n else np.nan,
    }
    out["mean_change"] = out["mean"] - out["mean_prev"]
    if n < MIN_PAIRED:
        return {
            **out,
            "cv_prev": np.nan,
            "cv": np.nan,
            "cv_change_pct": np.nan,
            "wilcoxon_w": np.nan,
            "wilcoxon_p": np.nan,
            "n_to_agree": np.nan,
            "n_from_agree": np.nan,
            "mcnemar_p": np.nan,
            "verdict": "not assessable",
            "note": f"too few paired ratings ({n}; at least {MIN_PAIRED} needed)",
        }
    cv, cv_note = _cv_change(prev, cur)
    wil, wil_note = _wilcoxon(prev, cur)
    mcn, mcn_note = _mcnemar(prev, cur, agree)
    out = {**out, **cv, **wil, **mcn}
    cv_moved = abs(out["cv_change_pct"]) >= CV_CHANGE_LIMIT  # False when the CV is undefined
    moving = cv_moved or (not math.isnan(out["wilcoxon_p"]) and out["wilcoxon_p"] < STABILITY_P)
    out["verdict"] = "still moving" if moving else "stable"
    out["note"] = notes(cv_note, wil_note, mcn_note)
    return out


def _cv_change(prev: np.ndarray, cur: np.ndarray) -> tuple[dict[str, float], str | None]:
    if prev.mean() <= 0 or cur.mean() <= 0:  # only on a scale that starts at 0 or below
        return (
            {"cv_prev": np.nan, "cv": np.nan, "cv_change_pct": np.nan},
            "mean rating not positive: CV undefined, judged on Wilcoxon alone",
        )
    cv_prev, cv = prev.std(ddof=1) / prev.mean(), cur.std(ddof=1) / cur.mean()
    if cv_prev > 0:
        return {"cv_prev": cv_prev, "cv": cv, "cv_change_pct": 100 * (cv - cv_prev) / cv_prev}, None
    if cv == 0:
        return {"cv_prev": cv_prev, "cv": cv, "cv_change_pct": 0.0}, None
    return (
        {"cv_prev": cv_prev, "cv": cv, "cv_change_pct": math.inf},
        "CV grew from 0 (the panel was unanimous before)",
    )


def _wilcoxon(prev: np.ndarray, cur: np.ndarray) -> tuple[dict[str, float], str | None]:
    if (prev == cur).all():
        return (
            {"wilcoxon_w": np.nan, "wilcoxon_p": np.nan},
            "all differences zero: Wilcoxon undefined (nobody changed)",
        )
    from scipy.stats import wilcoxon

    d = np.abs(cur - prev)
    # As R's wilcox.test: exact p without ties or zeros, else the normal approximation with
    # continuity correction (scipy would run a slow permutation test for n <= 13).
    exact = (d > 0).all() and len(np.unique(d)) == len(d)
    # The call pingouin.wilcoxon makes (same W and p), without its effect sizes: its CLES is
    # O(n²) and took most of a 2,000-panelist study's 40 s.
    w, p = quiet(
        wilcoxon,
        cur,
        prev,
        alternative="two-sided",
        correction=True,
        method="exact" if exact else "asymptotic",
    )
    return {"wilcoxon_w": float(w), "wilcoxon_p": float(p)}, None


def _mcnemar(
    prev: np.ndarray, cur: np.ndarray, agree: tuple[float, float]
) -> tuple[dict[str, float], str | None]:
    a_prev = (prev >= agree[0]) & (prev <= agree[1])
    a_cur = (cur >= agree[0]) & (cur <= agree[1])
    to_agree, from_agree = int((~a_prev & a_cur).sum()), int((a_prev & ~a_cur).sum())
    out = {"n_to_agree": to_agree, "n_from_agree": from_agree, "mcnemar_p": np.nan}
    if to_agree + from_agree == 0:
        return out, "no discordant pairs: McNemar undefined (nobody crossed the agree line)"
    from scipy.stats import binom

    # The exact (binomial) p: the χ² approximation is poor with a handful of discordant pairs.
    # pingouin.chi2_mcnemar's p_exact, computed as it does without building its crosstab.
    p = min(1, 2 * binom.cdf(min(to_agree, from_agree), to_agree + from_agree, 0.5))
    return {**out, "mcnemar_p": float(p)}, None
