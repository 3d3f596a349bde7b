"""Ours vs the analyst-style baseline: the same numbers from the same stored snapshot, timed.

Ours is the dashboard's own code: ``lib.analysis.consensus.study_metrics`` (DuckDB SQL over
the ratings frame, what a refresh stores) and ``lib.analysis.agreement.kendall_w`` /
``lib.analysis.stability.stability`` (what the Trends page computes once per snapshot).  Both
sides start from the snapshot's ``ratings_for`` / ``statements_for`` frames, loaded before the
clock starts.
"""

from __future__ import annotations

import importlib.util
import time
from typing import Any

import numpy as np
import pandas as pd

from bench.baseline import METRIC_NUMBERS, baseline
from lib import store
from lib.analysis.consensus import study_metrics

__all__ = ["ours", "side_by_side", "TOLERANCE"]

TOLERANCE = 1e-9
STABILITY_NUMBERS = ["n_paired", "n_changed", "pct_changed", "wilcoxon_w", "wilcoxon_p"]
KENDALL_NUMBERS = ["n_panelists", "n_statements", "w", "chi2", "p"]


def _has_stats() -> bool:
    return importlib.util.find_spec("lib.analysis.agreement") is not None


def ours(
    con: Any, sid: int, cfg: Any, ratings: pd.DataFrame, statements: pd.DataFrame
) -> dict[str, Any]:
    """The dashboard's metrics and statistics for snapshot ``sid``, each timed."""
    seconds: dict[str, float] = {}
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    out["metrics"] = study_metrics(ratings, cfg.scale_map)
    seconds["metrics"] = time.perf_counter() - t0
    if _has_stats():
        from lib.analysis.agreement import kendall_w
        from lib.analysis.stability import stability

        for name in ("stability", "kendall"):
            t0 = time.perf_counter()
            out[name] = (
                stability(ratings, statements)
                if name == "stability"
                else kendall_w(ratings, statements)
            )
            seconds[name] = time.perf_counter() - t0
    seconds["total"] = sum(seconds.values())
    out["seconds"] = seconds
    return out


def _max_diff(a: pd.DataFrame, b: pd.DataFrame, keys: list[str], cols: list[str]) -> dict[str, Any]:
    """Largest absolute difference over ``cols`` after joining on ``keys`` (NaN must match)."""
    joined = a.merge(b, on=keys, how="outer", suffixes=("", "_b"), indicator=True)
    unmatched = int((joined["_merge"] != "both").sum())
    worst, bad = 0.0, []
    for c in cols:
        x = pd.to_numeric(joined[c], errors="coerce").to_numpy(float)
        y = pd.to_numeric(joined[f"{c}_b"], errors="coerce").to_numpy(float)
        if not np.array_equal(np.isnan(x), np.isnan(y)):
            bad.append(f"{c}: NaN in one side only")
            continue
        both = ~np.isnan(x)
        d = float(np.max(np.abs(x[both] - y[both]))) if both.any() else 0.0
        worst = max(worst, d)
        if d > TOLERANCE:
            bad.append(f"{c}: differs by {d:.3g}")
    return {
        "rows": len(joined),
        "unmatched_rows": unmatched,
        "max_abs_diff": worst,
        "problems": bad,
    }


def _check(mine: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    checks = {
        "metrics": _max_diff(
            mine["metrics"], base["metrics"], ["round", "statement_id"], METRIC_NUMBERS
        )
    }
    status = mine["metrics"].merge(base["metrics"], on=["round", "statement_id"])
    if not (status["status_x"] == status["status_y"]).all():
        checks["metrics"]["problems"].append("status differs")
    if "stability" in mine:
        checks["stability"] = _max_diff(
            mine["stability"], base["stability"], ["round", "statement_id"], STABILITY_NUMBERS
        )
        checks["kendall"] = _max_diff(mine["kendall"], base["kendall"], ["round"], KENDALL_NUMBERS)
    for c in checks.values():
        c["equal"] = not c["problems"] and not c["unmatched_rows"]
    return checks


def side_by_side(db: str, cfg: Any, sid: int, runs: int = 1) -> dict[str, Any]:
    """Time ours and the baseline ``runs`` times each on one snapshot; check the numbers agree."""
    import pingouin  # noqa: F401  (imported before the clock: both sides use it)

    with store.connect(db) as con:
        ratings, statements = store.ratings_for(con, sid), store.statements_for(con, sid)
        mine = [ours(con, sid, cfg, ratings, statements) for _ in range(runs)]
    base = [baseline(ratings, statements) for _ in range(runs)]
    return {
        "ours_seconds": [m["seconds"] for m in mine],
        "baseline_seconds": [b["seconds"] for b in base],
        "checks": _check(mine[-1], base[-1]),
        "stats_available": "stability" in mine[-1],
    }
