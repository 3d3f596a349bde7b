"""AppTest: sheet text (headers, tab names, statement texts, domains) is shown literally on every
page and in every message, and observers read no server file path (issue 12, item 5).

The hostile texts are ``tests.untrusted.PAYLOADS``: a markdown image pointing at a pixel, a
link, an HTML tag, a bare URL, ``www.`` and an e-mail address.  What Streamlit's markdown would
make of each string is modelled by ``markdown_links`` (tests/browser checks the real browser).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.fake_sheets import DEFAULT_KEY, generate_service_account
from tests.helpers import ROOT, signed_in_app
from tests.untrusted import (
    PAYLOADS,
    hostile_tabs,
    markdown_links,
    markdown_strings,
    markdown_text,
    write_study,
)

APP = str(ROOT / "app.py")
PAGES = [
    "pages/overview.py",
    "pages/statements.py",
    "pages/trends.py",
    "pages/panel.py",
    "pages/reports.py",
    "pages/next_round.py",
    "pages/coordinator.py",
]


def _session(monkeypatch, study: Path, db: Path, role: str | None = None) -> AppTest:
    """A fresh visitor (observer, or signed in as ``role``) of ``study`` on database ``db``."""
    monkeypatch.setenv("DELPHI_STUDY", str(study))
    monkeypatch.setenv("DELPHI_DB", str(db))
    return signed_in_app(role)


def _assert_inert(at: AppTest, where: str) -> None:
    """No markdown-rendered string of the run links, embeds or loads anything; no chart spec
    holds raw HTML from the sheet."""
    for kind, text in markdown_strings(at):
        assert not markdown_links(text), f"{where}: {kind} {text[:200]!r}: {markdown_links(text)}"
    for chart in at.get("plotly_chart"):
        spec = chart.proto.spec
        assert "<img" not in spec and "<a " not in spec, f"{where}: raw HTML in a chart"


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


# --- the first-build error path on a restarted host -------------------------------------------


def test_first_build_error_quotes_hostile_headers_literally(tmp_path, monkeypatch):
    tabs = hostile_tabs()
    tabs["Round 1"][0][1] = "E-mail"  # no identity column: the error lists every header
    study = write_study(tmp_path / "study", tabs)
    at = _session(monkeypatch, study, tmp_path / "data" / "delphi.duckdb").run()
    assert not at.exception
    error = next(e for e in _errors(at) if "identity column" in e)
    assert not markdown_links(error), markdown_links(error)
    assert all(p in markdown_text(error) for p in PAYLOADS[:2])
    _assert_inert(at, "first build")


def test_first_build_error_names_no_server_path_for_observers(tmp_path, monkeypatch):
    study = write_study(tmp_path / "srv" / "studies", {}, source="gone/missing.xlsx")
    db = tmp_path / "data" / "delphi.duckdb"
    observer = _session(monkeypatch, study, db).run()
    error = next(e for e in _errors(observer) if "not available" in e)
    assert "missing.xlsx" in markdown_text(error)
    assert str(tmp_path) not in markdown_text(error) and "srv" not in error
    coordinator = _session(monkeypatch, study, tmp_path / "data" / "other.duckdb", "coordinator")
    text = markdown_text(next(e for e in _errors(coordinator.run()) if "not available" in e))
    assert str(tmp_path / "srv" / "studies" / "gone" / "missing.xlsx") in text


def test_hostile_tab_names_of_a_google_sheet_are_shown_literally(
    fake_sheets, rsa_private_key, tmp_path, monkeypatch
):
    """Google Sheets allows any tab name; a missing round tab lists the sheet's tabs."""
    fake_sheets.tabs = {p: [["a"], ["b"]] for p in PAYLOADS}
    monkeypatch.setenv("DELPHI_SHEETS_API_BASE", fake_sheets.url)
    study = write_study(tmp_path / "study", {}, source=DEFAULT_KEY)
    at = _session(monkeypatch, study, tmp_path / "live.duckdb")
    at.secrets["gcp_service_account"] = generate_service_account(
        fake_sheets.token_uri, rsa_private_key
    )[0]
    at.run()
    error = next(e for e in _errors(at) if "not found" in e)
    assert all(p in markdown_text(error) for p in PAYLOADS), error
    assert not markdown_links(error), markdown_links(error)
    _assert_inert(at, "first build from the sheet")


# --- pages and the validation problems table ---------------------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> tuple[Path, Path]:
    """(study.toml, a database with one snapshot, published) of the hostile study."""
    from lib.config import load_config
    from lib.pipeline import refresh
    from lib.publication import publish

    folder = tmp_path_factory.mktemp("hostile")
    study = write_study(folder, hostile_tabs())
    db = folder / "hostile.duckdb"
    refresh(load_config(study), db)
    publish(db, close_rounds=(1, 2))  # observers see published snapshots only
    return study, db


def _copy(db: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.duckdb"
    target.write_bytes(db.read_bytes())
    return target


def test_validation_problems_table_shows_hostile_headers_literally(tmp_path, monkeypatch):
    from lib.config import load_config
    from lib.pipeline import refresh

    tabs, db = hostile_tabs(), tmp_path / "study.duckdb"
    refresh(load_config(write_study(tmp_path, {**tabs, "Round 2": tabs["Round 2"][:-1]})), db)
    study = write_study(tmp_path, tabs)  # one more answer since: the refresh stores a snapshot
    at = _session(monkeypatch, study, db, "coordinator").run()
    at.switch_page("pages/coordinator.py").run()
    at.button(key="co_refresh").click().run()
    assert not at.exception
    problems = next(d.value for d in at.dataframe if "header" in d.value.columns)
    unmatched = problems[problems["kind"] == "question not matched"]
    assert list(unmatched["header"]) == PAYLOADS[:2] and list(unmatched["row"]) == [1, 1]
    _assert_inert(at, "coordinator after refresh")


@pytest.mark.parametrize("role", ["observer", "committee", "coordinator"])
def test_every_page_shows_hostile_statements_and_domains_literally(
    hostile, role, tmp_path, monkeypatch
):
    study, db = hostile
    at = _session(monkeypatch, study, _copy(db, tmp_path), None if role == "observer" else role)
    at.run()
    seen = ""
    for page in PAGES:
        at.switch_page(page).run()
        if at.error and "coordinator" in at.error[0].value:  # a page above this role
            continue
        assert not at.exception, f"{page}: {at.exception}"
        _assert_inert(at, f"{page} as {role}")
        if page == "pages/statements.py":  # every statement in turn: wording, domain, diff
            for option in at.selectbox(key="st_statement").options:
                at.selectbox(key="st_statement").set_value(option).run()
                _assert_inert(at, f"{option} as {role}")
                seen += "\n".join(markdown_text(t) for _, t in markdown_strings(at))
    assert all(p in seen for p in PAYLOADS), "every payload is shown, as written"
