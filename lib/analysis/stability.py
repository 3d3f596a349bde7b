"""Stability between rounds: each statement's ratings paired with its previous version's.

Every pair of versions is computed at once with numpy (``signed_rank`` for Wilcoxon); scipy's
special functions are imported inside the functions that use them.  pingouin is not used here:
its wrappers compute effect sizes that cost more than the tests themselves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from lib.analysis._common import notes
from lib.analysis.flow import previous_versions
from lib.analysis.scales import ScaleMap
from lib.analysis.signed_rank import signed_rank

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
    verdict says so.  Every pair is computed at once (``signed_rank``, ``bincount``): one
    ``scipy.stats.wilcoxon`` call per pair took 1.3 of the 1.4 s at 2,000 panelists."""
    pairs = previous_versions(statements)
    if pairs.empty:
        return pd.DataFrame([], columns=COLUMNS)
    lo, hi = np.full(len(pairs), float(agree[0])), np.full(len(pairs), float(agree[1]))
    why = np.full(len(pairs), None, dtype=object)
    if scales is not None:
        for k, pair in enumerate(pairs.itertuples(index=False)):
            was = scales.scale_for(pair.prev_round, pair.prev_statement_id)
            now = scales.scale_for(pair.round, pair.statement_id)
            lo[k], hi[k] = now.rule.agree
            if not was.same_as(now):
                why[k] = (
                    f"rated on {was.describe()} then on {now.describe()}: ratings on different "
                    "scales are not compared"
                )
    prev, cur, pair_of = _paired_ratings(ratings, pairs)
    out = _figures(prev, cur, pair_of, len(pairs), lo, hi)
    return _frame(pairs, out, why)


