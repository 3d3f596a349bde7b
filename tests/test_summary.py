"""lib.analysis.summary: round summaries, latest status and statement lineage."""

from __future__ import annotations

import pandas as pd

from lib.analysis.flow import families
from lib.analysis.summary import (
    attribute_table,
    final_statements,
    latest_per_statement,
    lineage,
    round_summary,
    status_table,
    trajectory_rows,
    wording_history,
)

METRICS = pd.DataFrame(
    {
        "round": [1, 1, 1, 2, 2, 3],
        "statement_id": ["S01", "S02", "S03", "S02", "S03a", "S03b"],
        "domain": ["A", "A", "B", "A", "B", "B"],
        "text": ["one", "two", "three", "two", "three'", "three''"],
        "n": [10] * 6,
        "pct_agree": [90, 50, 40, 80, 60, 70.0],
        "median": [5, 3, 3, 4, 4, 4.0],
        "iqr": [1.0] * 6,
        "status": [
            "consensus_in",
            "no_consensus",
            "no_consensus",
            "consensus_in",
            "no_consensus",
            "no_consensus",
        ],
    }
)
STATEMENTS = METRICS[["round", "statement_id", "domain", "text"]].assign(
    revised_from=[None, None, None, None, "S03", "S03a"]
)


def test_round_summary_counts_status_and_response():
    rates = pd.DataFrame(
        {
            "round": [1, 2, 3],
            "invited": [12] * 3,
            "responded": [12, 10, 9],
            "response_rate": [100, 83.3, 75],
        }
    )
    s = round_summary(METRICS, rates).set_index("round")
    assert s.loc[1, ["statements", "consensus_in", "no_consensus"]].tolist() == [3, 1, 2]
    assert s.loc[3, ["responded", "statements", "no_consensus"]].tolist() == [9, 1, 1]


def test_latest_per_statement_takes_last_round():
    latest = latest_per_statement(METRICS).set_index("statement_id")
    assert latest.loc["S02", "round"] == 2 and len(latest) == 5


def test_status_table_filters_by_round_domain_and_status():
    assert status_table(METRICS, 1)["statement_id"].tolist() == ["S01", "S02", "S03"]
    got = status_table(METRICS, "latest", domains=["B"], statuses=["no_consensus"])
    assert got["statement_id"].tolist() == ["S03", "S03a", "S03b"]


def test_lineage_follows_revisions_both_ways():
    for sid in ("S03", "S03a", "S03b"):
        assert lineage(STATEMENTS, sid)["statement_id"].tolist() == ["S03", "S03a", "S03b"]
    assert lineage(STATEMENTS, "S02")["round"].tolist() == [1, 2]


def test_final_statements_leave_out_revised_wordings():
    m = METRICS.assign(revised_from=STATEMENTS["revised_from"])
    assert final_statements(m)["statement_id"].tolist() == ["S01", "S02", "S03b"]


def test_trajectory_rows_take_whole_families_and_can_drop_single_round_ones():
    fams = families(STATEMENTS)
    got = trajectory_rows(METRICS, fams, ["S01", "S03"], repeated_only=False)
    assert got["statement_id"].tolist() == ["S01", "S03", "S03a", "S03b"]
    assert trajectory_rows(METRICS, fams, ["S01", "S03"])["statement_id"].tolist() == [
        "S03",
        "S03a",
        "S03b",
    ]  # S01 was rated in round 1 only


def test_wording_history_compares_each_version_with_the_wording_before_it():
    family = pd.DataFrame(
        {
            "round": [1, 2, 3, 3],
            "statement_id": ["S07", "S07", "S07a", "S08"],
            "domain": ["A"] * 4,
            "text": ["low dose works", "low dose works", "a low dose works", "new"],
            "revised_from": [None, None, "S07", None],
        }
    )
    got = wording_history(family)
    assert got["before"].tolist() == [None, "low dose works", "low dose works", None]
    assert got["change"].tolist() == ["", "unchanged", "1 word added", ""]
    assert got["revised"].tolist() == ["", "", "S07", ""]
    assert "before" not in family  # the caller's frame is left as it was


def test_attribute_table_shows_counts_or_why_a_group_is_hidden():
    by_attr = pd.DataFrame(
        {
            "attribute": ["Country"] * 4 + ["Years"],
            "group": ["Italy", "Italy", "Spain", "Spain", "0–9"],
            "round": [1, 2, 1, 2, 1],
            "invited": [5, 5, None, None, 3],
            "responded": [5, 4, None, None, 3],
            "hidden": ["", "", "fewer than 5", "fewer than 5", ""],
        }
    )
    table = attribute_table(by_attr, "Country")
    assert table.columns.tolist() == ["Group", "Round 1", "Round 2"]
    assert table.values.tolist() == [
        ["Italy", "5 of 5", "4 of 5"],
        ["Spain", "fewer than 5", "fewer than 5"],
    ]
