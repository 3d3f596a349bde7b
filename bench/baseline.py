"""The analyst-style baseline: the same numbers, scripted the straightforward way.

For each round and statement: filter the long frame, compute n / median / quantiles / % agree with
pandas; for each statement rated in two consecutive rounds (same id, or the revision of one):
``pingouin.wilcoxon`` on the panelists' paired ratings; per round: Kendall's W through
``pingouin.friedman`` over the panelists who rated every statement of the round.  Deliberately
not optimised: it is what the dashboard is measured against (``python -m bench``).
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "baseline",
    "baseline_metrics",
    "baseline_stability",
    "baseline_kendall",
    "METRIC_NUMBERS",
]

METRIC_NUMBERS = [
    "n",
    "n_no_opinion",
    "n_missing",
    "n_agree",
    "n_disagree",
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
    "p30",
    "p70",
]


def _one_statement(
    rows: pd.DataFrame, agree: tuple[int, int], disagree: tuple[int, int], threshold: float
) -> dict[str, Any]:
    valid = rows["rating"].dropna()
    n = len(valid)
    n_agree = int(valid.between(*agree).sum())
    n_disagree = int(valid.between(*disagree).sum())
    q = valid.quantile([0.25, 0.5, 0.75, 0.3, 0.7])  # linear = R type 7
    pct = (lambda k: 100.0 * k / n) if n else (lambda k: np.nan)
    status = (
        "consensus_in"
        if n and pct(n_agree) >= threshold
        else "consensus_out"
        if n and pct(n_disagree) >= threshold
        else "no_consensus"
    )
    return {
        "n": n,
        "n_no_opinion": int(rows["no_opinion"].sum()),
        "n_missing": int((rows["rating"].isna() & ~rows["no_opinion"]).sum()),
        "n_agree": n_agree,
        "n_disagree": n_disagree,
        "pct_agree": pct(n_agree),
        "pct_neutral": pct(n - n_agree - n_disagree),
        "pct_disagree": pct(n_disagree),
        "median": q[0.5],
        "q1": q[0.25],
        "q3": q[0.75],
        "iqr": q[0.75] - q[0.25],
        "mean": valid.mean(),
        "sd": valid.std(),
        "min": valid.min(),
        "max": valid.max(),
        "p30": q[0.3],
        "p70": q[0.7],
        "status": status,
    }


def baseline_metrics(
    ratings: pd.DataFrame,
    agree: tuple[int, int] = (4, 5),
    disagree: tuple[int, int] = (1, 2),
    threshold: float = 75.0,
) -> pd.DataFrame:
    """Per (round, statement) metrics and ≥ threshold% status, one filter per statement."""
    out = []
    for rnd in sorted(ratings["round"].unique()):
        for sid in sorted(ratings.loc[ratings["round"] == rnd, "statement_id"].unique()):
            rows = ratings[(ratings["round"] == rnd) & (ratings["statement_id"] == sid)]
            out.append(
                {
                    "round": int(rnd),
                    "statement_id": sid,
                    **_one_statement(rows, agree, disagree, threshold),
                }
            )
    return pd.DataFrame(out)


def _previous(statements: pd.DataFrame) -> list[tuple[int, str, str]]:
    """(round, statement, the statement it follows in round - 1): same id or ``revised_from``."""
    asked = set(zip(statements["round"], statements["statement_id"], strict=True))
    pairs = []
    for s in statements.itertuples():
        before = (
            s.revised_from if isinstance(s.revised_from, str) and s.revised_from else s.statement_id
        )
        if (s.round - 1, before) in asked:
            pairs.append((int(s.round), s.statement_id, before))
    return sorted(pairs)


def baseline_stability(ratings: pd.DataFrame, statements: pd.DataFrame) -> pd.DataFrame:
    """Per statement and round: paired Wilcoxon vs the previous round, share who changed.

    The p-value is R's ``wilcox.test`` (exact without ties or zeros, else the normal
    approximation with continuity correction): lib.analysis.stability's definition, so the two
    can be compared to 1e-9 (pingouin's default would run a permutation test for n <= 13).
    """
    import pingouin as pg

    out = []
    for rnd, sid, before in _previous(statements):
        now = ratings[(ratings["round"] == rnd) & (ratings["statement_id"] == sid)]
        then = ratings[(ratings["round"] == rnd - 1) & (ratings["statement_id"] == before)]
        pairs = now.merge(then, on="panelist", suffixes=("", "_prev")).dropna(
            subset=["rating", "rating_prev"]
        )
        diff = (pairs["rating"] - pairs["rating_prev"]).abs()
        w = p = np.nan
        if len(pairs) >= 3 and (diff > 0).any():
            exact = (diff > 0).all() and diff.nunique() == len(diff)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = pg.wilcoxon(
                    pairs["rating"], pairs["rating_prev"], method="exact" if exact else "asymptotic"
                )
            w, p = float(res["W_val"].iloc[0]), float(res["p_val"].iloc[0])
        out.append(
            {
                "round": rnd,
                "statement_id": sid,
                "prev_statement_id": before,
                "n_paired": len(pairs),
                "n_changed": int((diff > 0).sum()),
                "pct_changed": 100.0 * (diff > 0).mean() if len(pairs) else np.nan,
                "wilcoxon_w": w,
                "wilcoxon_p": p,
            }
        )
    return pd.DataFrame(out)


def baseline_kendall(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per round: Kendall's W (tie-corrected, from ``pingouin.friedman``) on complete raters."""
    import pingouin as pg

    out = []
    for rnd in sorted(ratings["round"].unique()):
        rows = ratings[(ratings["round"] == rnd)]
        k = rows["statement_id"].nunique()
        valid = rows.dropna(subset=["rating"])
        complete = valid.groupby("panelist")["rating"].count()
        keep = valid[valid["panelist"].isin(complete[complete == k].index)]
        w = q = p = np.nan
        if keep["panelist"].nunique() >= 2:
            res = pg.friedman(data=keep, dv="rating", within="statement_id", subject="panelist")
            w, q, p = (float(res[c].iloc[0]) for c in ("W", "Q", "p_unc"))
        out.append(
            {
                "round": int(rnd),
                "n_panelists": keep["panelist"].nunique(),
                "n_statements": k,
                "w": w,
                "chi2": q,
                "p": p,
            }
        )
    return pd.DataFrame(out)


def baseline(ratings: pd.DataFrame, statements: pd.DataFrame) -> dict[str, Any]:
    """All three, each timed: {"metrics": df, "stability": df, "kendall": df, "seconds": {..},
    "cpu": {..}} (wall and CPU seconds)."""
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    out: dict[str, Any] = {}
    for name, fn in (
        ("metrics", lambda: baseline_metrics(ratings)),
        ("stability", lambda: baseline_stability(ratings, statements)),
        ("kendall", lambda: baseline_kendall(ratings)),
    ):
        t0, c0 = time.perf_counter(), time.process_time()
        out[name] = fn()
        seconds[name], cpu[name] = time.perf_counter() - t0, time.process_time() - c0
    seconds["total"], cpu["total"] = sum(seconds.values()), sum(cpu.values())
    out["seconds"], out["cpu"] = seconds, cpu
    return out
