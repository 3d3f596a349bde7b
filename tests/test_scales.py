"""Scales per round and per statement: a 7-point round, Yes/No questions, "Don't know" in the
denominator.  Every expected figure is counted here from the answers as written in the sheet
(numpy, or the textbook formula), never taken from the code under test."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pandas as pd
import pytest

from lib import store
from lib.analysis import agreement, sensitivity, solidity, stability
from lib.charts.results import likert_chart, round_scales
from lib.config import ConfigError, config_from_dict
from lib.pipeline import refresh
from lib.sources import RawSource
from tests.scale_fixtures import DONT_KNOW, MIXED_TOML, mixed_study

YES, NO = "Yes", "No"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """The mixed study refreshed into a real DuckDB file: (config, answers, metrics, ratings)."""
    cfg = config_from_dict(tomllib.loads(MIXED_TOML))
    study = mixed_study()
    db = tmp_path_factory.mktemp("mixed") / "mixed.duckdb"
    raw = RawSource(tabs=study.tabs, source="mixed", title="Mixed", all_tabs=list(study.tabs))
    res = refresh(cfg, db, raw=raw)
    with store.connect(db, read_only=True) as con:
        metrics = store.metrics_for(con, res.snapshot_id)
        ratings = store.ratings_for(con, res.snapshot_id)
        statements = store.statements_for(con, res.snapshot_id)
    return cfg, study.answers, metrics, ratings, statements, res


def _row(metrics: pd.DataFrame, rnd: int, sid: str) -> pd.Series:
    return metrics[(metrics["round"] == rnd) & (metrics["statement_id"] == sid)].iloc[0]


def test_seven_point_statements_are_read_on_their_own_scale(mixed):
    cfg, answers, metrics, *_ = mixed
    for sid in ("S01", "S02", "S03", "S04"):
        valid = np.array([v for v in answers[(1, sid)] if isinstance(v, int)], dtype=float)
        row = _row(metrics, 1, sid)
        assert row["n"] == len(valid) == 11
        # pct75 on 1–7 counts the top two points (6–7) as agreement
        assert row["pct_agree"] == pytest.approx(100 * np.isin(valid, [6, 7]).mean())
        assert row["median"] == pytest.approx(np.median(valid))
        q1, q3 = np.percentile(valid, [25, 75])  # R type 7 = numpy's default
        assert row["iqr"] == pytest.approx(q3 - q1)


def test_a_yes_no_statement_inside_a_likert_round(mixed):
    _, answers, metrics, *_ = mixed
    said = answers[(1, "S05")]
    row = _row(metrics, 1, "S05")
    assert row["n"] == len(said)
    assert row["pct_agree"] == pytest.approx(100 * said.count(YES) / len(said))
    assert row["pct_disagree"] == pytest.approx(100 * said.count(NO) / len(said))
    expected = "consensus_in" if 100 * said.count(YES) / len(said) >= 75 else "no_consensus"
    assert row["status"] == expected
    # a median of Yes/No answers means nothing: left blank
    assert all(pd.isna(row[c]) for c in ("median", "q1", "q3", "iqr", "mean", "sd"))


def test_yes_no_round_counts_dont_know_in_the_denominator(mixed):
    _, answers, metrics, *_ = mixed
    for sid in ("S02", "S03"):
        said = answers[(2, sid)]
        yes, no, dk = said.count(YES), said.count(NO), said.count(DONT_KNOW)
        row = _row(metrics, 2, sid)
        assert (row["n"], row["n_no_opinion"]) == (yes + no, dk)
        assert row["pct_agree"] == pytest.approx(100 * yes / (yes + no + dk))
        assert row["pct_disagree"] == pytest.approx(100 * no / (yes + no + dk))
        status = (
            "consensus_in"
            if 100 * yes / len(said) >= 70
            else "consensus_out"
            if 100 * no / len(said) >= 70
            else "no_consensus"
        )
        assert row["status"] == status


def test_wilson_interval_of_the_share_answering_yes(mixed):
    cfg, answers, metrics, *_ = mixed
    solid = solidity.solidity_by_scale(metrics, cfg.scale_map)
    said = answers[(2, "S02")]
    k, n, z = said.count(YES), len(said), 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)  # Wilson (1927), as in Newcombe 1998
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    row = solid[(solid["round"] == 2) & (solid["statement_id"] == "S02")].iloc[0]
    assert row["denominator"] == n
    assert row["ci_low"] == pytest.approx(100 * max(0, centre - half))
    assert row["ci_high"] == pytest.approx(100 * min(1, centre + half))


def test_stability_is_not_computed_across_scales(mixed):
    cfg, _, _, ratings, statements, _ = mixed
    stab = stability.stability(ratings, statements, cfg.rule.agree, cfg.scale_map)
    pairs = stab[stab["round"] == 2].set_index("statement_id")
    assert set(pairs.index) == {"S02", "S03"}
    assert (pairs["verdict"] == "not comparable").all()
    assert pairs["note"].str.contains("1–7 then on Yes/No").all()
    assert pairs["wilcoxon_p"].isna().all()


def _kendall_by_hand(matrix: np.ndarray) -> float:
    """Kendall's W with the tie correction (Kendall & Babington Smith 1939; Siegel 1956)."""
    m, n = matrix.shape
    ranks = np.vstack([pd.Series(r).rank().to_numpy() for r in matrix])
    s = ((ranks.sum(axis=0) - m * (n + 1) / 2) ** 2).sum()
    ties = sum(((c := np.unique(r, return_counts=True)[1]) ** 3 - c).sum() for r in matrix)
    return 12 * s / (m * m * (n**3 - n) - m * ties)


