"""The Statements page computes its per-version statistics on one statement family's rows
(``ui.stat(..., only=ids)``, through ``summary.family_rows``): every family's rows must equal
the whole study's frame's rows of that family, on the demo (revised statements, attrition)
and on the benchmark's generated study (5% of statements reworded each round)."""

from __future__ import annotations

import pandas as pd
import pytest

from lib import store
from lib.analysis import flow, robustness, sensitivity, solidity, stability, summary


def _frames(db):
    with store.connect(db, read_only=True) as con:
        sid = store.current_snapshot_id(con)
        return {
            "ratings": store.ratings_for(con, sid),
            "respondents": store.respondents_for(con, sid),
            "statements": store.statements_for(con, sid),
            "metrics": store.metrics_for(con, sid),
            "comments": store.panelist_comments_for(con, sid),
        }


def _statistics(f, cfg):
    """Each statistic the Statements page computes per family, from frames ``f``."""
    scales = cfg.scale_map
    r, s = f["ratings"], f["statements"]
    return {
        "stability": stability.stability(r, s, cfg.rule.agree, scales),
        "sensitivity": sensitivity.sensitivity_by_scale(r, scales),
        "solidity": solidity.solidity_by_scale(f["metrics"], scales),
        "attrition": robustness.attrition(r, f["respondents"], s, scales, 1),
        "attrition_observer": robustness.attrition(r, f["respondents"], s, scales, 5),
        "change_counts": robustness.change_counts(r, s, scales),
        "changes": robustness.rating_changes_with_comments(r, s, f["comments"], scales),
    }


def _same_rows(whole: pd.DataFrame, part: pd.DataFrame, ids: set[str], name: str) -> None:
    expected = whole[whole["statement_id"].isin(ids)].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        part.reset_index(drop=True), expected, check_dtype=False, obj=f"{name} of {sorted(ids)}"
    )


def _check_every_family(db, cfg) -> int:
    f = _frames(db)
    whole = _statistics(f, cfg)
    fams = flow.families(f["statements"])
    checked = 0
    for _, members in fams.groupby("family")["statement_id"]:
        ids = set(members)
        part = _statistics({k: summary.family_rows(v, ids) for k, v in f.items()}, cfg)
        for name, frame in part.items():
            _same_rows(whole[name], frame, ids, name)
        checked += len(ids) > 1
    return checked


def test_family_rows_equal_the_whole_studys_on_the_demo(demo_db, demo_cfg):
    assert _check_every_family(demo_db, demo_cfg) >= 1  # a revised statement among them


@pytest.mark.slow
def test_family_rows_equal_the_whole_studys_on_a_generated_study(tmp_path):
    from bench.generate import SIZES, study_config, study_raw
    from bench.refresh import timed_refresh

    cfg = study_config(SIZES["S"])
    timed_refresh(cfg, study_raw(SIZES["S"]), tmp_path / "s.duckdb")
    assert _check_every_family(tmp_path / "s.duckdb", cfg) >= 1


def test_family_rows_keep_a_frame_without_statements_whole():
    respondents = pd.DataFrame({"round": [1, 2], "panelist": ["P01", "P01"]})
    assert summary.family_rows(respondents, {"S1"}) is respondents
    ratings = pd.DataFrame({"statement_id": ["S1", "S2", "S1a"], "rating": [1.0, 2.0, 3.0]})
    assert summary.family_rows(ratings, ["S1", "S1a"])["rating"].tolist() == [1.0, 3.0]
