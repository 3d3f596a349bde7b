"""Consensus per stakeholder group (issue 14.1): each group's metrics and verdict, the study's
verdict under ``[groups] consensus``, concordance, and observers' pooling.  A small study built
here — 6 patients, 6 clinicians, 2 researchers rating on 1–9 with COMET 70/15 — whose expected
figures are counted by hand and by a pandas groupby written in the test."""

from __future__ import annotations

import pandas as pd
import pytest

from lib import store
from lib.analysis import stakeholders
from lib.config import ConfigError, config_from_dict
from lib.pipeline import refresh
from lib.sources import RawSource

GROUPS = ["Patient"] * 6 + ["Clinician"] * 6 + ["Researcher"] * 2
ANSWERS = {  # one list per statement, in panelist order
    # panel 12/14 agree (7–9), none disagree: in; clinicians 4/6 = 67% < 70: not in that group
    "S01": [9] * 6 + [7, 7, 7, 7, 5, 5] + [8, 8],
    # patients all 9, clinicians all 2: consensus in one group, out in another
    "S02": [9] * 6 + [2] * 6 + [8, 2],
    "S03": [8] * 14,  # everyone agrees
}


def _tabs() -> dict[str, list[list]]:
    emails = [f"p{i:02d}@x.example" for i in range(len(GROUPS))]
    r1 = [["Timestamp", "Email Address", *(f"{s}. Outcome {s}" for s in ANSWERS)]]
    for i, email in enumerate(emails):
        r1.append([f"2026-09-01 09:{i:02d}:00", email, *(ANSWERS[s][i] for s in ANSWERS)])
    panel = [["Email Address", "Name", "Stakeholder group"]]
    panel += [[e, f"Person {i}", g] for i, (e, g) in enumerate(zip(emails, GROUPS, strict=True))]
    return {"Round 1": r1, "Panel": panel}


def _config(**groups) -> dict:
    d = {
        "title": "Groups study",
        "source": "groups.xlsx",
        "rounds": {"Round 1": 1},
        "scale": {"min": 1, "max": 9},
        "consensus": {"preset": "comet_70_15"},
        "panel_attributes": ["Stakeholder group"],
        "statements_tab": "",
    }
    if groups:
        d["groups"] = groups
    return d


def _refreshed(tmp_path, **groups) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    cfg = config_from_dict(_config(**groups))
    db = tmp_path / f"g-{'-'.join(map(str, groups.values())) or 'none'}.duckdb"
    res = refresh(cfg, db, raw=RawSource(tabs=_tabs(), source="groups.xlsx"))
    with store.connect(db, read_only=True) as con:
        sid = res.snapshot_id
        return (
            store.metrics_for(con, sid),
            store.ratings_for(con, sid),
            store.panel_attributes(con, sid),
        )


def _by_hand() -> pd.DataFrame:
    """% agree (7–9), % disagree (1–3), n and median per statement and group, by groupby."""
    rows = [
        {"statement_id": s, "group": g, "rating": v}
        for s, values in ANSWERS.items()
        for g, v in zip(GROUPS, values, strict=True)
    ]
    frame = pd.DataFrame(rows)
    return frame.groupby(["statement_id", "group"])["rating"].agg(
        n="size",
        pct_agree=lambda r: 100 * r.between(7, 9).mean(),
        pct_disagree=lambda r: 100 * r.between(1, 3).mean(),
        median="median",
    )


def test_each_groups_metrics_match_a_separate_groupby(tmp_path):
    cfg = config_from_dict(_config(attribute="Stakeholder group"))
    _, ratings, attrs = _refreshed(tmp_path, attribute="Stakeholder group")
    got = stakeholders.by_group(ratings, attrs, "Stakeholder group", cfg.scale_map)
    got = got.set_index(["statement_id", "group"])
    want = _by_hand()
    assert sorted(got.index) == sorted(want.index)
    for col in ("n", "pct_agree", "pct_disagree", "median"):
        assert got[col].to_numpy() == pytest.approx(want.loc[got.index, col].to_numpy())
    assert got.loc[("S01", "Clinician"), "n_panelists"] == 6
    # the rule within each group: COMET 70/15
    assert got.loc[("S01", "Clinician"), "status"] == "no_consensus"  # 67% < 70%
    assert got.loc[("S02", "Clinician"), "status"] == "consensus_out"
    assert got.loc[("S02", "Patient"), "status"] == "consensus_in"


@pytest.mark.parametrize(
    ("choice", "s01"),
    [
        ({}, "consensus_in"),  # no [groups]: the panel's verdict
        ({"attribute": "Stakeholder group"}, "consensus_in"),  # "panel" is the default
        ({"attribute": "Stakeholder group", "consensus": "every_group"}, "no_consensus"),
        ({"attribute": "Stakeholder group", "consensus": "majority"}, "consensus_in"),  # 2 of 3
        (
            {"attribute": "Stakeholder group", "consensus": "majority", "min_groups": 3},
            "no_consensus",
        ),
    ],
)
def test_the_stored_status_is_the_studys_verdict(tmp_path, choice, s01):
    metrics, *_ = _refreshed(tmp_path, **choice)
    status = metrics.set_index("statement_id")["status"]
    assert status["S01"] == s01
    # S02: patients in, clinicians out, panel 7 of 14 agree: no consensus under every choice
    assert status["S02"] == "no_consensus"
    assert status["S03"] == "consensus_in"  # in every group, hence under every choice
    if choice.get("consensus") == "every_group":
        assert metrics["rule"].str.endswith("(in every group)").all()


