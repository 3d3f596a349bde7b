"""The next-round builder (issue 17.5): the revised wording starts from the current wording, the
New ID and Note columns come right after it, and it builds from the round chosen in "Round just
closed"; the page's Google Form panel previews what it would write."""

from __future__ import annotations

import pandas as pd
import pytest

from lib import store
from lib.next_round import next_round_candidates, next_round_rows, row_notes
from tests.test_page_reports import NEXT_ROUND_PAGE, _open


@pytest.fixture(scope="module")
def frames(demo_db_master):
    """The demo's metrics, comments and statements (snapshot 1)."""
    with store.connect(demo_db_master, read_only=True) as con:
        sid = store.current_snapshot_id(con)
        return (
            store.metrics_for(con, sid),
            store.comments_for(con, sid),
            store.statements_for(con, sid),
        )


def _new() -> pd.DataFrame:
    return pd.DataFrame(columns=["statement_id", "domain", "text"])


def test_revised_wording_starts_as_the_current_wording(frames):
    plan = next_round_candidates(*frames)
    assert plan["revised_text"].tolist() == plan["text"].tolist()
    assert plan["revised_text"].str.len().gt(20).all()


def test_keeping_an_untouched_wording_is_no_problem(frames):
    plan = next_round_candidates(*frames)
    rows, problems = next_round_rows(plan, _new(), 4, frames[2]["statement_id"])
    assert problems == [] and rows["text"].tolist() == plan["text"].tolist()


def test_an_edited_wording_left_on_keep_is_reported(frames):
    plan = next_round_candidates(*frames).copy()
    plan.loc[0, "revised_text"] = plan.loc[0, "text"] + " Edited."
    _, problems = next_round_rows(plan, _new(), 4, frames[2]["statement_id"])
    assert len(problems) == 1 and "edited but the action is keep" in problems[0]


def test_revising_by_editing_in_place_gives_the_new_id_and_lineage(frames):
    plan = next_round_candidates(*frames).copy()
    plan.loc[0, "action"] = "revise"
    plan.loc[0, "revised_text"] = plan.loc[0, "text"].replace("can be considered", "is an option")
    rows, problems = next_round_rows(plan, _new(), 4, frames[2]["statement_id"])
    assert problems == []
    assert rows.iloc[0][["statement_id", "revised_from"]].tolist() == ["S07c", "S07b"]
    assert "is an option" in rows.iloc[0]["text"]


def test_candidates_come_from_the_round_asked_for(frames):
    metrics = frames[0]
    plan = next_round_candidates(*frames, round_=2)
    expected = metrics[(metrics["round"] == 2) & (metrics["status"] == "no_consensus")]
    assert plan["statement_id"].tolist() == expected["statement_id"].tolist()
    # round 2 of the demo leaves 13 statements open, carried or revised into round 3
    assert len(plan) == 13 and "S07a" in plan["statement_id"].tolist()


def _table(at, column: str) -> pd.DataFrame:
    """The first table shown with ``column`` (AppTest keeps no key for st.dataframe)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_page_builds_from_the_round_just_closed(app):
    at = _open(app, None, NEXT_ROUND_PAGE)
    assert at.selectbox(key="nr_round").value == "Round 3"
    assert not any("already rated" in w.value for w in at.warning)
    at.selectbox(key="nr_round").set_value("Round 2").run()
    assert not at.exception
    assert any("Round 3 was already rated in this snapshot" in w.value for w in at.warning)
    heads = [h.value for h in at.subheader]
    assert "Rows for the Statements tab, round 3" in heads
    assert "Google Form for round 3" in heads
    preview = _table(at, "revised_from")
    assert len(preview) == 13 and set(preview["round"]) == {3}
    assert "S07a" in preview["statement_id"].tolist()
    # every statement kept as it is: no lineage, shown as an empty cell rather than "None"
    assert set(preview["revised_from"]) == {""}


def test_page_shows_new_id_and_note_right_after_the_wording(app):
    at = _open(app, None, NEXT_ROUND_PAGE)
    editor = next(d for d in at.dataframe if d.key == "nr_plan_1_3")
    order = list(editor.proto.column_order)
    assert order[:5] == ["action", "statement_id", "revised_text", "new_id", "note"]
    assert order.index("text") > order.index("comments")


def test_page_previews_the_form_it_would_write(app):
    at = _open(app, None, NEXT_ROUND_PAGE)
    preview = _table(at, "kind")
    assert preview["title"].iloc[0] == "Email Address"
    first = preview.iloc[1]
    assert (
        first["title"].startswith("S07b. ")
        and "Round 3 result for S07b: n = " in first["description"]
    )
    write = next(b for b in at.button if b.key == "nr_form_1_write")
    assert write.disabled  # no form address (and, here, no service account) yet


def test_a_revisions_note_reaches_its_row_when_the_new_id_is_left_empty(frames):
    plan = next_round_candidates(*frames).copy()
    plan.loc[0, ["action", "new_id", "note"]] = ["revise", "", "Clearer dose wording"]
    plan.loc[0, "revised_text"] = plan.loc[0, "text"] + " (revised)"
    rows, problems = next_round_rows(plan, _new(), 4, frames[2]["statement_id"])
    assert problems == [] and rows.iloc[0]["revised_from"] == "S07b"
    notes = row_notes(plan, rows)  # what the form's description says changed
    assert notes[rows.iloc[0]["statement_id"]] == "Clearer dose wording"
    assert "" not in notes
