"""Publication (issue 12.3): observers see only published snapshots, and a snapshot that differs
from a published one by 1 to min_group_size - 1 respondents in an open round is refused.

The attack: two observer views taken before and after a refresh that added one response give
that respondent's answers by subtraction.  These tests use the demo workbook (round 3: 14
respondents, 13 statements; privacy.min_group_size = 5, the default) with round 3 cut to fewer
rows, then refreshed as more answers arrive.
"""

from __future__ import annotations

import copy
import threading

import pytest

from lib import coordination, store
from lib.pipeline import refresh
from lib.publication import PublishRefused, check_publication, publish
from lib.sources import RawSource, read_workbook


@pytest.fixture(scope="module")
def demo_raw(demo_cfg) -> RawSource:
    return read_workbook(demo_cfg.source)


@pytest.fixture
def study(demo_cfg, demo_raw, fresh_db):
    """``store_round3(rows)``: refresh the demo with round 3 answered by those rows (indices
    into the workbook's 14 answers); returns the new snapshot id."""
    answers = demo_raw.tabs["Round 3"]

    def store_round3(rows: list[int], edit=None) -> int:
        tabs = copy.deepcopy(demo_raw.tabs)
        tabs["Round 3"] = [answers[0], *(answers[1 + i] for i in rows)]
        if edit:
            edit(tabs)
        raw = RawSource(tabs=tabs, source="demo", title="Demo", all_tabs=list(tabs))
        return refresh(demo_cfg, fresh_db, raw=raw).snapshot_id

    return store_round3


def _published(db) -> int | None:
    with store.connect(db) as con:
        return store.published_snapshot_id(con)


def test_a_refresh_publishes_nothing(study, fresh_db):
    study(list(range(8)))
    assert _published(fresh_db) is None


def test_one_more_response_is_refused_with_the_round_and_the_count(study, fresh_db):
    publish(fresh_db, study(list(range(8))))  # 8 respondents in round 3, 15 in rounds 1-2
    second = study(list(range(9)))  # one more panelist answers round 3
    with pytest.raises(PublishRefused) as refused:
        publish(fresh_db, second)
    assert str(refused.value) == (
        "snapshot 2 cannot be published: round 3: 1 respondent differs from snapshot 1, "
        "published before (1 added), fewer than privacy.min_group_size = 5, so comparing the "
        "two would reveal their answers; publish once 4 more differ, or close round 3"
    )
    assert _published(fresh_db) == 1


def test_min_group_size_more_respondents_make_it_publishable(study, fresh_db):
    publish(fresh_db, study(list(range(8))))
    study(list(range(9)))
    check = check_publication(fresh_db, study(list(range(13))))  # 5 more than snapshot 1
    assert check.allowed and check.rounds.set_index("round").loc[3, "added"] == 5
    publish(fresh_db, 3)
    assert _published(fresh_db) == 3


def test_closing_the_round_publishes_it_and_says_what_that_reveals(study, fresh_db):
    publish(fresh_db, study(list(range(8))))
    check = publish(fresh_db, study(list(range(9))), close_rounds=[3])
    assert _published(fresh_db) == 2 and check.closing == (3,)
    assert check.warnings == (
        "Closing round 3 publishes a change of 1 respondent since snapshot 1: anyone who "
        "compares the two can read their answers to round 3.",
    )
    state = coordination.read_state(fresh_db, None)
    assert state.closed_rounds == [3]


def test_a_late_answer_to_a_closed_round_needs_closing_it_again(study, fresh_db):
    publish(fresh_db, study(list(range(8))), close_rounds=[3])
    late = study(list(range(9)))
    with pytest.raises(PublishRefused, match="round 3: 1 respondent differs from snapshot 1"):
        publish(fresh_db, late)
    publish(fresh_db, late, close_rounds=[3])
    assert _published(fresh_db) == late


def test_first_publication_needs_min_group_size_respondents_per_open_round(study, fresh_db):
    sid = study([0, 1, 2])
    with pytest.raises(PublishRefused) as refused:
        publish(fresh_db, sid)
    assert "round 3: only 3 respondents, fewer than privacy.min_group_size = 5" in str(
        refused.value
    )
    assert "publish once 2 more have answered, or close round 3" in str(refused.value)
    assert _published(fresh_db) is None
    publish(fresh_db, sid, close_rounds=[3])
    assert _published(fresh_db) == sid


def test_every_earlier_publication_binds_not_only_the_last(study, fresh_db):
    first = study(list(range(8)))
    publish(fresh_db, first)
    publish(fresh_db, study(list(range(13))))  # five more: allowed
    # the five leave, one other arrives: 6 differ from snapshot 2, but only 1 from snapshot 1
    third = study([*range(8), 13])
    with pytest.raises(PublishRefused, match="round 3: 1 respondent differs from snapshot 1"):
        publish(fresh_db, third)


def test_a_changed_answer_counts_as_a_differing_respondent(study, fresh_db, demo_raw):
    publish(fresh_db, study(list(range(8))))
    cell = demo_raw.tabs["Round 3"][1][2]  # the first respondent's first rating

    def change(tabs):
        tabs["Round 3"][1][2] = "Strongly agree" if cell == "Agree" else "Agree"

    with pytest.raises(PublishRefused, match=r"round 3: 1 respondent differs .* \(1 changed\)"):
        publish(fresh_db, study(list(range(8)), edit=change))


