"""lib.ingest: raw tab values -> tidy ratings + validation report."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from lib.ingest import IngestError, column_letter, ingest, parse_rating, split_id
from lib.sources import RawSource
from tests.helpers import tiny_config, tiny_tabs


def _raw(tabs):
    return RawSource(tabs=tabs, source="t", all_tabs=list(tabs))


def _problems(res, kind):
    return res.problems[res.problems["kind"] == kind]


def test_column_letters():
    assert [column_letter(i) for i in (0, 25, 26, 27, 701, 702)] == [
        "A",
        "Z",
        "AA",
        "AB",
        "ZZ",
        "AAA",
    ]


@pytest.mark.parametrize(
    "title,expected",
    [
        ("S01. Low doses work", ("S01", "Low doses work")),
        ("S1.2 – Dosing by weight", ("S1.2", "Dosing by weight")),
        ("[S07a] Peels are safe", ("S07a", "Peels are safe")),
        ("Q3: Something", ("Q3", "Something")),
        ("Low doses work", (None, "Low doses work")),
    ],
)
def test_split_id_recognises_leading_ids(title, expected):
    assert split_id(title) == expected


@pytest.mark.parametrize(
    "cell,expected",
    [
        ("Agree", (4.0, False, None)),
        (" strongly AGREE ", (5.0, False, None)),
        ("Unable to judge", (None, True, None)),
        (3, (3.0, False, None)),
        (3.0, (3.0, False, None)),
        ("Accord (7)", None),
        ("", (None, False, None)),
        (None, (None, False, None)),
    ],
)
def test_parse_rating_accepts_labels_numbers_and_no_opinion(cell, expected):
    cfg = tiny_config()
    got = parse_rating(cell, cfg)
    if expected is None:  # "(7)" is understood without a map, but 7 is off a 1–5 scale
        assert got[0] is None and "outside the scale" in got[2]
    else:
        assert got == expected


def test_label_number_in_parentheses_needs_no_map():
    cfg = tiny_config(scale={"min": 1, "max": 9})
    assert parse_rating("Accord total (9)", cfg) == (9.0, False, None)
    assert parse_rating("(4)", cfg) == (4.0, False, None)


def test_duplicate_submission_keeps_latest(tiny_raw, tiny_cfg):
    res = ingest(tiny_raw, tiny_cfg)
    r1 = res.ratings[(res.ratings["round"] == 1) & (res.ratings["identity"] == "a@x.example")]
    assert r1.set_index("statement_id")["rating"].to_dict() == {"S01": 5.0, "S02": 2.0}
    dup = _problems(res, "duplicate submission")
    assert list(dup["row"]) == [2] and list(dup["tab"]) == ["Round 1"]
    assert list(dup["column"]) == ["B"]


def test_identities_compare_trimmed_and_casefolded(tiny_raw, tiny_cfg):
    res = ingest(tiny_raw, tiny_cfg)
    assert res.respondents[res.respondents["round"] == 1]["identity"].nunique() == 4


def test_blank_and_no_opinion_are_kept_apart(tiny_raw, tiny_cfg):
    res = ingest(tiny_raw, tiny_cfg)
    s2 = res.ratings[(res.ratings["round"] == 1) & (res.ratings["statement_id"] == "S02")]
    by = s2.set_index("identity")
    assert bool(by.loc["b@x.example", "no_opinion"]) is True
    assert pd.isna(by.loc["d@x.example", "rating"]) and not by.loc["d@x.example", "no_opinion"]


def test_comment_attaches_to_the_question_before_it(tiny_raw, tiny_cfg):
    res = ingest(tiny_raw, tiny_cfg)
    c = res.ratings.dropna(subset=["comment"]).set_index(["round", "identity"])["comment"]
    assert c[(1, "a@x.example")] == "Changed my mind"
    assert c[(2, "c@x.example")] == '=HYPERLINK("x")'  # stored verbatim; exports neutralise it


def test_general_free_text_column_is_ignored(tiny_raw, tiny_cfg):
    res = ingest(tiny_raw, tiny_cfg)
    assert set(res.statements["statement_id"]) == {"S01", "S02"}
    assert _problems(res, "question not matched").empty


def test_unknown_label_is_reported_with_tab_row_column_and_excluded(tiny_raw, tiny_cfg):
    tabs = tiny_tabs()
    tabs["Round 2"][2][2] = "Mostly agree"
    res = ingest(_raw(tabs), tiny_cfg)
    bad = _problems(res, "bad answer")
    assert bad[["tab", "row", "column"]].values.tolist() == [["Round 2", 3, "C"]]
    assert "unknown label" in bad["message"].iloc[0]
    row = res.ratings[(res.ratings["round"] == 2) & (res.ratings["identity"] == "c@x.example")]
    assert row["rating"].isna().all()


def test_out_of_range_number_is_reported(tiny_cfg):
    tabs = tiny_tabs()
    tabs["Round 2"][1][2] = 7
    res = ingest(_raw(tabs), tiny_cfg)
    assert "outside the scale 1–5" in _problems(res, "bad answer")["message"].iloc[0]


def test_respondent_not_on_panel_is_reported_and_excluded(tiny_cfg):
    tabs = tiny_tabs()
    tabs["Round 2"].append([dt.datetime(2026, 10, 3), "stranger@x.example", "Agree"])
    res = ingest(_raw(tabs), tiny_cfg)
    assert list(_problems(res, "not on panel")["row"]) == [5]
    assert "stranger@x.example" not in set(res.ratings["identity"])


def test_empty_row_is_reported(tiny_cfg):
    tabs = tiny_tabs()
    tabs["Round 2"].insert(2, ["", "", ""])
    res = ingest(_raw(tabs), tiny_cfg)
    assert list(_problems(res, "empty row")["row"]) == [3]


def test_duplicate_question_header_is_reported(tiny_cfg):
    tabs = tiny_tabs()
    for row in tabs["Round 2"]:
        row.append(row[2] if row[0] != "Timestamp" else "S02. Peels are safe")
    res = ingest(_raw(tabs), tiny_cfg)
    dup = _problems(res, "duplicate header")
    assert dup[["tab", "row", "column"]].values.tolist() == [["Round 2", 1, "E"]]


def test_rating_looking_column_without_statement_is_reported(tiny_cfg):
    cfg = tiny_config(statements_tab="Statements")
    tabs = tiny_tabs()
    tabs["Statements"] = [
        ["statement_id", "round", "domain", "text"],
        ["S01", 1, "Dosing", "Low doses work"],
        ["S02", 1, "Safety", "Peels are safe"],
        ["S02", 2, "Safety", "Peels are safe"],
    ]
    tabs["Round 1"][0][2] = "A question nobody listed"
    res = ingest(_raw(tabs), cfg)
    assert _problems(res, "question not matched")["column"].tolist() == ["C"]


def test_missing_identity_column_fails_clearly(tiny_cfg):
    tabs = tiny_tabs()
    tabs["Round 1"][0][1] = "Who are you"
    with pytest.raises(IngestError, match="no identity column 'Email Address'"):
        ingest(_raw(tabs), tiny_cfg)


def test_identity_column_is_configurable_and_case_insensitive():
    cfg = tiny_config(statements_tab="", panel_tab="", identity_column="panel id")
    tabs = tiny_tabs()
    for name in ("Round 1", "Round 2"):
        tabs[name][0][1] = "Panel ID"
    res = ingest(_raw(tabs), cfg)
    assert res.respondents["identity"].nunique() == 4


def test_tab_without_any_statement_fails_clearly(tiny_cfg):
    tabs = tiny_tabs()
    tabs["Round 2"][0][2] = "Peels are safe"  # no ID, and no Statements tab to match it
    with pytest.raises(IngestError, match="No question in tab 'Round 2' matches a statement"):
        ingest(_raw(tabs), tiny_cfg)


def test_missing_round_tab_lists_existing_tabs(tiny_cfg):
    tabs = tiny_tabs()
    del tabs["Round 2"]
    with pytest.raises(IngestError, match="'Round 2' not found; the source has: Round 1, Panel"):
        ingest(_raw(tabs), tiny_cfg)


def test_statements_tab_matches_exact_text_and_grid_rows():
    cfg = tiny_config()
    tabs = {
        "Round 1": [
            [
                "Timestamp",
                "Email Address",
                "Dosing — rate [ Low doses work ]",
                "Dosing — rate [Peels are safe]",
                "Comment on S01 (optional)",
            ],
            [45900.5, "a@x.example", "Agree", "Disagree", "ok"],
        ],
        "Round 2": [
            ["Timestamp", "Email Address", "  Peels are now safe "],
            [45930.25, "a@x.example", 4],
        ],
        "Statements": [
            ["statement_id", "round", "domain", "text", "revised_from"],
            ["S01", 1, "Dosing", "Low doses work", ""],
            ["S02", 1, "Safety", "Peels are safe", ""],
            ["S02a", 2, "Safety", "Peels are now safe", "S02"],
        ],
    }
    res = ingest(_raw(tabs), cfg)
    got = res.ratings.set_index(["round", "statement_id"])
    assert got.loc[(1, "S01"), "rating"] == 4 and got.loc[(1, "S02"), "rating"] == 2
    assert got.loc[(1, "S01"), "comment"] == "ok" and got.loc[(2, "S02a"), "rating"] == 4
    assert res.statements.set_index("statement_id").loc["S02a", "revised_from"] == "S02"


def test_serial_number_timestamps_use_the_sheet_time_zone():
    cfg = tiny_config(statements_tab="", panel_tab="")
    tabs = {
        "Round 1": [
            ["Timestamp", "Email Address", "S01. x"],
            [46266.5, "a@x.example", "Agree"],
        ],  # 2026-09-01 12:00 London (BST)
        "Round 2": [["Timestamp", "Email Address", "S01. x"]],
    }
    res = ingest(RawSource(tabs=tabs, source="t", time_zone="Europe/London"), cfg)
    assert res.respondents["submitted_at"].iloc[0] == pd.Timestamp("2026-09-01 11:00:00")


@pytest.mark.parametrize(
    "cells,expected",
    [
        (["13/06/2022 09:00:00", "02/05/2022 16:00:00"], "2022-05-02 16:00"),  # day > 12 -> D/M/Y
        (["6/13/2022 9:00:00", "5/2/2022 16:00:00"], "2022-05-02 16:00"),  # month first (en-US)
        (["2022-06-13 09:00:00", "2022-05-02 16:00:00"], "2022-05-02 16:00"),
    ],
)
def test_formatted_timestamps_in_common_locales(cells, expected):
    cfg = tiny_config(statements_tab="", panel_tab="", timezone="UTC")
    rows = [["Timestamp", "Email Address", "S01. x"]]
    rows += [[c, f"p{i}@x.example", "Agree"] for i, c in enumerate(cells)]
    res = ingest(_raw({"Round 1": rows, "Round 2": rows[:1]}), cfg)
    assert res.respondents["submitted_at"].iloc[1] == pd.Timestamp(expected)
