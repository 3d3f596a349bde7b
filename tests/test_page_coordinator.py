"""AppTest: the Coordinator page, end to end against the fake Google Sheets API and the demo.

AppTest (Streamlit 1.67) runs app.py, the st.navigation router, only on the first run of a
session; later runs execute just the current page.  The real server runs app.py on every rerun,
which is where ``ui.resolve_snapshot`` picks up a new snapshot, so "the next rerun" of an open
session is ``at.switch_page("app.py").run()`` here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest
from streamlit.testing.v1 import AppTest

from lib.auth import hash_password
from lib.pipeline import refresh_lock
from tests.fake_sheets import DEFAULT_KEY, generate_service_account, tabs_from_workbook

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
DEMO = ROOT / "data" / "demo"
PAGE = "pages/coordinator.py"


def _study(tmp_path: Path, source: str) -> Path:
    """A copy of the demo study configuration reading ``source``."""
    text = (DEMO / "study.toml").read_text(encoding="utf-8")
    path = tmp_path / "study.toml"
    path.write_text(
        text.replace('source = "isotretinoin_delphi.xlsx"', f'source = "{source}"'),
        encoding="utf-8",
    )
    return path


def _texts(at: AppTest) -> str:
    """Every message on the page, markdown escapes, bold and word joiners (lib.textsafe: they
    keep addresses from becoming links) removed."""
    parts = [
        *at.title,
        *at.markdown,
        *at.caption,
        *at.subheader,
        *at.success,
        *at.info,
        *at.warning,
        *at.error,
    ]
    text = "\n".join(str(e.value) for e in parts)
    return text.replace("\\", "").replace("**", "").replace("\u2060", "")


def _frame(at: AppTest, *columns: str):
    """The first table on the page with these columns."""
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


def _overview_round3(at: AppTest) -> int:
    rounds = _frame(at, "round", "responded")
    return int(rounds.set_index("round").loc[3, "responded"])


@pytest.fixture(scope="module")
def demo_tabs() -> dict:
    """The demo workbook as the Sheets API returns it."""
    return tabs_from_workbook(DEMO / "isotretinoin_delphi.xlsx")


@pytest.fixture
def live(fake_sheets, rsa_private_key, demo_tabs, tmp_path, monkeypatch):
    """An app whose study source is the fake sheet, serving the demo with round 3 half-answered.

    Returns the AppTest (with the throwaway service account in its secrets) and the fake.
    """
    fake_sheets.tabs = {**demo_tabs, "Round 3": demo_tabs["Round 3"][:6]}
    monkeypatch.setenv("DELPHI_SHEETS_API_BASE", fake_sheets.url)
    monkeypatch.setenv("DELPHI_STUDY", str(_study(tmp_path, DEFAULT_KEY)))
    monkeypatch.setenv("DELPHI_DB", str(tmp_path / "live.duckdb"))
    monkeypatch.delenv("DELPHI_GOOGLE_CREDENTIALS", raising=False)
    info, _ = generate_service_account(fake_sheets.token_uri, rsa_private_key)

    def new_session() -> AppTest:
        at = _as_coordinator(AppTest.from_file(APP, default_timeout=60))
        at.secrets["gcp_service_account"] = info
        return at

    return new_session, fake_sheets


def _as_coordinator(at: AppTest) -> AppTest:
    """Signed in as the coordinator: a study that is not the bundled demo, or any secrets, turn
    demo mode off (lib.auth fails closed), so these sessions sign in."""
    at.secrets["access"] = {"coordinator_password_hash": hash_password("boss", iterations=1000)}
    at.session_state["role"] = "coordinator"
    return at


def _coordinator(at: AppTest) -> AppTest:
    at.run()
    return at.switch_page(PAGE).run()


# --- the live path: Google Sheets (the fake) --------------------------------------------------


def test_first_run_builds_the_database_from_the_sheet(live):
    new_session, fake = live
    at = new_session().run()
    assert not at.exception and _overview_round3(at) == 5
    assert "Snapshot 1 of" in _texts(at) and fake.count() == 3


def test_failed_first_build_is_explained_and_not_retried_on_every_view(live):
    new_session, fake = live
    fake.fault("403", times=None, endpoint="metadata")
    first = new_session().run()
    assert "The study database is not available: fetch failed: Permission denied" in _texts(first)
    requests = fake.count()
    again = new_session().run()  # another visitor within five minutes: no new Google request
    assert "Permission denied" in _texts(again) and fake.count() == requests
    assert "No data yet" in _texts(again)


def test_refresh_now_stores_the_edited_sheet_and_every_page_shows_it(live, demo_tabs):
    new_session, fake = live
    at = new_session().run()
    assert _overview_round3(at) == 5
    fake.tabs = dict(demo_tabs)  # nine more panelists answer round 3
    at.switch_page(PAGE).run()
    at.button(key="co_refresh").click().run()
    assert not at.exception
    assert "Snapshot 2 stored in" in _texts(at)
    assert "15 respondents of 15 invited" in _texts(at)
    changes = _frame(at, "new_responses", "changed_responses").set_index("round")
    assert changes.loc[3, "new_responses"] == 9 and changes.loc[3, "respondents"] == 14
    assert "since snapshot 1" in _texts(at)
    steps = [
        "Fetching from Google Sheets",
        "Validating the responses",
        "Storing the snapshot and computing consensus",
    ]  # the progress steps, timed
    assert all(f"{step} " in _texts(at) for step in steps)
    assert fake.count() == 6  # two refreshes, three requests each
    at.switch_page("app.py").run()  # this session's next rerun
    assert "Snapshot 2 of" in _texts(at) and _overview_round3(at) == 14
    other = new_session().run()  # any other session
    assert _overview_round3(other) == 14


def test_refresh_of_an_unchanged_sheet_says_no_change(live):
    new_session, _ = live
    at = _coordinator(new_session())
    at.button(key="co_refresh").click().run()
    assert "No change: the source matches snapshot 1" in _texts(at)


def test_failed_refresh_says_why_and_that_the_last_snapshot_is_current(live, demo_tabs):
    new_session, fake = live
    at = _coordinator(new_session())
    fake.tabs = dict(demo_tabs)
    fake.fault("403", times=None, endpoint="metadata")
    at.button(key="co_refresh").click().run()
    text = _texts(at)
    assert not at.exception and at.error
    assert (
        "Fetching from Google Sheets failed: Permission denied: share the sheet with "
        "dashboard@delphi-fake.iam.gserviceaccount.com as Viewer" in text
    )
    assert "Nothing was changed: snapshot 1 is still current" in text
    log = _frame(at, "attempted_at", "outcome")
    assert log["outcome"].tolist()[0] == "failed"


def test_source_panel_shows_sheet_title_tabs_and_service_account(live):
    new_session, _ = live
    at = _coordinator(new_session())
    text = _texts(at)
    url = f"https://docs.google.com/spreadsheets/d/{DEFAULT_KEY}/edit"
    assert f"Google Sheet [Isotretinoin Delphi (responses)]({url})" in text
    assert "dashboard@delphi-fake.iam.gserviceaccount.com" in text
    tabs = _frame(at, "tab", "used as", "in the source").set_index("tab")
    assert tabs.loc["Round 3", "used as"] == "Round 3"
    assert set(tabs["in the source"]) == {"yes"}


def test_without_credentials_the_page_says_how_to_configure_them(
    fake_sheets, tmp_path, monkeypatch
):
    monkeypatch.setenv("DELPHI_SHEETS_API_BASE", fake_sheets.url)
    monkeypatch.setenv("DELPHI_STUDY", str(_study(tmp_path, DEFAULT_KEY)))
    monkeypatch.setenv("DELPHI_DB", str(tmp_path / "none.duckdb"))
    for name in ("DELPHI_GOOGLE_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    at = _coordinator(_as_coordinator(AppTest.from_file(APP, default_timeout=60)))
    assert not at.exception
    assert "Service account credentials: none configured" in _texts(at)
    assert "No snapshot yet" in _texts(at) and fake_sheets.count() == 0


# --- the demo: a local workbook ----------------------------------------------------------------


def test_demo_refresh_rereads_the_workbook(app):
    at = _coordinator(app)
    assert "Source: workbook" in _texts(at)
    at.button(key="co_refresh").click().run()
    assert not at.exception and "No change: the source matches snapshot 1" in _texts(at)


def test_demo_refresh_picks_up_an_edited_workbook(tmp_path, monkeypatch):
    book = tmp_path / "study.xlsx"
    wb = openpyxl.load_workbook(DEMO / "isotretinoin_delphi.xlsx")
    wb["Round 3"].delete_rows(12, 10)  # the last answers to round 3 are not in yet
    wb.save(book)
    monkeypatch.setenv("DELPHI_STUDY", str(_study(tmp_path, book.name)))
    monkeypatch.setenv("DELPHI_DB", str(tmp_path / "wb.duckdb"))
    at = _coordinator(_as_coordinator(AppTest.from_file(APP, default_timeout=60)))
    shutil.copy(DEMO / "isotretinoin_delphi.xlsx", book)
    at.button(key="co_refresh").click().run()
    assert not at.exception and "Snapshot 2 stored" in _texts(at)
    changes = _frame(at, "new_responses").set_index("round")
    assert changes.loc[3, "new_responses"] == 4
    problems = _frame(at, "tab", "row", "column", "kind", "message")  # the validation report
    assert len(problems) == int(_frame(at, "n_problems")["n_problems"].iloc[0]) >= 1


def test_refresh_while_another_runs_is_told_so(app, demo_db):
    at = _coordinator(app)
    with refresh_lock(demo_db):  # e.g. the cron job is refreshing right now
        at.button(key="co_refresh").click().run()
    assert not at.exception and "a refresh is already running" in _texts(at)
    assert "Nothing was changed: snapshot 1 is still current" in _texts(at)


def test_nonresponders_are_listed_by_identity_for_the_coordinator(app):
    at = _coordinator(app)
    missing = _frame(at, "round", "panelist", "identity")
    assert len(missing) == 1 and missing["round"].tolist() == [3]
    assert "@" in missing["identity"].iloc[0]
    assert "Round 3: 1 of 15 not responded" in _texts(at)


def test_publish_shows_the_new_snapshot_to_observers(live, demo_tabs):
    new_session, fake = live
    at = _coordinator(new_session())
    assert "Nothing is published yet" in _texts(at)  # a Sheet study's first build is not
    fake.tabs = dict(demo_tabs)  # nine more panelists answer round 3
    at.button(key="co_refresh").click().run()
    assert "Snapshot 2 is not published" in _texts(at)
    assert at.selectbox(key="co_publish_choice").value == 2  # the latest, by default
    check = _frame(at, "round", "verdict").set_index("round")
    # the app built this Sheet study's database itself (its first view), so it cannot know
    # what observers were shown before: its first publication must close the rounds it shows
    assert check.loc[3, "respondents"] == 14
    assert check.loc[3, "verdict"] == "refused: close it (history unknown)"
    at.multiselect(key="co_close_rounds").select(1).select(2).select(3).run()
    check = _frame(at, "round", "verdict").set_index("round")
    assert check.loc[3, "verdict"] == "closes: published as it is"
    at.button(key="co_publish").click().run()
    assert "Snapshot 2 is published" in _texts(at) and "Observers see snapshot 2" in _texts(at)
    assert _frame(at, "snapshot_id", "published")["published"].tolist() == [
        "◀ observers see this",
        "",
    ]
    observer = AppTest.from_file(APP, default_timeout=60)
    observer.secrets["access"] = at.secrets["access"]
    assert _overview_round3(observer.run()) == 14


# --- who may see the page ------------------------------------------------------------------------


def _signed(at: AppTest, role: str | None) -> AppTest:
    at.secrets["access"] = {
        "coordinator_password_hash": hash_password("boss-secret", iterations=1000),
        "committee_password_hash": hash_password("team-secret", iterations=1000),
    }
    if role:
        at.session_state["role"] = role
    return at.run()


@pytest.mark.parametrize("role", [None, "committee"])
def test_coordinator_page_is_unreachable_without_the_coordinator_role(app, role):
    at = _signed(app, role)
    assert not at.exception
    with pytest.raises(ValueError):
        at.switch_page(PAGE)


def test_signed_in_coordinator_reaches_the_page_and_its_nonresponders(app):
    at = _signed(app, "coordinator")
    at.switch_page(PAGE).run()
    assert not at.exception and at.title[0].value == "Coordinator"
    assert "identity" in _frame(at, "round", "panelist", "identity").columns


def test_copied_demo_rule_version_is_flagged_and_results_tab_written_from_the_page(live):
    new_session, fake = live
    at = _coordinator(new_session())
    assert not at.exception
    # the live study is a copy of the demo's file reading another sheet, version and all
    assert any("bundled demo" in w.value for w in at.warning)
    fake.sheet_editor = True  # the coordinator shared the sheet with the service account
    at.button(key="co_results_results").click().run()
    assert not at.exception and "Wrote the 'Results' tab" in _texts(at)
    rows = fake.tabs["Results"]
    assert any("v1, pre-registered 2026-09-01" in str(c) for r in rows for c in r)
    ids = {r[1] for r in rows[6:]}  # aggregates per round and statement, no identity
    assert "S04" in ids and not any("@" in str(c) for r in rows for c in r)
