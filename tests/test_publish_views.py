"""AppTest: what each role sees around a refresh and a publication (issue 12.3).

Observers see the published snapshot only, the committee the published one unless they pick
another in the sidebar, the coordinator the latest.  The demo database of the ``app`` fixture
is built as the app builds it: snapshot 1, published with every round closed; round 3 has 14
of the 15 panelists' answers (P05's is missing) to its 13 statements.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from lib import store
from lib.pipeline import refresh
from lib.sources import RawSource, read_workbook
from tests.helpers import signed_in_app

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
COORDINATOR = "pages/coordinator.py"


def _session(role: str | None) -> AppTest:
    """A new session with sign-in configured (no demo mode), signed in as ``role``."""
    return signed_in_app(role)


def _picked(at: AppTest, snapshot: int) -> AppTest:
    """``at`` with ``snapshot`` chosen in the sidebar picker.  (AppTest reruns only the page
    after the first run, and the picker is app.py's, so the choice is made before it.)"""
    at.session_state["view_snapshot"] = snapshot
    return at


def _caption(at: AppTest) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Snapshot "))


def _texts(at: AppTest) -> str:
    parts = [*at.markdown, *at.caption, *at.info, *at.warning, *at.success, *at.error]
    return "\n".join(str(e.value) for e in parts).replace("\\", "").replace("**", "")


def _overview(at: AppTest) -> tuple[str, pd.DataFrame, pd.DataFrame]:
    """What the Overview shows of round 3: the caption, the rounds table, round 3's table."""
    at.selectbox(key="ov_round").select("Round 3").run()
    assert not at.exception
    return _caption(at), at.dataframe[0].value, at.dataframe[1].value


def _one_more_answer(cfg, db) -> RawSource:
    """The demo workbook with P05's answers to round 3 arriving last."""
    raw = read_workbook(cfg.source)
    with store.connect(db) as con:
        who = store.nonresponders(con, 1)["identity"].iloc[0]
    rows = raw.tabs["Round 3"]
    late = [rows[-1][0] + dt.timedelta(hours=1), who, *rows[1][2:]]
    raw.tabs["Round 3"] = [*rows, late]
    return raw


def test_a_refresh_adding_one_answer_changes_nothing_observers_see(app, demo_db, demo_cfg):
    before = _overview(_session(None).run())
    assert refresh(demo_cfg, demo_db, raw=_one_more_answer(demo_cfg, demo_db)).snapshot_id == 2
    after = _overview(_session(None).run())
    assert after[0] == before[0] and after[0].startswith("Snapshot 1 of")
    pd.testing.assert_frame_equal(after[1], before[1])
    pd.testing.assert_frame_equal(after[2], before[2])
    # what the two views would have given by subtraction had observers been shown snapshot 2:
    # every one of the late panelist's 13 ratings
    with store.connect(demo_db) as con:
        one, two = (store.distribution_for(con, s).query("round == 3") for s in (1, 2))
    keys = ["statement_id", "answer"]
    added = two.set_index(keys)["count"].sub(one.set_index(keys)["count"], fill_value=0)
    assert len(added[added > 0]) == 13 and added.sum() == 13


def test_coordinator_publishes_once_the_round_is_closed_and_observers_follow(
    app, demo_db, demo_cfg
):
    refresh(demo_cfg, demo_db, raw=_one_more_answer(demo_cfg, demo_db))
    observer = _session(None).run()
    assert _caption(observer).startswith("Snapshot 1 of")
    at = _session("coordinator").run()
    assert _caption(at).startswith("Snapshot 2 of")  # the coordinator works on the latest
    at.switch_page(COORDINATOR).run()
    text = _texts(at)
    assert "Observers see snapshot 1" in text and "Snapshot 2 is the latest" in text
    assert (
        "Not publishable: round 3: 1 respondent differs from snapshot 1, published before "
        "(1 added), fewer than privacy.min_group_size = 5" in text
    )
    check = next(d.value for d in at.dataframe if "verdict" in d.value.columns)
    assert check.set_index("round").loc[3, "verdict"] == "refused: 1 to 4 differ"
    assert at.button(key="co_publish").disabled
    at.multiselect(key="co_close_rounds").select(3).run()
    assert "Closing round 3 publishes a change of 1 respondent" in _texts(at)
    assert not at.button(key="co_publish").disabled
    at.button(key="co_publish").click().run()
    assert not at.exception
    text = _texts(at)
    assert "Snapshot 2 is published" in text and "Observers see snapshot 2" in text
    # the open session's next rerun (AppTest reruns app.py, where the snapshot is resolved,
    # only after a page of its own: see tests/test_page_coordinator.py)
    observer.switch_page("pages/overview.py").run().switch_page("app.py").run()
    assert _caption(observer).startswith("Snapshot 2 of")
    rounds = observer.dataframe[0].value.set_index("round")
    assert rounds.loc[3, "responded"] == 15


def test_nothing_published_yet_is_said_to_observers_and_the_committee(
    demo_cfg, fresh_db, monkeypatch
):
    refresh(demo_cfg, fresh_db)  # a refresh stores; it publishes nothing
    monkeypatch.setenv("DELPHI_DB", str(fresh_db))
    monkeypatch.delenv("DELPHI_STUDY", raising=False)
    observer = _session(None).run()
    assert not observer.exception and not observer.dataframe
    assert observer.info[0].value.startswith("No results have been published yet")
    committee = _session("committee").run()
    assert "Pick a snapshot in the sidebar" in committee.info[0].value
    assert _caption(_picked(_session("committee"), 1).run()).startswith("Snapshot 1 of")
    assert _caption(_session("coordinator").run()).startswith("Snapshot 1 of")


def test_committee_sees_the_published_snapshot_unless_they_pick_another(app, demo_db, demo_cfg):
    refresh(demo_cfg, demo_db, raw=_one_more_answer(demo_cfg, demo_db))
    committee = _session("committee").run()
    picker = committee.selectbox(key="view_snapshot")
    assert picker.value is None and picker.format_func(None) == "Published snapshot"
    assert _caption(committee).startswith("Snapshot 1 of")
    assert _caption(_picked(_session("committee"), 2).run()).startswith("Snapshot 2 of")
    coordinator = _session("coordinator").run()
    assert coordinator.selectbox(key="view_snapshot").format_func(None) == "Latest snapshot"


def test_a_workbook_study_s_first_build_is_not_published(tmp_path, monkeypatch):
    text = (ROOT / "data" / "demo" / "study.toml").read_text(encoding="utf-8")
    book = ROOT / "data" / "demo" / "isotretinoin_delphi.xlsx"
    study = tmp_path / "study.toml"
    study.write_text(text.replace('"isotretinoin_delphi.xlsx"', f'"{book}"'), encoding="utf-8")
    monkeypatch.setenv("DELPHI_STUDY", str(study))
    monkeypatch.setenv("DELPHI_DB", str(tmp_path / "study.duckdb"))
    observer = _session(None).run()  # the first visit builds the database
    assert not observer.exception
    assert observer.info[0].value.startswith("No results have been published yet")
    with store.connect(tmp_path / "study.duckdb") as con:
        assert store.latest_snapshot_id(con) == 1 and store.published_snapshot_id(con) is None


def test_the_bundled_demo_s_first_build_is_published(tmp_path, monkeypatch):
    monkeypatch.delenv("DELPHI_STUDY", raising=False)
    monkeypatch.setenv("DELPHI_DB", str(tmp_path / "demo.duckdb"))
    observer = _session(None).run()
    assert not observer.exception and _caption(observer).startswith("Snapshot 1 of")
