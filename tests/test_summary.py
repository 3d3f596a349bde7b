"""lib.analysis.summary: round summaries, latest status and statement lineage."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.analysis.flow import families
from lib.analysis.summary import (
    agreement_indices,
    all_groups_hidden,
    attribute_table,
    cutoff_note,
    families_in_domain,
    families_labelled,
    family_options,
    final_statements,
    heatmap_pages,
    latest_per_statement,
    lineage,
    participation_view,
    round_labels,
    round_summary,
    short_texts,
    statement_labels,
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


def test_status_table_lists_final_versions_and_a_round_every_wording():
    m = METRICS.assign(revised_from=STATEMENTS["revised_from"])
    assert status_table(m, "latest")["statement_id"].tolist() == ["S01", "S02", "S03b"]
    assert status_table(m, 2)["statement_id"].tolist() == ["S02", "S03a"]
    # id, status and % agree first: the columns in view on a phone
    assert status_table(m, "latest").columns[:3].tolist() == ["statement_id", "status", "pct_agree"]


def test_heatmap_pages_cut_families_in_order_and_keep_versions_together():
    m = METRICS.assign(revised_from=STATEMENTS["revised_from"])
    fams = families(STATEMENTS)
    pages = heatmap_pages(m, fams, size=2)
    assert list(pages) == ["Statements 1–2 of 3", "Statements 3–3 of 3"]
    assert pages["Statements 3–3 of 3"]["statement_id"].tolist() == ["S03", "S03a", "S03b"]
    assert list(heatmap_pages(m, fams, domain="B", size=2)) == ["All"]


def test_participation_view_shows_a_dash_where_round_1_has_nothing_to_compare():
    part = pd.DataFrame(
        {
            "round": [1, 2],
            "retained": [np.nan, 9.0],
            "lost": [np.nan, 1.0],
            "attrition_pct": [np.nan, 10.0],
        }
    )
    got = participation_view(part)
    assert got.loc[0, ["retained", "lost", "attrition_pct"]].tolist() == ["—", "—", "—"]
    assert got.loc[1, ["retained", "lost", "attrition_pct"]].tolist() == ["9", "1", "10"]


def test_all_groups_hidden_only_when_no_group_of_the_attribute_is_shown():
    by = pd.DataFrame(
        {
            "attribute": ["Country", "Country", "Role", "Site", "Site"],
            "group": ["All panelists", "All panelists", "Nurse", "Other", "Other"],
            "hidden": ["under 5", "under 5", "", "", ""],
        }
    )
    assert all_groups_hidden(by, "Country") and not all_groups_hidden(by, "Role")
    assert all_groups_hidden(by, "Site", pooled="Other")  # only the pooled row is shown
    assert not all_groups_hidden(by, "Site") and not all_groups_hidden(by, "Absent")


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


def test_round_labels_name_every_rated_round_in_order():
    assert round_labels(METRICS) == {"Round 1": 1, "Round 2": 2, "Round 3": 3}


def test_statement_labels_show_id_and_cut_wording_of_one_domain():
    latest = latest_per_statement(METRICS.assign(text=["x" * 100, *METRICS["text"][1:]]))
    assert list(statement_labels(latest).values()) == ["S01", "S03", "S02", "S03a", "S03b"]
    assert statement_labels(latest, "A", width=10) == {
        "S01 — xxxxxxxxx…": "S01",
        "S02 — two": "S02",
    }


def test_short_texts_cut_each_statement_wording_to_one_line():
    m = METRICS.assign(text=["a\nb", "two", "three", "two", "x" * 10, "y"])
    assert short_texts(m, width=5) == {
        "S01": "a b",
        "S02": "two",
        "S03": "three",
        "S03a": "xxxx…",
        "S03b": "y",
    }


def test_family_options_list_every_family_and_the_revised_ones():
    labels, revised = family_options(families(STATEMENTS))
    assert labels == ["S01", "S02", "S03 → S03a → S03b"]
    assert revised == ["S03 → S03a → S03b"]


def test_families_labelled_give_the_family_of_every_version():
    got = families_labelled(families(STATEMENTS), ["S03 → S03a → S03b"])
    assert got.tolist() == ["S03", "S03", "S03"]


def test_families_in_domain_follow_the_statements_rated_there():
    assert families_in_domain(families(STATEMENTS), METRICS, "A").tolist() == ["S01", "S02"]
    assert set(families_in_domain(families(STATEMENTS), METRICS, "B")) == {"S03"}


def test_cutoff_note_counts_votes_of_the_largest_panel():
    m = METRICS.assign(n=[15, 14, 15, 12, 12, 11])
    assert cutoff_note(m, 70.0) == " (11 of 15 votes)"  # by hand: 0.70 × 15 = 10.5 → 11
    assert cutoff_note(m, None) == ""


def test_agreement_indices_put_alpha_beside_kendalls_w_per_round():
    kendall = pd.DataFrame(
        {
            "round": [1, 2],
            "n_panelists": [11, 15],
            "panelists_dropped": [4, 0],
            "w": [0.3, 0.5],
            "p": [0.01, 0.2],
        }
    )
    alpha = pd.DataFrame(
        {"round": [2, 1], "alpha": [0.4, 0.2], "n_ratings": [90, 120], "note": ["", ""]}
    )
    got = agreement_indices(kendall, alpha)
    assert got.columns.tolist() == [
        "round",
        "n_panelists",
        "panelists_dropped",
        "w",
        "p",
        "covers",
        "strength",
        "alpha",
        "n_ratings",
    ]
    assert got["alpha"].tolist() == [0.2, 0.4]
    # 11 complete cases of the 11 + 4 who rated; Schmidt (1997): 0.3 weak, 0.5 moderate
    assert got["covers"].tolist() == ["11 of 15", "15 of 15"]
    assert got["strength"].tolist() == ["weak", "moderate"]
