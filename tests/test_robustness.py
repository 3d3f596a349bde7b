"""Would the verdict survive? Attrition what-ifs, rating changes and the robust / fragile mark.

Small studies written out by hand; every expected number is counted in the comment beside it
(≥ 75% agreement on 1–5: agree = 4–5, disagree = 1–2).  The page tests run on the demo.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from lib import store
from lib.analysis import robustness as rb
from lib.analysis.rules import preset, yes_no_rule
from lib.analysis.scales import Scale, ScaleMap, ScaleUse
from lib.analysis.sensitivity import sensitivity_by_scale
from lib.analysis.solidity import solidity_by_scale
from lib.auth import hash_password

PCT75 = ScaleMap.single(preset("pct75", 1, 5), 1, 5)
PSEUDONYM = re.compile(r"\bP\d{2,4}\b")


def _study(answers: dict, revised: dict | None = None, comments: dict | None = None):
    """(ratings, respondents, statements) from {(round, id): {panelist: answer}}; an answer is
    a rating, "no" (no opinion) or None (left blank).  Respondents: everyone with a row."""
    rows = []
    for (rnd, sid), given in answers.items():
        for who, answer in given.items():
            rows.append(
                {
                    "round": rnd,
                    "panelist": who,
                    "statement_id": sid,
                    "rating": float(answer) if isinstance(answer, int) else np.nan,
                    "no_opinion": answer == "no",
                    "comment": (comments or {}).get((rnd, sid, who)),
                }
            )
    ratings = pd.DataFrame(rows)
    respondents = ratings[["round", "panelist"]].drop_duplicates()
    statements = pd.DataFrame(
        [
            {"round": r, "statement_id": s, "domain": "D", "text": s, "revised_from": None}
            for r, s in answers
        ]
    )
    statements["revised_from"] = statements["statement_id"].map(revised or {})
    return ratings, respondents, statements


def _row(frame: pd.DataFrame, rnd: int, sid: str) -> pd.Series:
    hit = frame[(frame["round"] == rnd) & (frame["statement_id"] == sid)]
    assert len(hit) == 1, hit
    return hit.iloc[0]


def _marks(ratings, respondents, statements, scales=PCT75, min_group_size=1):
    from lib.analysis.consensus import study_metrics

    metrics = study_metrics(ratings, scales)
    return rb.robustness(ratings, respondents, statements, metrics, scales, min_group_size)


# --- attrition ----------------------------------------------------------------------------------

# S1 revised as S1a; P5 rated S1 (2, disagree) and did not respond to round 2.
DROPOUT = {
    (1, "S1"): {"P1": 5, "P2": 4, "P3": 4, "P4": 4, "P5": 2},
    (2, "S1a"): {"P1": 4, "P2": 4, "P3": 4, "P4": 3},
}


def test_carrying_a_dropouts_last_rating_flips_the_verdict():
    a = rb.attrition(*_study(DROPOUT, {"S1a": "S1"}), PCT75)
    row = _row(a, 2, "S1a")
    # by hand: round 2 has 3 of 4 in 4–5 = 75% -> consensus in; with P5's round-1 rating of 2
    # (its revised_from version) 3 of 5 = 60% -> no consensus.
    assert row["status"] == "consensus_in" and row["n"] == 4
    assert (row["n_dropped"], row["n_skipped"], row["n_carried"]) == (1, 0, 1)
    assert row["status_carried"] == "no_consensus" and row["flips_carried"]
    # worst case: P5 rates 1: 3 of 5 = 60% -> no consensus as well
    assert row["status_worst"] == "no_consensus" and row["flips_worst"]
    assert row["worst_case"] == "the missing panelist rates 1"


def test_first_version_has_nobody_to_carry():
    row = _row(rb.attrition(*_study(DROPOUT, {"S1a": "S1"}), PCT75), 1, "S1")
    assert row["n_dropped"] + row["n_skipped"] == 0 and not row["flips_worst"]
    assert row["note"] == "first version rated: nobody to carry"


def test_worst_case_flips_where_the_last_rating_does_not():
    # P5 rated S2 5 in round 1, then missed rounds 2 and 3: round 3 carries the round-1 rating.
    answers = {
        (1, "S2"): {"P1": 4, "P2": 4, "P3": 4, "P4": 3, "P5": 5},
        (2, "S2"): {"P1": 4, "P2": 4, "P3": 4, "P4": 3},
        (3, "S2"): {"P1": 4, "P2": 4, "P3": 4, "P4": 3},
    }
    row = _row(rb.attrition(*_study(answers), PCT75), 3, "S2")
    # by hand: 3/4 = 75% in; with P5's 5: 4/5 = 80% in (holds); P5 at 1: 3/5 = 60% (flips)
    assert row["status"] == "consensus_in" and row["status_carried"] == "consensus_in"
    assert not row["flips_carried"]
    assert row["status_worst"] == "no_consensus" and row["flips_worst"]


def test_no_opinion_is_an_answer_and_a_blank_is_skipped():
    answers = {
        (1, "S3"): {"P1": 4, "P2": 4, "P3": 4, "P4": 4, "P5": 4},
        (2, "S3"): {"P1": 4, "P2": 4, "P3": "no", "P4": None},  # P5 dropped out
    }
    row = _row(rb.attrition(*_study(answers), PCT75), 2, "S3")
    # P3 said "no opinion" (not replaced); P4 responded but left it blank; P5 dropped out.
    assert (row["n"], row["n_dropped"], row["n_skipped"], row["n_carried"]) == (2, 1, 1, 2)
    # by hand: 2/2 in; both last ratings (4, 4): 4/4 in; both at 1: 2/4 = 50% -> no consensus
    assert row["status_carried"] == "consensus_in" and not row["flips_carried"]
    assert row["status_worst"] == "no_consensus"
    assert row["worst_case"] == "both missing panelists rate 1"


def test_worst_case_against_consensus_out_is_the_top_of_the_scale():
    answers = {
        (1, "S4"): {"P1": 1, "P2": 1, "P3": 2, "P4": 1, "P5": 2},
        (2, "S4"): {"P1": 1, "P2": 2, "P3": 2, "P4": 3},
    }
    row = _row(rb.attrition(*_study(answers), PCT75), 2, "S4")
    # by hand: 3 of 4 in 1–2 = 75% -> out; P5 at 5: 3 of 5 = 60% -> no consensus
    assert row["status"] == "consensus_out" and row["worst_case"] == "the missing panelist rates 5"
    assert row["status_worst"] == "no_consensus"


def test_worst_case_against_no_consensus_tries_both_ends():
    answers = {
        (1, "S5"): {"P1": 4, "P2": 4, "P3": 4, "P4": 4},
        (2, "S5"): {"P1": 4, "P2": 3},  # P3 and P4 dropped out
    }
    row = _row(rb.attrition(*_study(answers), PCT75), 2, "S5")
    # by hand: 1 of 2 = 50% -> none; both at 5: 3 of 4 = 75% -> consensus in
    assert row["status"] == "no_consensus" and row["status_worst"] == "consensus_in"
    assert row["worst_case"] == "both missing panelists rate 5"
    answers[(2, "S5")] = {"P1": 4, "P2": 3, "P5": 3, "P6": 3}  # P3, P4 out; 4 rated
    row = _row(rb.attrition(*_study(answers), PCT75), 2, "S5")
    # both at 5: 3 of 6 = 50%; both at 1: 2 of 6 disagree = 33% -> no flip either way
    assert not row["flips_worst"] and row["worst_case"] == "both missing panelists rate 5, or 1"


def test_observers_do_not_get_the_last_ratings_of_a_small_group():
    a = rb.attrition(*_study(DROPOUT, {"S1a": "S1"}), PCT75, min_group_size=5)
    row = _row(a, 2, "S1a")
    assert pd.isna(row["status_carried"]) and pd.isna(row["flips_carried"])
    assert "fewer than 5" in row["note"] and row["flips_worst"]  # counts only: still shown
    marks = _marks(*_study(DROPOUT, {"S1a": "S1"}), min_group_size=5)
    assert "last rating kept" not in _row(marks, 2, "S1a")["checks"]


# --- rating changes -----------------------------------------------------------------------------

MOVES = {
    (1, "S1"): {"P1": 1, "P2": 2, "P3": 3, "P4": 4, "P5": 5, "P6": 3},
    (2, "S1"): {"P1": 4, "P2": 3, "P3": 4, "P4": 5, "P5": 2, "P6": 3},
}
MOVE_COMMENTS = {(2, "S1", "P1"): "Read the new trial", (1, "S1", "P5"): "round-1 remark"}


def test_rating_changes_and_the_boundaries_they_cross():
    ch = rb.rating_changes(*_study(MOVES, comments=MOVE_COMMENTS)[::2], PCT75)
    got = ch[["panelist", "rating_before", "rating", "crossing", "comment"]]
    expected = [  # by hand from MOVES; P6 did not move; the comment is the one given in round 2
        ["P1", 1.0, 4.0, "out of disagree, into agree", "Read the new trial"],
        ["P2", 2.0, 3.0, "out of disagree", None],
        ["P3", 3.0, 4.0, "into agree", None],
        ["P4", 4.0, 5.0, "", None],
        ["P5", 5.0, 2.0, "out of agree, into disagree", None],
    ]
    assert got.astype(object).where(got.notna(), None).values.tolist() == expected
    assert ch["change"].tolist() == [3.0, 1.0, 1.0, 1.0, -3.0]


def test_change_counts_have_no_pseudonyms():
    counts = rb.change_counts(*_study(MOVES)[::2], PCT75)
    row = _row(counts, 2, "S1")
    assert "panelist" not in counts
    # from the table above: 6 rated both, 5 moved, 4 crossed; into agree P1 P3, out of agree
    # P5, into disagree P5, out of disagree P1 P2
    assert row[["n_paired", "n_moved", "n_crossed"]].tolist() == [6, 5, 4]
    assert row[["into_agree", "out_of_agree", "into_disagree", "out_of_disagree"]].tolist() == [
        2,
        1,
        1,
        2,
    ]


# --- Yes/No questions and versions on different scales ------------------------------------------

VOTE = Scale("Vote", 0, 1, {"Yes": 1, "No": 0}, (), yes_no_rule({"threshold": 75}), yes_no=True)
VOTED = ScaleMap(PCT75.main, (ScaleUse(VOTE, frozenset({2, 3})),))
VOTES = {
    (1, "S1"): {"P1": 4, "P2": 4, "P3": 4, "P4": 4, "P5": 2},  # 1–5
    (2, "S1"): {"P1": 1, "P2": 1, "P3": 1, "P4": 0},  # Yes/No; P5 dropped out
    (3, "S1"): {"P1": 1, "P2": 0, "P3": 1, "P4": 0},
}


def test_yes_no_worst_case_is_a_no_and_ratings_on_another_scale_are_not_carried():
    row = _row(rb.attrition(*_study(VOTES), VOTED), 2, "S1")
    # by hand: 3 Yes of 4 = 75% -> in; P5's 2 was on 1–5: not carried; P5 votes No: 3/5 = 60%
    assert row["status"] == "consensus_in" and row["n_carried"] == 0
    assert row["status_carried"] == "consensus_in" and not row["flips_carried"]
    assert "another scale only" in row["note"]
    assert row["worst_case"] == "the missing panelist rates No"
    assert row["status_worst"] == "no_consensus"


def test_versions_on_different_scales_are_not_compared():
    ratings, _, statements = _study(VOTES)
    counts = rb.change_counts(ratings, statements, VOTED)
    two, three = _row(counts, 2, "S1"), _row(counts, 3, "S1")
    assert not two["compared"] and pd.isna(two["n_moved"])
    assert two["note"] == "rated on 1–5 then on Yes/No: not compared"
    ch = rb.rating_changes(ratings, statements, VOTED)
    assert set(ch["round"]) == {3}  # no row from the 1–5 round to the vote
    # round 2 -> 3 on Yes/No: P2 Yes -> No
    assert ch[["panelist", "crossing"]].values.tolist() == [["P2", "out of agree, into disagree"]]
    assert three["compared"] and three["n_moved"] == 1


def test_yes_no_mark_speaks_of_yes():
    row = _row(_marks(*_study(VOTES), VOTED), 2, "S1")
    assert row["mark"] == "fragile" and "% yes" in row["reasons"]


def test_one_round_has_nothing_to_compare_or_carry():
    ratings, respondents, statements = _study({(1, "S1"): {"P1": 4, "P2": 5, "P3": None}})
    assert rb.rating_changes(ratings, statements, PCT75).empty
    assert rb.change_counts(ratings, statements, PCT75).empty
    row = _row(rb.attrition(ratings, respondents, statements, PCT75), 1, "S1")
    # P3 left it blank, but rated no earlier version: not missing
    assert row["n_skipped"] == 0 and row["note"] == "first version rated: nobody to carry"


# --- the mark -----------------------------------------------------------------------------------


def test_fragile_mark_gives_its_reasons():
    row = _row(_marks(*_study(DROPOUT, {"S1a": "S1"})), 2, "S1a")
    assert row["mark"] == "fragile" and row["last_rated"]
    assert row[["fragile_votes", "fragile_interval", "fragile_attrition"]].tolist() == [True] * 3
    # 3 of 4 at 75%: one vote fewer is 50%
    assert "1 changed vote would make it no consensus" in row["reasons"]
    assert "with the missing panelist's last rating kept it would be no consensus" in row["reasons"]
    assert "contains the 75% threshold" in row["reasons"]


def test_robust_mark_gives_its_reasons():
    # 16 rate 5 in round 1; 15 of them rate 5 again in round 2 (P16 dropped out)
    answers = {
        (1, "S9"): {f"P{i}": 5 for i in range(1, 17)},
        (2, "S9"): {f"P{i}": 5 for i in range(1, 16)},
    }
    marks = _marks(*_study(answers))
    row = _row(marks, 2, "S9")
    assert row["mark"] == "robust" and row["last_rated"] and not _row(marks, 1, "S9")["last_rated"]
    # Wilson lower bound for 15 of 15: n / (n + z²) = 15 / (15 + 1.95996²) = 79.6%
    low = 100 * 15 / (15 + 1.959964**2)
    assert f"% agree {low:.1f}–100.0% is clear of the 75% threshold" in row["reasons"]
    # 15 of 15 -> 11 of 15 (73%) is the first split under 75%: 4 votes
    assert "4 votes to flip" in row["reasons"]
    assert "it holds with the missing panelist's last rating kept" in row["reasons"]
    assert "every other rule that applies gives the same status" in row["reasons"]


def test_other_rules_that_differ_make_it_fragile():
    # 12 of 16 rate 4 and 4 rate 1: 75% agree (≥ 75% in) but 25% disagree (COMET's cap is 15%)
    answers = {
        (1, "S8"): {**{f"P{i}": 4 for i in range(1, 13)}, **{f"P{i}": 1 for i in range(13, 17)}}
    }
    row = _row(_marks(*_study(answers)), 1, "S8")
    assert row["fragile_rules"] and "COMET 70/15: no consensus" in row["reasons"]


def test_marks_from_the_cached_frames_equal_the_one_stop_function():
    ratings, respondents, statements = _study(DROPOUT, {"S1a": "S1"})
    from lib.analysis.consensus import study_metrics

    metrics = study_metrics(ratings, PCT75)
    parts = rb.marks(
        statements,
        solidity_by_scale(metrics, PCT75),
        rb.attrition(ratings, respondents, statements, PCT75),
        sensitivity_by_scale(ratings, PCT75),
        PCT75,
    )
    pd.testing.assert_frame_equal(parts, _marks(ratings, respondents, statements))


# --- the demo: an independent count, and the page ------------------------------------------------


def test_demo_dropout_flips_s22a_as_counted_by_hand(demo_db, demo_cfg):
    with store.connect(demo_db, read_only=True) as con:
        sid = store.latest_snapshot_id(con)
        ratings = store.ratings_for(con, sid)
        respondents = store.respondents_for(con, sid)
        statements = store.statements_for(con, sid)
    a = rb.attrition(ratings, respondents, statements, demo_cfg.scale_map)
    # independently: who answered round 2 but not round 3, and their round-2 S22a rating
    gone = set(respondents[respondents["round"] == 2]["panelist"]) - set(
        respondents[respondents["round"] == 3]["panelist"]
    )
    r2 = ratings[(ratings["round"] == 2) & (ratings["statement_id"] == "S22a")]
    last = r2[r2["panelist"].isin(gone)]["rating"].dropna()
    r3 = ratings[(ratings["round"] == 3) & (ratings["statement_id"] == "S22a")]["rating"].dropna()
    agree = ((r3 >= 4).sum() + (last >= 4).sum()) / (len(r3) + len(last))
    expected = "consensus_in" if agree >= 0.75 else "no_consensus"
    row = _row(a, 3, "S22a")
    assert row["n_dropped"] == len(gone) and row["n_carried"] == len(last)
    assert row["status_carried"] == expected and row["flips_carried"] == (expected != row["status"])


def _statements_page(at, statement_id: str):
    at.run()
    at.switch_page("pages/statements.py").run()
    box = at.selectbox(key="st_statement")
    box.select(next(o for o in box.options if o.startswith(f"{statement_id} — "))).run()
    assert not at.exception, at.exception
    return at


def _texts(at) -> str:
    parts = [e.value for e in [*at.markdown, *at.caption, *at.warning, *at.success]]
    return "\n".join([*map(str, parts), *(d.value.to_csv() for d in at.dataframe)])


def test_committee_sees_who_changed_their_rating(app):
    app.secrets["access"] = {"committee_password_hash": hash_password("c", iterations=1000)}
    app.session_state["role"] = "committee"
    at = _statements_page(app, "S22a")
    changes = next(d.value for d in at.dataframe if "panelist" in d.value.columns)
    assert set(changes["statement_id"]) == {"S22a"} and "their_comment" in changes
    assert (changes["rating"] != changes["rating_before"]).all()
    mark = [w.value for w in at.warning if "Fragile" in w.value]
    assert mark and "last rating kept it would be no consensus" in mark[0]


@pytest.mark.parametrize("statement_id", ["S22a", "S07b", "S01"])
def test_observers_see_no_pseudonym_and_no_per_panelist_row(app, statement_id):
    app.secrets["access"] = {"committee_password_hash": hash_password("c", iterations=1000)}
    at = _statements_page(app, statement_id)
    assert not any("panelist" in d.value.columns for d in at.dataframe)
    assert not PSEUDONYM.search(_texts(at))
    assert "shown to the committee only" in _texts(at) or statement_id == "S01"
    attrition = next(d.value for d in at.dataframe if "worst_case" in d.value.columns)
    # the demo's single dropout is under min_group_size (5): their last rating is not used
    assert attrition["status_carried"].isna().sum() == (attrition["n_carried"] > 0).sum()
    assert "last rating kept" not in _texts(at)


def test_statements_page_shows_the_mark_in_demo_mode(app):
    at = _statements_page(app, "S01")
    assert any(s.value.startswith("**Robust**") for s in at.success)
    assert any(rb.MARK_RULE[:40] in c.value for c in at.caption)
    assert any("Rated in one round only" in c.value for c in at.caption)


def test_a_robust_mark_names_the_checks_that_do_not_apply():
    # median and IQR rule: votes to flip are not computed, and there is no threshold
    median = ScaleMap.single(preset("median_iqr", 1, 5), 1, 5)
    answers = {(1, "S7"): {f"P{i}": 5 for i in range(1, 11)}}
    row = _row(_marks(*_study(answers), median), 1, "S7")
    assert row["mark"] == "robust" and not row[["fragile_votes", "fragile_interval"]].any()
    assert "votes to flip not computed" in row["reasons"]
    assert "the rule has no threshold: interval not tested" in row["reasons"]


def test_the_changes_table_carries_each_panelists_comment_of_that_round(demo_db, demo_cfg):
    """The comment beside a change is the one that panelist wrote with the new rating: checked
    against the ratings table itself, not through the function's own join."""
    with store.connect(demo_db, read_only=True) as con:
        sid = store.current_snapshot_id(con)
        ratings, statements = store.ratings_for(con, sid), store.statements_for(con, sid)
        comments = store.panelist_comments_for(con, sid)
        said = con.execute(
            "SELECT round, panelist, statement_id, comment FROM ratings "
            "WHERE snapshot_id = ? AND comment IS NOT NULL",
            [sid],
        ).df()
    assert "comment" not in ratings  # statistics never carry the comment text
    ch = rb.rating_changes_with_comments(ratings, statements, comments, demo_cfg.scale_map)
    with_comment = ch[ch["comment"].notna()]
    assert len(with_comment) > 0
    truth = said.set_index(["round", "panelist", "statement_id"])["comment"]
    for row in with_comment.itertuples():
        assert row.comment == truth[(row.round, row.panelist, row.statement_id)]
    # a changed rating without a comment has none
    silent = ch[ch["comment"].isna()]
    keys = set(truth.index)
    assert all((r.round, r.panelist, r.statement_id) not in keys for r in silent.itertuples())


