"""Statement IDs of every common shape, title matching against the Statements tab, and the
closest Statements-tab text for a question that matches nothing (issue 13, item 2).

Expected numbers are counted here from the answers the fixtures wrote (tests/real_shapes.py),
with numpy's median (R type 7 at the half is the plain median), never read from the code.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from lib import store
from lib.ingest import IngestError, ingest, split_id
from lib.ingest.columns import Catalogue
from lib.ingest.ids import id_key, normal_text, without_legend
from lib.pipeline import RefreshError
from lib.sources import RawSource
from tests import real_shapes
from tests.helpers import ROOT, tiny_config, tiny_tabs

# --- split_id ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "title,expected",
    [
        ("S01. Low doses work", ("S01", "Low doses work")),
        ("S1.2 \u2013 Dosing by weight", ("S1.2", "Dosing by weight")),
        ("S1.2 \u2212 Dosing by weight", ("S1.2", "Dosing by weight")),  # a minus sign
        ("[S07a] Peels are safe", ("S07a", "Peels are safe")),
        ("  [ S07a ] - Peels are safe", ("S07a", "Peels are safe")),
        ("D1. Liver tests", ("D1", "Liver tests")),
        ("11.1. Timeline of laboratory experiment", ("11.1", "Timeline of laboratory experiment")),
        ("3) Follow-up", ("3", "Follow-up")),
        ("3a) Follow-up", ("3a", "Follow-up")),
        ("12. Follow-up", ("12", "Follow-up")),
        ("[11.1] Timeline", ("11.1", "Timeline")),
        ("Q3: Something", ("Q3", "Something")),
        ("q3: Something", ("q3", "Something")),
        ("Item 4 - Lipids", ("Item 4", "Lipids")),
        ("ITEM  4 \u2013 Lipids", ("ITEM 4", "Lipids")),
        ("[Item 4] Lipids", ("Item 4", "Lipids")),
        ("S01 Low doses work", ("S01", "Low doses work")),  # capitals and digits: a space will do
        ("S01.Low doses work", ("S01", "Low doses work")),
    ],
)
def test_split_id_reads_every_common_shape(title, expected):
    assert split_id(title) == expected


@pytest.mark.parametrize(
    "title",
    [
        "2024 guidelines are clear",  # a number without a separator
        "2024: the year guidelines changed",  # more than 3 digits: a year, not a statement
        "5-point scale is enough",  # a dash inside a word
        "3.5 mg is enough",
        "10 - 20% of patients relapse",  # a range
        "3 - 4 weeks of treatment",
        "11.1.2 Timeline",  # no separator after the number
        "HbA1c levels should be measured",  # mixed case, only a space after
        "Item 4 Lipids",  # the word form needs a separator
        "Low doses work",
        "Q3",  # an ID and nothing after it
        "S01.",
        "1000) Too many digits",
    ],
)
def test_plain_titles_do_not_become_ids(title):
    assert split_id(title) == (None, title.strip())


def test_ids_compare_case_insensitively_and_item_4_is_4():
    assert id_key("S07a") == id_key("s07A") == id_key(" S07A ")
    assert id_key("Item 4") == id_key("ITEM4") == id_key("item  4") == id_key("4") == "4"
    assert id_key("Q3") != id_key("3")  # a letter prefix is part of the ID; the word is not


# --- matching against a Statements tab ---------------------------------------------------------

LISTED = pd.DataFrame(
    [
        ["S01", 1, "Dosing", "Low doses work"],
        ["S02", 1, "Safety", 'Teams use "protocols" - always'],
        ["s11.1", 1, "Lab", "Timeline of laboratory experiments"],
        ["4", 1, "Lab", "Lipids tested monthly"],
        ["R2-05", 2, "Safety", "Low doses work"],  # the same wording asked again in round 2
        ["S06", 1, "Safety", "Dose by weight (2 mg/kg)"],
    ],
    columns=["statement_id", "round", "domain", "text"],
)
LEGEND = "(1 - Nada importante; 2 - Pouco importante; 3 - Importante; 4 - Muito importante)"


@pytest.mark.parametrize(
    "header,expected,how",
    [
        ("Low doses work", "S01", "text"),
        ("  LOW   doses\u00a0WORK ", "S01", "text"),  # case, spaces, a no-break space
        ("Teams use \u201cprotocols\u201d \u2014 always", "S02", "text"),  # curly quotes, em dash
        ("Teams use \u201cprotocols\u201d \u2013 always", "S02", "text"),  # en dash
        ("Teams use \uff02protocols\uff02 \u2212 always", "S02", "text"),  # NFKC; minus sign
        ("S01. Low doses work", "S01", "ID"),
        ("s01: something reworded", "S01", "ID"),  # the ID alone, in another case
        ("S11.1 - Timeline", "s11.1", "ID"),  # the tab's spelling is kept
        ("Item 4 - Lipids tested monthly", "4", "ID"),
        ("11.1. Timeline of laboratory experiments", "s11.1", "text after its ID"),
        ("X9) Low doses work", "S01", "text after its ID"),
        (f"Low doses work {LEGEND}", "S01", "text"),
        (f"Low doses work: {LEGEND}", "S01", "text"),
        (f"11.1. Timeline of laboratory experiments {LEGEND}", "s11.1", "text after its ID"),
        ("Dose by weight (2 mg/kg)", "S06", "text"),  # parentheses that are no legend
        (f"Rate each {LEGEND} [Lipids tested monthly]", "4", "text"),  # a grid row
    ],
)
def test_title_matches_statement_after_normalising(header, expected, how):
    col = Catalogue(LISTED, 1).match(header)
    assert col is not None and (col.statement_id, col.how) == (expected, how)


@pytest.mark.parametrize(
    "header",
    [
        "Low doses work well",
        "Dose by weight",  # "(2 mg/kg)" is part of the listed text, not a legend
        "Dose by weight (2 mg/kg) (1-9)",  # one number is no legend
        "2024 guidelines are clear",
        "S99. Low doses",  # an ID the tab does not list, and text it does not list
    ],
)
def test_title_that_is_no_listed_statement_matches_nothing(header):
    assert Catalogue(LISTED, 1).match(header) is None


def test_this_rounds_wording_wins():
    assert Catalogue(LISTED, 2).match("Low doses work").statement_id == "R2-05"
    assert Catalogue(LISTED, 1).match("Low doses work").statement_id == "S01"


def test_legend_needs_two_numbered_points_and_is_cut_from_the_end_only():
    assert without_legend(f"Use protocols {LEGEND}") == "Use protocols"
    assert without_legend("Use protocols (1 = never, 9 = always)") == "Use protocols"
    assert without_legend("Use protocols (9 = always)") is None
    assert without_legend(f"{LEGEND} use protocols") is None
    assert (
        normal_text("\u2018a\u2019 \u201cb\u201d \u2013\u2014\u2212 C\u200b") == "'a' \"b\" --- c"
    )


# --- closest Statements-tab text ---------------------------------------------------------------


def test_closest_text_is_offered_above_the_cutoff_only():
    cat = Catalogue(LISTED, 1)
    assert cat.closest("11.1. Timeline of laboratory experiment") == (
        "Timeline of laboratory experiments",
        "s11.1",
    )
    assert cat.closest(f"Low dose works {LEGEND}") == ("Low doses work", "S01")
    assert cat.closest("Any final remarks?") is None
    assert cat.closest("Your country of practice") is None
    assert Catalogue(None, 1).closest("Low doses work") is None


def test_unmatched_question_is_reported_with_its_closest_text(tmp_path, fresh_db):
    study = real_shapes.typo(tmp_path)
    res = real_shapes.refresh_study(study, fresh_db)
    bad = res.problems[res.problems["kind"] == "question not matched"]
    assert bad[["tab", "row", "column"]].values.tolist() == [["Round 1", 1, "E"]]
    assert bad["header"].iloc[0] == "11.1. Timeline of laboratory experiment"
    assert (
        "closest in the 'Statements' tab: \"Timeline of laboratory experiments\" (S03)"
        in (bad["message"].iloc[0])
    )


def test_tab_matching_nothing_is_refused_naming_columns_and_closest_texts(tmp_path, fresh_db):
    study = real_shapes.typo(tmp_path, every_question=True)
    with pytest.raises(RefreshError) as err:
        real_shapes.refresh_study(study, fresh_db)
    msg = err.value.reason
    assert msg.startswith("No question in tab 'Round 1' matches a statement: ")
    assert 'column C "Low dose work" \u2014 closest: "Low doses work" (S01)' in msg
    assert 'column D "Peels are saf" \u2014 closest: "Peels are safe" (S02)' in msg
    assert (
        'column E "11.1. Timeline of laboratory experiment" \u2014 closest: '
        '"Timeline of laboratory experiments" (S03)'
    ) in msg
    with store.connect(fresh_db) as con:
        assert store.current_snapshot_id(con) is None  # nothing stored


def test_refusal_names_the_first_three_questions_and_counts_the_rest():
    cfg = tiny_config()  # a Statements tab
    tabs = tiny_tabs()
    tabs["Statements"] = [["statement_id", "round", "text"], ["S01", 1, "Low doses work"]]
    tabs["Round 1"][0][2:] = ["Your country", "Comments (optional)", "A", "B", "C"]
    with pytest.raises(IngestError) as err:
        ingest(RawSource(tabs=tabs, source="t", all_tabs=list(tabs)), cfg)
    msg = str(err.value)
    assert 'column C "Your country"; column E "A"; column F "B" (and 1 more)' in msg
    assert "closest" not in msg and "Comments" not in msg  # none is close; comments are no question


def test_refusal_without_statements_tab_says_how_to_number_titles(tiny_cfg):
    tabs = tiny_tabs()
    tabs["Round 2"][0][2] = "Peels are safe"
    with pytest.raises(IngestError, match=r"column C \"Peels are safe\"\. To fix it, start"):
        ingest(RawSource(tabs=tabs, source="t", all_tabs=list(tabs)), tiny_cfg)


def test_happy_path_loads_no_fuzzy_matcher():
    # every header of the demo matches exactly: rapidfuzz is for the unmatched only
    code = (
        "import sys; from lib.config import load_config; from lib.ingest import ingest; "
        "from lib.sources import read_source; cfg = load_config(); "
        "res = ingest(read_source(cfg.source, cfg.tabs()), cfg); "
        "assert len(res.ratings) > 1000; print('rapidfuzz' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "False"


# --- comments of numbered statements -----------------------------------------------------------


def test_comment_names_statements_case_insensitively_and_numbers_only_as_items(tiny_cfg):
    tabs = tiny_tabs()
    head = ["Timestamp", "Email Address", "3) Peels", "S01. Low", "Comments (max 3 lines)"]
    head += ["Comment on item 3", "comment on s01 please"]
    tabs["Round 1"] = [head, [pd.Timestamp("2026-09-01"), "a@x.example", 4, 5, "x", "y", "z"]]
    res = ingest(RawSource(tabs=tabs, source="t", all_tabs=list(tabs)), tiny_cfg)
    got = res.ratings.query("round == 1").set_index("statement_id")["comment"].to_dict()
    assert got == {"3": "y", "S01": "x\nz"}


# --- the fixtures, refreshed: stored numbers against numbers counted here ---------------------


def _expected(study: real_shapes.RealStudy) -> pd.DataFrame:
    """n, no-opinion count, % agree and median of every statement, from the cells as written."""
    rows = []
    for (rnd, sid), cells in study.answers.items():
        scores = [
            c if isinstance(c, int) else study.scores[c]
            for c in cells
            if c != "" and c not in study.no_opinion
        ]
        agree = sum(study.agree[0] <= s <= study.agree[1] for s in scores)
        rows.append(
            {
                "round": rnd,
                "statement_id": sid,
                "n": len(scores),
                "n_no_opinion": sum(c in study.no_opinion for c in cells),
                "pct_agree": 100 * agree / len(scores),
                "median": float(np.median(scores)),
            }
        )
    return pd.DataFrame(rows).set_index(["round", "statement_id"]).sort_index()


def _stored(study: real_shapes.RealStudy, db) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metrics a real refresh of ``study`` stored (the expected columns), and its problems."""
    res = real_shapes.refresh_study(study, db)
    with store.connect(db) as con:
        metrics = store.metrics_for(con, res.snapshot_id)
    metrics = metrics.set_index(["round", "statement_id"]).sort_index()
    return metrics, res.problems


