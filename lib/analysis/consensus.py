"""Per-statement consensus metrics and rule-based status, from a tidy ratings frame.

Quantiles are R type 7 (linear interpolation) = DuckDB ``quantile_cont`` = numpy's default; this
reproduces Unisanté's published fast-track Delphi results exactly (``tests/test_external.py``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from lib.analysis.rules import EPS, Rule
from lib.analysis.scales import QUANTILE_COLUMNS, ScaleMap

__all__ = ["METRIC_COLUMNS", "compute_metrics", "study_metrics", "apply_rule"]

METRIC_COLUMNS = [
    "n",
    "n_no_opinion",
    "n_missing",
    "pct_agree",
    "pct_neutral",
    "pct_disagree",
    "median",
    "q1",
    "q3",
    "iqr",
    "mean",
    "sd",
    "min",
    "max",
    "status",
]

_COLUMNS = ["round", "statement_id", "rating", "no_opinion"]
_METRICS_SQL = """
WITH agg AS (
    SELECT round, statement_id,
        count(rating) AS n,
        count(*) FILTER (WHERE no_opinion) AS n_no_opinion,
        count(*) FILTER (WHERE rating IS NULL AND NOT no_opinion) AS n_missing,
        count(*) FILTER (WHERE rating BETWEEN $agree_lo AND $agree_hi) AS n_agree,
        count(*) FILTER (WHERE rating BETWEEN $dis_lo AND $dis_hi) AS n_disagree,
        quantile_cont(rating, [0.25, 0.5, 0.75, 0.3, 0.7]) AS qs,
        avg(rating) AS mean, stddev_samp(rating) AS sd,
        min(rating) AS min, max(rating) AS max
    FROM ratings GROUP BY round, statement_id
)
SELECT round, statement_id, n, n_no_opinion, n_missing, n_agree, n_disagree,
    100.0 * n_agree / nullif(n + CASE WHEN $denom THEN n_no_opinion ELSE 0 END, 0) AS pct_agree,
    100.0 * (n - n_agree - n_disagree)
        / nullif(n + CASE WHEN $denom THEN n_no_opinion ELSE 0 END, 0) AS pct_neutral,
    100.0 * n_disagree / nullif(n + CASE WHEN $denom THEN n_no_opinion ELSE 0 END, 0)
        AS pct_disagree,
    qs[2] AS median, qs[1] AS q1, qs[3] AS q3, qs[3] - qs[1] AS iqr,
    mean, sd, min, max, qs[4] AS p30, qs[5] AS p70
FROM agg ORDER BY round, statement_id
"""


@cache
def _engine() -> Any:
    """One in-memory DuckDB per process, used through a cursor per call: a new database costs
    12-19 ms, a cursor microseconds.  (Not the study database: that is ``lib.store``'s.)"""
    import duckdb  # on first use: importing lib.analysis loads nothing heavy

    return duckdb.connect()


def compute_metrics(
    ratings: pd.DataFrame, rule: Rule, denom_no_opinion: bool = False
) -> pd.DataFrame:
    """Metrics and status per (round, statement) from a tidy ratings frame.

    Parameters
    ----------
    ratings : pd.DataFrame
        One row per answer, with columns ``round``, ``statement_id``, ``rating`` (NaN when
        blank or no opinion) and ``no_opinion``; other columns are ignored.
    rule : Rule
        The consensus rule: its agree and disagree ranges count the votes, then
        :func:`apply_rule` gives the status.
    denom_no_opinion : bool
        Count "no opinion" answers in the denominator of the percentages.

    Returns
    -------
    pd.DataFrame
        One row per (round, statement_id), sorted: counts, percentages, quantiles, mean, sd,
        min, max, ``direction``, ``dispersion_ok``, ``status`` and ``rule``.

    Examples
    --------
    >>> from lib.analysis.rules import preset
    >>> r = pd.DataFrame({"round": 1, "statement_id": "S1", "rating": [5.0, 4.0, 2.0, None],
    ...                   "no_opinion": [False, False, False, True]})
    >>> compute_metrics(r, preset("pct75", 1, 5))[["n", "pct_agree", "status"]].to_dict("records")
    [{'n': 3, 'pct_agree': 66.66666666666667, 'status': 'no_consensus'}]
    """
    params = {
        "agree_lo": rule.agree[0],
        "agree_hi": rule.agree[1],
        "dis_lo": rule.disagree[0],
        "dis_hi": rule.disagree[1],
        "denom": denom_no_opinion,
    }
    con = _engine().cursor()  # a frame registered on a cursor is seen by that cursor only
    try:
        # A view over the frame's own arrays (no copy); only the columns the query reads, so
        # that extra text columns are not type-sniffed.
        con.register("ratings", ratings[_COLUMNS])
        frame = con.execute(_METRICS_SQL, params).df()
    finally:
        con.close()
    return apply_rule(frame, rule)


def study_metrics(ratings: pd.DataFrame, scales: ScaleMap) -> pd.DataFrame:
    """:func:`compute_metrics` with each statement's own scale: its agree and disagree ranges,
    rule and no-opinion denominator.  A Yes/No question's % agree is its share of Yes, and its
    median, quartiles, mean, sd, min and max are left blank (they mean nothing there).

    >>> from lib.analysis.rules import preset
    >>> r = pd.DataFrame({"round": 1, "statement_id": "S1", "rating": [5.0, 4.0, 2.0, None],
    ...                   "no_opinion": [False, False, False, True]})
    >>> one = ScaleMap.single(preset("pct75", 1, 5), 1, 5)
    >>> study_metrics(r, one)[["n", "pct_agree"]].to_dict("records")
    [{'n': 3, 'pct_agree': 66.66666666666667}]
    """
    parts = []
    for scale, part in scales.split(ratings):
        m = compute_metrics(part, scale.rule, scale.no_opinion_in_denominator)
        if scale.yes_no:
            m[QUANTILE_COLUMNS] = np.nan
        parts.append(m)
    if len(parts) == 1:
        return parts[0]
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["round", "statement_id"], ignore_index=True)