COLUMNS = [
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
_COUNTS = ["n_changed", "n_to_agree", "n_from_agree"]  # integers unless a row has none
_TESTS = ["cv_prev", "cv", "cv_change_pct", "wilcoxon_w", "wilcoxon_p", *_COUNTS[1:], "mcnemar_p"]


def _paired_ratings(
    ratings: pd.DataFrame, pairs: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ratings of every pair's two versions by the same panelist, as ``prev[k]``, ``cur[k]``
    of pair ``pair_of[k]``.  A panelist who rated a version twice (only if ingest failed to
    de-duplicate) counts with the first rating.

    Through a versions × panelists matrix (13 MB at 2,000 panelists × 800 versions): a Delphi
    panel rates every statement of a round, so the matrix is about as dense as the ratings, and
    one gather per side pairs every panelist of every pair at once."""
    who, people = pd.factorize(ratings["panelist"])  # a missing panelist or id is coded -1
    sid, ids = pd.factorize(ratings["statement_id"])
    score = ratings["rating"].to_numpy(float)
    rated = ~np.isnan(score) & (who >= 0) & (sid >= 0)
    who, sid, score = who[rated], sid[rated], score[rated]
    n_ids = max(len(ids), 1)
    version, versions = pd.factorize(ratings["round"].to_numpy(np.int64)[rated] * n_ids + sid)
    cell = version.astype(np.int64) * len(people) + who
    first = ~pd.Series(cell).duplicated().to_numpy()
    # one row per version, and an empty last row for a version nobody rated (index -1)
    matrix = np.full((len(versions) + 1, len(people)), np.nan)
    matrix.flat[cell[first]] = score[first]

    def side(rounds: pd.Series, statement_ids: pd.Series) -> np.ndarray:
        code = ids.get_indexer(statement_ids)
        key = np.where(code >= 0, rounds.to_numpy(np.int64) * n_ids + code, -1)
        return matrix[pd.Index(versions).get_indexer(key)]

    prev = side(pairs["prev_round"], pairs["prev_statement_id"])
    cur = side(pairs["round"], pairs["statement_id"])
    both = ~np.isnan(prev) & ~np.isnan(cur)
    return prev[both], cur[both], np.nonzero(both)[0]


def _figures(
    prev: np.ndarray,
    cur: np.ndarray,
    pair: np.ndarray,
    n_pairs: int,
    lo: np.ndarray,
    hi: np.ndarray,
) -> dict[str, np.ndarray]:
    """Every pair's numbers (columns as ``COLUMNS``) and its notes, whatever its size."""
    n = np.bincount(pair, minlength=n_pairs)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(pair, weights=values, minlength=n_pairs)

    with np.errstate(divide="ignore", invalid="ignore"):
        out: dict[str, Any] = {"n_paired": n, "n_changed": total(prev != cur).astype(np.int64)}
        out["pct_changed"] = np.where(n > 0, 100 * out["n_changed"] / n, np.nan)
        out["mean_prev"], out["mean"] = total(prev) / n, total(cur) / n
        out["mean_change"] = out["mean"] - out["mean_prev"]
        sd_prev = np.sqrt(total((prev - out["mean_prev"][pair]) ** 2) / (n - 1))
        sd = np.sqrt(total((cur - out["mean"][pair]) ** 2) / (n - 1))
        out |= _cv_change(out["mean_prev"], out["mean"], sd_prev, sd)
    test = signed_rank(cur - prev, pair, n_pairs)
    nobody = (test["n"] == 0).to_numpy()
    out["wilcoxon_w"] = test["w"].to_numpy()
    out["wilcoxon_p"] = test["p"].to_numpy()
    out["wilcoxon_note"] = np.where(
        nobody, "all differences zero: Wilcoxon undefined (nobody changed)", None
    )
    out |= _mcnemar(prev, cur, pair, n_pairs, lo, hi)
    return out


def _cv_change(
    mean_prev: np.ndarray, mean: np.ndarray, sd_prev: np.ndarray, sd: np.ndarray
) -> dict[str, np.ndarray]:
    """The CV of both versions and its change in percent; a CV that grows from 0 is infinite."""
    undefined = (mean_prev <= 0) | (mean <= 0)  # only on a scale that starts at 0 or below
    cv_prev, cv = sd_prev / mean_prev, sd / mean
    change = np.where(cv_prev > 0, 100 * (cv - cv_prev) / cv_prev, np.where(cv == 0, 0.0, math.inf))
    grew = ~undefined & ~(cv_prev > 0) & ~(cv == 0)
    return {
        "cv_prev": np.where(undefined, np.nan, cv_prev),
        "cv": np.where(undefined, np.nan, cv),
        "cv_change_pct": np.where(undefined, np.nan, change),
        "cv_note": np.where(
            undefined,
            "mean rating not positive: CV undefined, judged on Wilcoxon alone",
            np.where(grew, "CV grew from 0 (the panel was unanimous before)", None),
        ),
    }


def _frame(pairs: pd.DataFrame, out: dict[str, np.ndarray], why: np.ndarray) -> pd.DataFrame:
    """The stability frame: verdicts and notes; the tests blanked where too few rated both
    versions, everything but the count where the versions are not comparable."""
    n = out["n_paired"]
    frame = pairs.reset_index(drop=True).copy()
    for c in COLUMNS[5:-2]:
        frame[c] = out[c].astype(float) if c in _COUNTS else out[c]
    few = n < MIN_PAIRED
    cv_moved = np.abs(np.nan_to_num(out["cv_change_pct"], nan=0.0)) >= CV_CHANGE_LIMIT
    moving = cv_moved | (out["wilcoxon_p"] < STABILITY_P)
    verdict = np.where(few, "not assessable", np.where(moving, "still moving", "stable"))
    notes_ = [
        f"too few paired ratings ({k}; at least {MIN_PAIRED} needed)"
        if k < MIN_PAIRED
        else notes(*parts)
        for k, *parts in zip(
            n, out["cv_note"], out["wilcoxon_note"], out["mcnemar_note"], strict=True
        )
    ]
    frame.loc[few, _TESTS] = np.nan
    apart = pd.notna(why)
    frame.loc[apart, COLUMNS[6:-2]] = np.nan
    frame["verdict"] = np.where(apart, "not comparable", verdict)
    frame["note"] = np.where(apart, why, notes_)
    for c in _COUNTS:  # as a frame of records would: integers unless a row has none
        if frame[c].notna().all():
            frame[c] = frame[c].astype(np.int64)
    return frame[COLUMNS]


def _mcnemar(
    prev: np.ndarray,
    cur: np.ndarray,
    pair: np.ndarray,
    n_pairs: int,
    lo: np.ndarray,
    hi: np.ndarray,
) -> dict[str, np.ndarray]:
    """Crossings of the agree line (each pair's own range) both ways, and McNemar's exact p."""
    from scipy.special import bdtr

    a_prev = (prev >= lo[pair]) & (prev <= hi[pair])
    a_cur = (cur >= lo[pair]) & (cur <= hi[pair])
    to_agree = np.bincount(pair, weights=~a_prev & a_cur, minlength=n_pairs).astype(np.int64)
    from_agree = np.bincount(pair, weights=a_prev & ~a_cur, minlength=n_pairs).astype(np.int64)
    crossed = to_agree + from_agree
    # The exact (binomial) p: the χ² approximation is poor with a handful of discordant pairs.
    # pingouin.chi2_mcnemar's p_exact (2 × binom.cdf(min, b + c, 0.5), capped at 1), computed
    # as it does without building its crosstab.
    with np.errstate(invalid="ignore"):
        p = np.minimum(1.0, 2 * bdtr(np.minimum(to_agree, from_agree), crossed, 0.5))
    return {
        "n_to_agree": to_agree,
        "n_from_agree": from_agree,
        "mcnemar_p": np.where(crossed > 0, p, np.nan),
        "mcnemar_note": np.where(
            crossed == 0,
            "no discordant pairs: McNemar undefined (nobody crossed the agree line)",
            None,
        ),
    }