def test_one_weak_sign_leaves_a_verdict_robust_two_make_it_fragile(demo_db, demo_cfg):
    """MARK_RULE: a strong sign or two weak ones.  On the demo, round 1: S02 is 13 of 15 in
    agreement (86.7%): its Wilson interval (z = 1.96) still reaches below 75%, but 2 votes are
    needed to flip it, nobody is missing in round 1 and every rule agrees — one weak sign,
    robust.  S04 is 9 of 14 (64.3%): its interval contains 75% and the median/IQR rule says
    consensus in — two weak signs, fragile."""
    with store.connect(demo_db, read_only=True) as con:
        sid = store.current_snapshot_id(con)
        frames = (
            store.ratings_for(con, sid),
            store.respondents_for(con, sid),
            store.statements_for(con, sid),
            store.metrics_for(con, sid),
        )
    out = rb.robustness(*frames, demo_cfg.scale_map).set_index(["round", "statement_id"])
    z = 1.959963984540054
    k, n = 13, 15
    low = (k + z * z / 2 - z * np.sqrt(k * (n - k) / n + z * z / 4)) / (n + z * z)
    assert low < 0.75  # the interval contains the threshold (Wilson 1927)
    s02 = out.loc[(1, "S02")]
    assert s02["mark"] == "robust" and "one weak sign only" in s02["reasons"]
    assert "contains the 75% threshold" in s02["reasons"]
    s04 = out.loc[(1, "S04")]
    assert s04["mark"] == "fragile"
    assert "contains the 75% threshold" in s04["reasons"] and "other rules differ" in s04["reasons"]