def _assert_numbers(study, db) -> pd.DataFrame:
    want = _expected(study)
    got, problems = _stored(study, db)
    assert list(got.index) == list(want.index)
    pd.testing.assert_frame_equal(
        got[want.columns], want, check_dtype=False, check_index_type=False
    )
    return got, problems


@pytest.mark.parametrize("listed_ids", ["other", "same"])
def test_numeric_ids_with_statements_text_without_them(listed_ids, tmp_path, fresh_db):
    study = real_shapes.numeric_ids(tmp_path, listed_ids=listed_ids)
    got, problems = _assert_numbers(study, fresh_db)
    assert problems.empty
    assert got["text"].tolist() == [study.texts[s] for _, s in got.index]


def test_every_id_shape_without_statements_tab(tmp_path, fresh_db):
    study = real_shapes.every_id_shape(tmp_path)
    got, problems = _assert_numbers(study, fresh_db)
    # stored as round 1 wrote them, whatever case round 2 used
    assert set(got.index.get_level_values("statement_id")) == {
        "S01",
        "S1.2",
        "S07a",
        "Q3",
        "11.1",
        "3",
        "D1",
        "Item 4",
    }
    assert got.loc[(1, "Item 4"), "text"] == "Lipids tested monthly"
    bad = problems[problems["kind"] == "question not matched"]
    assert bad["header"].tolist() == real_shapes.FALSE_IDS
    assert bad["column"].tolist() == ["L", "M"]


