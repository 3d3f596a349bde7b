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
    cpu: dict[str, float] = {}
    out: dict[str, Any] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    out["metrics"] = study_metrics(ratings, cfg.scale_map)
    seconds["metrics"], cpu["metrics"] = time.perf_counter() - t0, time.process_time() - c0
    if _has_stats():
        from lib.analysis.agreement import kendall_w
        from lib.analysis.stability import stability

        for name in ("stability", "kendall"):
            t0, c0 = time.perf_counter(), time.process_time()
            out[name] = (
                stability(ratings, statements)
                if name == "stability"
                else kendall_w(ratings, statements)
            )
            seconds[name], cpu[name] = time.perf_counter() - t0, time.process_time() - c0
    seconds["total"], cpu["total"] = sum(seconds.values()), sum(cpu.values())
    out["seconds"], out["cpu"] = seconds, cpu
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


def _peer_checks(mine: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    keys = {"metrics": ["round", "statement_id"], "stability": ["round", "statement_id"]}
    numbers = {"metrics": METRIC_NUMBERS, "stability": STABILITY_NUMBERS}
    checks = {
        part: _max_diff(
            mine[part], peer[part], keys.get(part, ["round"]), numbers.get(part, KENDALL_NUMBERS)
        )
        for part in ("metrics", "stability", "kendall")
        if part in mine
    }
    for c in checks.values():
        c["equal"] = not c["problems"] and not c["unmatched_rows"]
    return checks


def side_by_side(db: str, cfg: Any, sid: int, runs: int = 1) -> dict[str, Any]:
    """Time ours, the baseline and the peers (``bench.peers``) ``runs`` times each on one
    snapshot, in wall and CPU seconds; check that every one gives our numbers."""
    import pingouin  # noqa: F401  (imported before the clock: both sides use it)

    from bench import peers

    with store.connect(db) as con:
        ratings, statements = store.ratings_for(con, sid), store.statements_for(con, sid)
        ours(con, sid, cfg, ratings.head(1000), statements)  # imports, as for each peer below
        mine = [ours(con, sid, cfg, ratings, statements) for _ in range(max(runs, 3))]
    base = [baseline(ratings, statements) for _ in range(runs)]
    others: dict[str, Any] = {}
    for name in peers.available():
        peers.run_peer(name, ratings.head(1000), statements)  # imports and first-call set-up
        done = [peers.run_peer(name, ratings, statements) for _ in range(max(runs, 3))]
        others[name] = {"cpu": [d["cpu"] for d in done], "checks": _peer_checks(mine[-1], done[-1])}
    return {
        "ours_seconds": [m["seconds"] for m in mine],
        "baseline_seconds": [b["seconds"] for b in base],
        "ours_cpu": [m["cpu"] for m in mine],
        "baseline_cpu": [b["cpu"] for b in base],
        "peers": others,
        "checks": _check(mine[-1], base[-1]),
        "stats_available": "stability" in mine[-1],
    }