def test_a_changed_panel_attribute_counts_in_every_round_answered(study, fresh_db):
    publish(fresh_db, study(list(range(8))))

    def move(tabs):
        tabs["Panel"][1][2] = "Portugal"  # Country, an attribute observers see by group

    check = check_publication(fresh_db, study(list(range(8)), edit=move))
    assert [r.split(":")[0] for r in check.refusals] == ["round 1", "round 2", "round 3"]


def test_an_unchanged_respondent_set_publishes(study, fresh_db):
    publish(fresh_db, study(list(range(8))))

    def move(tabs):  # a statement moved to another domain: no respondent differs
        tabs["Statements"][1][2] = "Other"

    second = study(list(range(8)), edit=move)
    assert second == 2
    check = publish(fresh_db, second)
    assert set(check.rounds["verdict"]) == {"unchanged"} and _published(fresh_db) == 2


def test_publishing_the_published_snapshot_again_changes_nothing(study, fresh_db):
    sid = study(list(range(8)))
    publish(fresh_db, sid)
    assert publish(fresh_db, sid).changes_nothing
    assert len(store_publications(fresh_db)) == 1
    assert not publish(fresh_db, sid, close_rounds=[1]).changes_nothing  # closes a round
    assert len(store_publications(fresh_db)) == 2


def test_a_snapshot_published_before_may_be_published_again(study, fresh_db):
    first = study(list(range(8)))
    publish(fresh_db, first)
    study(list(range(9)))
    publish(fresh_db, study(list(range(13))))
    publish(fresh_db, first)  # back to it: observers have seen it, nothing new is revealed
    assert _published(fresh_db) == first


def store_publications(db):
    with store.connect(db) as con:
        return store.publications(con)


def test_unknown_snapshot_and_round_are_refused(study, fresh_db):
    study(list(range(8)))
    with pytest.raises(PublishRefused, match="snapshot 9 does not exist"):
        publish(fresh_db, 9)
    with pytest.raises(PublishRefused, match=r"round 7 is not a round of snapshot 1 \(its "):
        publish(fresh_db, 1, close_rounds=[7])


def test_an_empty_database_has_nothing_to_publish(fresh_db):
    with pytest.raises(PublishRefused, match="there is no snapshot to publish yet"):
        publish(fresh_db)


def test_the_stricter_group_size_applies(study, fresh_db):
    sid = study(list(range(8)))
    with pytest.raises(PublishRefused, match="only 8 respondents, fewer than .* = 10"):
        publish(fresh_db, sid, min_group_size=10)
    publish(fresh_db, sid, min_group_size=2)  # the stored configuration's 5 still applies
    assert _published(fresh_db) == sid


def test_two_publications_at_once_cannot_both_pass_against_the_same_one(
    study, fresh_db, monkeypatch
):
    publish(fresh_db, study(list(range(8))))
    a, b = study(list(range(13))), study([*range(8), *range(9, 14)])  # each: 5 added
    # a and b differ from each other by 2 respondents: published one after the other, the
    # second would be refused; checked at the same moment, both pass against snapshot 1
    both_checked = threading.Barrier(2, timeout=10)
    original = store.add_publication

    def add_after_both_checked(con, sid, closed):
        both_checked.wait()
        return original(con, sid, closed)

    monkeypatch.setattr(store, "add_publication", add_after_both_checked)
    outcome: dict[int, str] = {}

    def run(sid: int) -> None:
        try:
            publish(fresh_db, sid)
            outcome[sid] = "published"
        except PublishRefused as exc:
            outcome[sid] = str(exc)

    threads = [threading.Thread(target=run, args=(sid,)) for sid in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcome.values())[0].startswith("another publication was recorded")
    assert list(outcome.values()).count("published") == 1
    assert _published(fresh_db) in (a, b) and len(store_publications(fresh_db)) == 2


def test_a_database_the_app_built_itself_publishes_only_closed_rounds(demo_cfg, tmp_path):
    """After a restart that lost the disk (or a damaged file rebuilt) the app builds the
    database again with no record of what observers were shown; publishing one late answer
    would then pass as a 'first publication'.  Such a database publishes closed rounds only."""
    from dataclasses import replace

    from lib.pipeline import ensure_demo_db

    real = replace(demo_cfg, path=tmp_path / "study.toml")  # the demo's data, another study
    db = tmp_path / "rebuilt.duckdb"
    sid = ensure_demo_db(real, db)
    with pytest.raises(PublishRefused, match="round 3: this database was built by the app"):
        publish(db, sid, close_rounds=[1, 2])
    publish(db, sid, close_rounds=[1, 2, 3])
    assert _published(db) == sid


def test_the_bundled_demo_still_publishes_itself(demo_cfg, tmp_path):
    from lib.pipeline import ensure_demo_db

    sid = ensure_demo_db(demo_cfg, tmp_path / "demo.duckdb")
    assert _published(tmp_path / "demo.duckdb") == sid
