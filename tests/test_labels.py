"""lib.ingest.labels: labels that carry their number, and the problem of an unknown label."""

from __future__ import annotations

import tomllib

import numpy as np
import pytest

from lib import store
from lib.config import config_from_dict
from lib.ingest import ingest, parse_rating
from lib.ingest.labels import label_number, toml_string, unknown_label_problem
from lib.sources import RawSource
from tests import real_shapes
from tests.helpers import tiny_config, tiny_tabs


@pytest.mark.parametrize(
    "label,number",
    [
        ("7 \u2013 Very important", 7),
        ("1 - Strongly disagree", 1),
        ("1 \u2014 Strongly disagree", 1),
        ("1-Strongly disagree", 1),
        ("3) Neutral", 3),
        ("5. Important", 5),
        ("4: Moderately important", 4),
        ("(4) Agree", 4),
        ("2 Disagree", 2),
        ("Accord total (9)", 9),
        ("Very important - 7", 7),
        ("Agree: 4", 4),
        ("Pas du tout d'accord (1)", 1),
        ("Disagree ( -3 )", -3),
        ("9", 9),
        ("(7)", 7),
        (" 10 ", 10),
        ("\uff17 \u2013 Very important", 7),  # a full-width digit (NFKC)
        ("\u22122 = pas du tout", -2),  # a minus sign
        ("1 - Strongly disagree (1)", 1),  # the same number at both ends
    ],
)
def test_label_number_reads_a_leading_or_trailing_number(label, number):
    assert label_number(label) == number


@pytest.mark.parametrize(
    "label",
    [
        "Strongly agree",
        "Item 4 - x",  # the number is in the middle: neither starts nor ends the label
        "1-5",  # a range, no words
        "3.5",
        "4,0",
        "1e400",
        "Top10",  # no separator before the number
        "1 - x (7)",  # two different numbers
        "Agree (4",
        "nan",
        "",
        "1" * 20,
    ],
)
def test_label_number_is_none_without_a_number_set_off_from_words(label):
    assert label_number(label) is None


def test_message_quotes_the_label_the_accepted_ones_and_the_toml_line():
    accepted = ["Pas du tout d'accord", "Plutôt pas d'accord", "D'accord"]
    msg = unknown_label_problem("Plutôt d'accord", accepted, "[scale.labels]", 3)
    assert msg.startswith('unknown label "Plutôt d\'accord"; ')
    assert 'accepted: "Pas du tout d\'accord", "Plutôt pas d\'accord", "D\'accord"; ' in msg
    assert msg.endswith('add under [scale.labels]:  "Plutôt d\'accord" = 3')


def test_many_accepted_labels_are_shortened_with_their_count():
    accepted = [f"Label {k}" for k in range(1, 11)]
    msg = unknown_label_problem("x", accepted, "[scale.labels]")
    assert '"Label 6", … (10 in all)' in msg and "Label 7" not in msg


def test_section_is_named_and_a_missing_score_is_asked_for():
    msg = unknown_label_problem("Yes!", ["Yes", "No"], '[[scales]] "Inclusion vote" labels')
    assert msg.endswith('add under [[scales]] "Inclusion vote" labels:  "Yes!" = <its score>')
    assert "no labels are configured" in unknown_label_problem("x", [], "[scale.labels]")


def test_a_long_cell_gets_no_toml_line():
    msg = unknown_label_problem("word " * 100, ["Agree"], "[scale.labels]", 4)
    assert "add under" not in msg and "…" in msg


@pytest.mark.parametrize(
    "label",
    ['Say "yes"', "back\\slash", "two\nlines", "tab\there", "bell\x07", "Plutôt d'accord"],
)
def test_the_toml_line_parses_back_to_the_label_and_scores_it(label):
    line = unknown_label_problem(label, ["Agree"], "[scale.labels]", 4).split(":  ")[-1]
    parsed = tomllib.loads(f"[scale.labels]\n{line}\n")["scale"]["labels"]
    assert parsed == {label: 4}
    cfg = config_from_dict({"rounds": {"Round 1": 1}, "scale": {"labels": parsed}})
    assert parse_rating(label, cfg) == (4.0, False, None)


def test_toml_string_escapes_quotes_backslashes_and_controls():
    assert tomllib.loads(f"k = {toml_string(chr(1) + 'a' + chr(127))}")["k"] == "\x01a\x7f"


# --- in a refresh ------------------------------------------------------------------------------


def test_unknown_label_in_a_sheet_is_reported_with_the_line_to_add(tiny_cfg):
    tabs = tiny_tabs()
    tabs["Round 2"][2][2] = "Mostly agree"
    res = ingest(RawSource(tabs=tabs, source="t", all_tabs=list(tabs)), tiny_cfg)
    bad = res.problems[res.problems["kind"] == "bad answer"]
    assert bad[["tab", "row", "column"]].values.tolist() == [["Round 2", 3, "C"]]
    assert bad["message"].iloc[0].startswith('unknown label "Mostly agree"; accepted: ')
    assert 'add under [scale.labels]:  "Mostly agree" = ' in bad["message"].iloc[0]


def test_numbered_labels_need_no_map(tmp_path, fresh_db):
    # Needs lib/ingest/cells.py to read labels with label_number (the lead's wiring).
    study = real_shapes.numbered_labels(tmp_path)
    res = real_shapes.refresh_study(study, fresh_db)
    assert res.problems.empty
    with store.connect(fresh_db) as con:
        got = store.metrics_for(con, res.snapshot_id).set_index("statement_id")
    for (_, sid), cells in study.answers.items():
        # hand count: each label's number is written in it (NUMBERED), "" and "Don't know" left out
        scores = [study.scores[c] for c in cells if c and c not in study.no_opinion]
        assert got.loc[sid, "n"] == len(scores)
        assert got.loc[sid, "n_no_opinion"] == cells.count("Don't know")
        assert got.loc[sid, "median"] == np.median(scores)
        agree = sum(5 <= s <= 7 for s in scores)
        assert got.loc[sid, "pct_agree"] == pytest.approx(100 * agree / len(scores))


def test_plain_label_off_the_scale_is_still_a_number_problem():
    cfg = tiny_config(statements_tab="")
    assert "outside the scale" in parse_rating("7 \u2013 Very important", cfg)[2]