def test_the_panels_own_verdict_stays_visible_beside_the_studys(tmp_path):
    cfg = config_from_dict(_config(attribute="Stakeholder group", consensus="every_group"))
    _, ratings, attrs = _refreshed(tmp_path, attribute="Stakeholder group", consensus="every_group")
    v = stakeholders.verdict_table(
        ratings, attrs, "Stakeholder group", cfg.scale_map, "every_group"
    ).set_index("statement_id")
    assert (v.loc["S01", "status_panel"], v.loc["S01", "status_study"]) == (
        "consensus_in",
        "no_consensus",
    )
    assert (v.loc["S01", "n_groups"], v.loc["S01", "n_groups_in"]) == (3, 2)
    assert bool(v.loc["S03", "every_group_in"]) and not bool(v.loc["S01", "every_group_in"])


def test_concordance_names_discordant_statements_and_the_gap(tmp_path):
    cfg = config_from_dict(_config(attribute="Stakeholder group"))
    _, ratings, attrs = _refreshed(tmp_path, attribute="Stakeholder group")
    c = stakeholders.concordance_table(ratings, attrs, "Stakeholder group", cfg.scale_map)
    c = c.set_index("statement_id")
    assert c.loc["S03", "concordance"] == "consensus in every group"
    assert c.loc["S01", "concordance"] == "panel only"
    assert c.loc["S02", "concordance"] == "discordant"
    # S02: patients 100% agree, clinicians 0%, researchers 50%
    assert c.loc["S02", "gap"] == pytest.approx(100.0)
    assert (c.loc["S02", "lowest_group"], c.loc["S02", "highest_group"]) == (
        "Clinician",
        "Patient",
    )
    assert c.loc["S01", "gap"] == pytest.approx(100 - 100 * 4 / 6)


def test_observers_see_small_groups_pooled(tmp_path):
    cfg = config_from_dict(_config(attribute="Stakeholder group"))
    _, ratings, attrs = _refreshed(tmp_path, attribute="Stakeholder group")
    pooled = stakeholders.by_group(ratings, attrs, "Stakeholder group", cfg.scale_map, 5)
    # researchers (2) are under 5; pooled alone they would be 2, so the next smallest group
    # (clinicians, 6; ties broken by name) joins them: "Other" holds 8 panelists
    assert set(pooled["group"]) == {"Patient", "Other (groups under 5)"}
    other = pooled[pooled["group"] == "Other (groups under 5)"].set_index("statement_id")
    assert (other["n_panelists"] == 8).all()
    clin_res = [v for g, v in zip(GROUPS, ANSWERS["S01"], strict=True) if g != "Patient"]
    assert other.loc["S01", "pct_agree"] == pytest.approx(
        100 * sum(7 <= v <= 9 for v in clin_res) / 8
    )
    hidden = stakeholders.by_group(ratings, attrs, "Stakeholder group", cfg.scale_map, 15)
    assert hidden.empty  # 14 panelists in all, fewer than 15: no group shown


@pytest.mark.parametrize(
    ("groups", "words"),
    [
        ({"attribute": "Country"}, "must be one of panel_attributes"),
        ({"consensus": "every_group"}, "groups.attribute' is required"),
        ({"attribute": "Stakeholder group", "consensus": "all"}, "must be one of panel, every"),
        ({"attribute": "Stakeholder group", "min_groups": 2}, 'consensus = "majority" only'),
    ],
)
def test_groups_table_errors_name_the_key(groups, words):
    with pytest.raises(ConfigError, match=words):
        config_from_dict(_config(**groups))


def test_a_group_column_missing_from_the_panel_tab_means_no_consensus_and_says_so(tmp_path):
    """Consensus "in every group" cannot hold without groups: no statement is marked as
    reaching it (rather than silently falling back to the panel), and the problem names why."""
    d = _config(attribute="Stakeholder group", consensus="every_group")
    tabs = _tabs()
    tabs["Panel"] = [row[:2] for row in tabs["Panel"]]  # the column was deleted from the tab
    res = refresh(
        config_from_dict(d),
        tmp_path / "nogroups.duckdb",
        raw=RawSource(tabs=tabs, source="groups.xlsx"),
    )
    with store.connect(tmp_path / "nogroups.duckdb", read_only=True) as con:
        metrics = store.metrics_for(con, res.snapshot_id)
    assert (metrics["status"] == "no_consensus").all()
    kinds = set(res.problems["kind"])
    assert {"attribute not found", "no groups"} <= kinds
    assert res.problems["message"].str.contains("in every group").any()


def test_a_group_under_the_minimum_that_decides_the_verdict_is_reported(tmp_path):
    """Researchers (2) are under min_group_size (5) yet every group must agree: the verdict all
    roles see can reveal how those two answered — the coordinator is told, once per round."""
    d = _config(attribute="Stakeholder group", consensus="every_group")
    res = refresh(
        config_from_dict(d),
        tmp_path / "small.duckdb",
        raw=RawSource(tabs=_tabs(), source="groups.xlsx"),
    )
    small = res.problems[res.problems["kind"] == "small group"]
    assert len(small) == 1
    assert "'Researcher' (2)" in small.iloc[0]["message"] and "round 1" in small.iloc[0]["message"]
    d["groups"]["consensus"] = "panel"  # the panel decides: the groups are only shown, pooled
    res = refresh(
        config_from_dict(d),
        tmp_path / "panel.duckdb",
        raw=RawSource(tabs=_tabs(), source="groups.xlsx"),
    )
    assert not (res.problems["kind"] == "small group").any()