def test_kendall_w_ranks_only_the_rounds_main_scale(mixed):
    cfg, answers, _, ratings, statements, _ = mixed
    w = agreement.kendall_w(ratings, statements, False, cfg.scale_map)
    r1 = w[w["round"] == 1].iloc[0]
    assert r1["n_statements"] == 4  # S05 (Yes/No) left out
    assert "1 on another scale left out" in r1["note"]
    # panelist 0 answered "Unable to judge" everywhere: complete cases are the other 11
    matrix = np.array(
        [[answers[(1, s)][i] for s in ("S01", "S02", "S03", "S04")] for i in range(1, 12)],
        dtype=float,
    )
    assert r1["n_panelists"] == 11
    assert r1["w"] == pytest.approx(_kendall_by_hand(matrix), abs=1e-12)


def test_rule_comparison_skips_presets_that_do_not_apply_to_yes_no(mixed):
    cfg, *_ = mixed
    ratings = mixed[3]
    per = sensitivity.sensitivity_by_scale(ratings, cfg.scale_map)
    yes_no = per[per["round"] == 2]
    assert yes_no["median_iqr"].isna().all()
    assert yes_no["study_rule"].notna().all()
    counts = sensitivity.sensitivity_counts_by_scale(per, cfg.scale_map)
    assert counts.loc[counts["rule"] == "median_iqr", "note"].str.contains("3 statement").any()


def test_likert_chart_draws_each_round_on_its_own_scale_and_dont_know_apart(mixed):
    cfg, answers, *_ = mixed
    said = answers[(2, "S02")]
    rows = []
    for rnd, values in ((1, answers[(1, "S02")]), (2, said)):
        for v in values:
            code = {YES: "1", NO: "0"}.get(v, str(v)) if rnd == 2 else str(v)
            if v in (DONT_KNOW, "Unable to judge"):
                code = "no_opinion"
            rows.append((rnd, "S02", code))
    dist = pd.DataFrame(rows, columns=["round", "statement_id", "answer"]).value_counts()
    dist = dist.rename("count").reset_index()
    family = pd.DataFrame({"round": [1, 2], "statement_id": ["S02", "S02"]})
    per_round = round_scales(cfg.scale_map, family)
    assert per_round[2].labels == {0: "No", 1: "Yes"}
    assert per_round[2].counted_no_opinion == DONT_KNOW and per_round[1].counted_no_opinion is None
    fig = likert_chart(dist, {}, "S02", per_round)
    names = {t.name for t in fig.data}
    assert {"Yes", "No", DONT_KNOW, "1", "7"} <= names
    yes_bar = next(t for t in fig.data if t.name == "Yes")
    assert list(yes_bar.y) == ["Round 2"]
    assert yes_bar.x[0] == pytest.approx(100 * said.count(YES) / len(said))
    dk_bar = next(t for t in fig.data if t.name == DONT_KNOW)
    assert dk_bar.xaxis == "x2" and list(dk_bar.y) == ["Round 2"]
    assert dk_bar.x[0] == pytest.approx(100 * said.count(DONT_KNOW) / len(said))