def _within(values: pd.Series, rng: tuple[float, float] | None) -> pd.Series:
    if rng is None:
        return pd.Series(True, index=values.index)
    return values.between(rng[0] - EPS, rng[1] + EPS).fillna(False)


def _rand_ucla(m: pd.DataFrame) -> pd.DataFrame:
    # Fitch et al. 2001: IPR = P70 − P30, IPRCP = (P30 + P70)/2, IPRAS = 2.35 + 1.5·|5 − IPRCP|.
    ipr = m["p70"] - m["p30"]
    ipras = 2.35 + 1.5 * (5 - (m["p30"] + m["p70"]) / 2).abs()
    return m.assign(ipr=ipr, ipras=ipras, disagreement_index=ipr / ipras)


def apply_rule(metrics: pd.DataFrame, rule: Rule) -> pd.DataFrame:
    """Add ``direction``, ``dispersion_ok``, ``status`` and ``rule`` columns (a new frame)."""
    m = metrics.copy()
    enough = m["n"] >= rule.min_n
    if rule.method == "rand_ucla":
        m = _rand_ucla(m)
        disp = (m["ipr"] <= m["ipras"] + EPS).fillna(False)
        agree_ok = _within(m["median"], rule.median_agree) & m["median"].notna()
        dis_ok = _within(m["median"], rule.median_disagree) & m["median"].notna()
    else:
        disp = (
            (m["iqr"] <= rule.max_iqr + EPS).fillna(False)
            if rule.max_iqr is not None
            else pd.Series(True, index=m.index)
        )
        agree_ok = _side(
            m, "pct_agree", "pct_disagree", rule.threshold, rule.max_opposite, rule.median_agree
        )
        dis_ok = _side(
            m, "pct_disagree", "pct_agree", rule.threshold, rule.max_opposite, rule.median_disagree
        )
    agree_ok, dis_ok = agree_ok & enough, dis_ok & enough & ~agree_ok
    m["direction"] = np.select([agree_ok, dis_ok], ["agree", "disagree"], "neither")
    m["dispersion_ok"] = disp.astype(bool)
    m["status"] = np.select(
        [agree_ok & disp, dis_ok & disp], ["consensus_in", "consensus_out"], "no_consensus"
    )
    m["rule"] = f"{rule.label}{' ' + rule.version if rule.version else ''}"
    return m


def _side(
    m: pd.DataFrame,
    own: str,
    other: str,
    threshold: float | None,
    max_opposite: float | None,
    median_rng: tuple | None,
) -> pd.Series:
    ok = m[own].notna() & m["n"].gt(0)
    if threshold is not None:
        ok &= m[own] >= threshold - EPS  # ties at the threshold count as reaching it
    if max_opposite is not None:
        ok &= m[other] < max_opposite - EPS
    if median_rng is not None:
        ok &= _within(m["median"], median_rng)
    return ok.fillna(False)