def test_every_id_shape_keeps_the_statements_tab_spelling(tmp_path, fresh_db):
    study = real_shapes.every_id_shape(tmp_path, statements_tab=True)
    got, problems = _assert_numbers(study, fresh_db)
    assert set(got.index.get_level_values("statement_id")) == {
        "s01",
        "S1.2",
        "S07A",
        "q3",
        "11.1",
        "3",
        "d1",
        "4",
    }
    assert got["text"].tolist() == [study.texts[s] for _, s in got.index]
    assert problems[problems["kind"] == "question not matched"]["column"].tolist() == ["L", "M"]


def test_comment_of_a_numbered_statement_is_stored(tmp_path, fresh_db):
    study = real_shapes.every_id_shape(tmp_path)
    real_shapes.refresh_study(study, fresh_db)
    with store.connect(fresh_db) as con:
        comments = store.comments_for(con, 1)
    assert comments[["round", "statement_id", "comment"]].values.tolist() == [[1, "3", "fine"]]


def test_portuguese_legends_and_typography(tmp_path, fresh_db):
    study = real_shapes.portuguese_legends(tmp_path)
    got, problems = _assert_numbers(study, fresh_db)
    assert problems.empty
    assert got["text"].tolist() == [study.texts[s] for _, s in got.index]  # the tab's wording


def test_typo_leaves_the_other_questions_counted(tmp_path, fresh_db):
    study = real_shapes.typo(tmp_path)
    got, problems = _assert_numbers(study, fresh_db)
    assert list(got.index) == [(1, "S01"), (1, "S02")]