@pytest.mark.parametrize("preset", ["pct75", "comet_70_15", "median_iqr"])
def test_dont_know_in_the_denominator_works_with_every_rule(tmp_path, preset):
    """One 5-point statement: 6 agree (4–5), 1 disagree (1), 1 neutral, 2 "Don't know"."""
    said = [5, 5, 4, 4, 4, 5, 1, 3, DONT_KNOW, DONT_KNOW]
    tabs = {"Round 1": [["Timestamp", "Email Address", "S01. A statement"]]}
    for i, v in enumerate(said):
        tabs["Round 1"].append([f"2026-09-01 09:{i:02d}:00", f"p{i}@x.example", v])
    cfg = config_from_dict(
        {
            "rounds": {"Round 1": 1},
            "scale": {
                "min": 1,
                "max": 5,
                "no_opinion": [DONT_KNOW],
                "no_opinion_in_denominator": True,
            },
            "consensus": {"preset": preset},
        }
    )
    res = refresh(cfg, tmp_path / "dk.duckdb", raw=RawSource(tabs=tabs, source="dk"))
    with store.connect(tmp_path / "dk.duckdb", read_only=True) as con:
        row = store.metrics_for(con, res.snapshot_id).iloc[0]
    assert row["pct_agree"] == pytest.approx(60.0)  # 6 of 10, not 6 of 8 = 75%
    assert row["pct_disagree"] == pytest.approx(10.0)
    valid = np.array([v for v in said if v != DONT_KNOW], dtype=float)
    assert row["median"] == pytest.approx(np.median(valid))  # the median of ratings only
    # pct75: 60% < 75; COMET: 60% < 70; median_iqr: median 4 in 4–5 and IQR ≤ 1 -> in
    q1, q3 = np.percentile(valid, [25, 75])
    expected = {
        "pct75": "no_consensus",
        "comet_70_15": "no_consensus",
        "median_iqr": "consensus_in" if np.median(valid) >= 4 and q3 - q1 <= 1 else "no_consensus",
    }[preset]
    assert row["status"] == expected


def test_answers_off_a_statements_scale_are_reported_with_its_scale(tmp_path):
    cfg = config_from_dict(tomllib.loads(MIXED_TOML))
    study = mixed_study()
    study.tabs["Round 1"][3][2] = 8  # S01 on 1–7
    study.tabs["Round 2"][4][2] = "Maybe"  # S02 in the Yes/No vote
    res = refresh(cfg, tmp_path / "bad.duckdb", raw=RawSource(tabs=study.tabs, source="bad"))
    probs = res.problems
    off = probs[(probs["tab"] == "Round 1") & (probs["row"] == 4)].iloc[0]
    assert off["column"] == "C" and "8 is outside the scale 1–7" in off["message"]
    vote = probs[(probs["tab"] == "Round 2") & (probs["row"] == 5)].iloc[0]
    assert vote["column"] == "C" and "Maybe" in vote["message"]
    assert "Yes" in vote["message"] and "Inclusion vote" in vote["message"]


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"rounds": [2], "type": "yes_no"}, r"scales\[1\]\.name. is required"),
        ({"name": "V", "rounds": [9], "type": "yes_no"}, "names round 9"),
        ({"name": "V", "rounds": [2], "type": "yes_no", "min": 1}, "does not apply to a Yes/No"),
        ({"name": "V", "rounds": [2], "type": "poll"}, 'must be "likert" or "yes_no"'),
        (
            {"name": "V", "rounds": [2], "type": "yes_no", "consensus": {"max_iqr": 1}},
            "does not apply to a Yes/No",
        ),
        ({"name": "V", "rounds": [2], "min": 1, "max": 7, "labels": {"Top": 9}}, "from 1 to 7"),
    ],
)
def test_scales_table_errors_name_the_key(entry, words):
    d = tomllib.loads(MIXED_TOML)
    d["scales"] = [entry]
    with pytest.raises(ConfigError, match=words):
        config_from_dict(d)


def test_a_statement_entry_wins_over_a_round_entry():
    d = tomllib.loads(MIXED_TOML)
    d["scales"].append({"name": "Five", "rounds": [2], "statements": ["s03"], "min": 1, "max": 5})
    cfg = config_from_dict(d)
    assert cfg.scale_for(2, "S03").name == "Five"  # IDs compare case-insensitively
    assert cfg.scale_for(2, "S02").name == "Inclusion vote"
    assert cfg.scale_for(1, "S03").name == ""
    # a likert entry without [scales.consensus] takes the study's preset on its own points
    assert cfg.scale_for(2, "S03").rule.agree == (4, 5)
