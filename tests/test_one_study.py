"""One study, one database (issue 13, item 5).

- A database records the study it holds (its source: a sheet's key or a workbook's file name)
  and is refused, by the command line (exit 2, one line naming both studies) and by every page
  of the app (an error, nothing of the other study), to another study's configuration.
- ``DELPHI_STUDY`` without ``DELPHI_DB`` uses the study's own database, the same file for the
  command line and the app; ``python -m lib refresh`` and ``python3 run.py`` honour it.
- A database from before the record belongs to the study of its latest snapshot.
- The validation problems of any snapshot are on the Coordinator page, with a CSV download.

Real DuckDB files throughout; the command line runs as a real process where it is the subject.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import openpyxl
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager

import run
from lib import store
from lib.__main__ import main
from lib.config import load_config
from lib.pipeline import StudyMismatch, refresh
from tests.fake_sheets import DEFAULT_KEY, tabs_from_workbook
from tests.helpers import ROOT, signed_in_app

DEMO = ROOT / "data" / "demo"
DEMO_BOOK = DEMO / "isotretinoin_delphi.xlsx"
DEMO_TITLE = tomllib.loads((DEMO / "study.toml").read_text(encoding="utf-8"))["title"]
OTHER_TITLE = "Laser timing after acne scarring: a Delphi"
COORDINATOR_PAGE = "pages/coordinator.py"
OBSERVER_PAGES = [
    "pages/overview.py",
    "pages/statements.py",
    "pages/trends.py",
    "pages/panel.py",
    "pages/reports.py",
]
ROUND3_KEPT = 5  # answers left in the other study's round 3 (the demo's has 14)


def _study_file(folder: Path, source: str, title: str = OTHER_TITLE, stem: str = "study") -> Path:
    """A copy of the demo's study file with another title and source."""
    text = (DEMO / "study.toml").read_text(encoding="utf-8")
    text = re.sub(r"(?m)^title = .*$", f'title = "{title}"', text)
    text = re.sub(r"(?m)^source = .*$", f'source = "{source}"', text)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stem}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def other_book(tmp_path_factory) -> Path:
    """Another study's workbook: the demo's answers with round 3 cut to ROUND3_KEPT."""
    path = tmp_path_factory.mktemp("other") / "acne_scars.xlsx"
    wb = openpyxl.load_workbook(DEMO_BOOK)
    wb["Round 3"].delete_rows(2 + ROUND3_KEPT, wb["Round 3"].max_row)
    wb.save(path)
    return path


@pytest.fixture
def other_study(tmp_path, other_book) -> Path:
    return _study_file(tmp_path / "other", str(other_book))


@pytest.fixture(scope="module")
def demo_cli_db(tmp_path_factory) -> Path:
    """The demo refreshed and published by the command line."""
    path = tmp_path_factory.mktemp("cli") / "demo.duckdb"
    study = str(DEMO / "study.toml")
    assert main(["refresh", "--study", study, "--db", str(path)]) == 0
    assert main(["publish", "--db", str(path), "--close-round", "1", "2", "3"]) == 0
    return path


def _cli(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``python -m lib ...`` as a process, with ``env`` as its only study settings."""
    unset = {"DELPHI_STUDY", "DELPHI_DB", "DELPHI_GOOGLE_CREDENTIALS"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "-m", "lib", *argv],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def _contents(db: Path) -> tuple:
    """Everything a refused command could have changed."""
    with store.connect(db, read_only=True) as con:
        return tuple(
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("snapshots", "refresh_log", "publications", "settings", "identity_map")
        ) + (store.setting(con, store.STUDY),)


def _snapshot_row(db: Path, sid: int) -> dict:
    with store.connect(db, read_only=True) as con:
        return store.snapshot_info(con, sid)


def _round3_respondents(book: Path) -> int:
    """Distinct e-mail addresses answering round 3, counted in the workbook itself."""
    rows = openpyxl.load_workbook(book, read_only=True)["Round 3"].iter_rows(values_only=True)
    next(rows)
    return len({str(r[1]).strip().lower() for r in rows if r[1]})


def _file_state(path: Path) -> tuple | None:
    return (path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else None


def _error_text(at) -> str:
    """The page's error messages with markdown escapes and word joiners removed."""
    return "\n".join(e.value for e in at.error).replace("\\", "").replace("\u2060", "")


# --- another study's configuration is refused ----------------------------------------------------

COMMANDS = {
    "refresh": ["refresh"],
    "export": ["export", "--latest", "--out", "{out}"],
    "report": ["report", "--format", "html", "--latest", "--out", "{out}"],
    "publish": ["publish", "--close-round", "1", "2", "3"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_cli_refuses_another_studys_database_naming_both(
    command, demo_cli_db, other_study, tmp_path
):
    db, out = tmp_path / "demo.duckdb", tmp_path / "out.file"
    shutil.copy(demo_cli_db, db)
    before = _contents(db)
    argv = [a.replace("{out}", str(out)) for a in COMMANDS[command]]
    res = _cli(*argv, "--db", str(db), env={"DELPHI_STUDY": str(other_study)})
    assert res.returncode == 2, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert f'"{DEMO_TITLE}"' in lines[0] and f'"{OTHER_TITLE}"' in lines[0]
    assert "DELPHI_DB" in lines[0] and "DELPHI_STUDY" in lines[0]  # what to set
    assert _contents(db) == before and not out.exists()


@pytest.mark.parametrize("role", ["coordinator", "committee", None])
def test_app_refuses_another_studys_database_on_every_page(role, demo_db, other_study, monkeypatch):
    monkeypatch.setenv("DELPHI_STUDY", str(other_study))
    monkeypatch.setenv("DELPHI_DB", str(demo_db))
    before = _contents(demo_db)
    at = signed_in_app(role).run()
    pages = OBSERVER_PAGES + ([COORDINATOR_PAGE] if role == "coordinator" else [])
    statements = {
        str(r[3])
        for r in openpyxl.load_workbook(DEMO_BOOK, read_only=True)["Statements"].iter_rows(
            min_row=2, values_only=True
        )
    }
    for page in pages:
        at.switch_page(page).run()
        assert not at.exception, page
        errors = _error_text(at)
        assert "This database belongs to another study" in errors, page
        assert DEMO_TITLE in errors and OTHER_TITLE in errors and "DELPHI_DB" in errors
        # fail closed: no table, chart, figure or snapshot picker of the other study
        assert not at.dataframe and not at.metric and not at.get("plotly_chart"), page
        assert not [s for s in at.selectbox if s.key == "view_snapshot"], page
        shown = "\n".join(str(m.value) for m in [*at.markdown, *at.caption, *at.title])
        assert not [s for s in statements if s[:60] in shown], page
    assert _contents(demo_db) == before


# --- the study's own database, and the command line honouring DELPHI_STUDY -----------------------


def test_refresh_honours_delphi_study(other_study, other_book, tmp_path):
    db = tmp_path / "other.duckdb"
    res = _cli("refresh", env={"DELPHI_STUDY": str(other_study), "DELPHI_DB": str(db)})
    assert res.returncode == 0, res.stderr
    row = _snapshot_row(db, 1)
    assert row["study_title"] == OTHER_TITLE and Path(row["source"]).name == other_book.name
    with store.connect(db, read_only=True) as con:
        rates = store.response_rates(con, 1).set_index("round")
    assert rates.loc[3, "responded"] == _round3_respondents(other_book) == ROUND3_KEPT


@pytest.fixture
def own_study(tmp_path, other_book):
    """A study file whose stem no other test uses; its default database (under data/studies/)
    is removed afterwards."""
    stem = f"zz-test-one-study-{uuid.uuid4().hex[:8]}"
    study = _study_file(tmp_path / "studies", str(other_book), stem=stem)
    own = ROOT / "data" / "studies" / f"{stem}.duckdb"
    existed = own.parent.exists()
    yield study, own
    for path in own.parent.glob(f"{stem}.*"):
        path.unlink()
    if not existed:
        shutil.rmtree(own.parent, ignore_errors=True)


def test_delphi_study_without_delphi_db_uses_the_studys_own_database(own_study, monkeypatch):
    study, own = own_study
    demo_default = ROOT / "data" / "delphi.duckdb"
    before = _file_state(demo_default)
    res = _cli("refresh", env={"DELPHI_STUDY": str(study)})
    assert res.returncode == 0, res.stderr
    assert own.exists() and _snapshot_row(own, 1)["study_title"] == OTHER_TITLE
    assert _file_state(demo_default) == before  # the demo's database is left alone
    # the app, with the same settings, reads that very file: the other study's round 3
    monkeypatch.setenv("DELPHI_STUDY", str(study))
    monkeypatch.delenv("DELPHI_DB", raising=False)
    at = signed_in_app("coordinator").run()
    assert not at.exception and not at.error
    rates = next(d.value for d in at.dataframe if {"round", "responded"} <= set(d.value.columns))
    assert int(rates.set_index("round").loc[3, "responded"]) == ROUND3_KEPT
    at.switch_page(COORDINATOR_PAGE).run()
    log = next(d.value for d in at.dataframe if {"attempted_at", "outcome"} <= set(d.value.columns))
    assert log["outcome"].tolist() == ["new"]  # the command line's refresh; the app built nothing
    assert _file_state(demo_default) == before
    assert run.served_study({"DELPHI_STUDY": str(study)}) == (str(study), str(own))


# --- the study's identity: its source ---------------------------------------------------------


def test_editing_the_title_or_moving_the_workbook_keeps_the_database(tmp_path, other_book):
    db = tmp_path / "study.duckdb"
    first = load_config(_study_file(tmp_path / "a", str(other_book)))
    assert refresh(first, db).snapshot_id == 1
    moved = tmp_path / "moved" / other_book.name
    moved.parent.mkdir()
    shutil.copy(other_book, moved)
    renamed = load_config(_study_file(tmp_path / "b", str(moved), title="Acne scars, renamed"))
    assert refresh(renamed, db).outcome == "new"  # the configuration changed: a new snapshot
    with store.connect(db, read_only=True) as con:
        assert store.study_record(con) == {"source": str(moved), "title": "Acne scars, renamed"}


def test_reading_another_copy_with_source_is_the_same_study(tmp_path, demo_cfg, other_book):
    """``--source`` (``refresh(source=...)``) reads another copy of the configured study — a
    downloaded workbook of another name — into the same database; the record keeps the
    study's configured source, so the next plain refresh is not refused."""
    db = tmp_path / "demo.duckdb"
    copy = tmp_path / "downloaded copy.xlsx"
    shutil.copy(DEMO_BOOK, copy)
    assert refresh(demo_cfg, db, source=str(copy)).snapshot_id == 1
    with store.connect(db, read_only=True) as con:
        assert store.study_record(con)["source"] == demo_cfg.source
    assert refresh(demo_cfg, db).outcome == "no_change"
    other = load_config(_study_file(tmp_path / "other", str(other_book)))
    with pytest.raises(StudyMismatch):  # the configuration decides, not the copy read
        refresh(other, db, source=str(copy))


def test_a_sheets_address_and_its_key_are_one_study_another_sheet_is_not(
    fake_sheets, rsa_service_account, tmp_path, monkeypatch
):
    monkeypatch.setenv("DELPHI_SHEETS_API_BASE", fake_sheets.url)
    fake_sheets.tabs = tabs_from_workbook(DEMO_BOOK)
    google = {"credentials_info": rsa_service_account}
    db = tmp_path / "sheet.duckdb"
    url = f"https://docs.google.com/spreadsheets/d/{DEFAULT_KEY}/edit#gid=0"
    by_url = load_config(_study_file(tmp_path / "url", url))
    by_key = load_config(_study_file(tmp_path / "key", DEFAULT_KEY, title="Same sheet"))
    assert refresh(by_url, db, google=google).snapshot_id == 1
    assert refresh(by_key, db, google=google).snapshot_id == 2
    requests = fake_sheets.count()
    other = load_config(_study_file(tmp_path / "x", "1AnotherSheetKey_abcdefghijklmnop"))
    with pytest.raises(StudyMismatch, match="Same sheet"):
        refresh(other, db, google=google)
    assert fake_sheets.count() == requests  # refused before the sheet is read


def test_a_database_without_a_record_belongs_to_its_latest_snapshots_study(
    tmp_path, demo_cfg, other_book
):
    """A file from before the record: its first snapshot from the other study (as the old
    ``refresh`` with DELPHI_STUDY set could leave it), its latest from the demo."""
    db = tmp_path / "old.duckdb"
    cut = openpyxl.load_workbook(DEMO_BOOK)
    cut["Round 3"].delete_rows(10, 20)
    cut.save(tmp_path / "isotretinoin_delphi.xlsx")
    earlier = load_config(_study_file(tmp_path / "cut", str(tmp_path / "isotretinoin_delphi.xlsx")))
    refresh(earlier, db)
    refresh(demo_cfg, db)
    with store.connect(db) as con:
        con.execute("DELETE FROM settings WHERE key = ?", [store.STUDY])
        con.execute(
            "UPDATE snapshots SET source = ?, study_title = ? WHERE snapshot_id = 1",
            [str(other_book), OTHER_TITLE],
        )
    before = _contents(db)
    other = load_config(_study_file(tmp_path / "other", str(other_book)))
    with pytest.raises(StudyMismatch) as refused:
        refresh(other, db)
    assert DEMO_TITLE in str(refused.value) and OTHER_TITLE in str(refused.value)
    assert _contents(db) == before  # never silently the configured study: no record written
    assert refresh(demo_cfg, db).outcome == "no_change"
    with store.connect(db, read_only=True) as con:
        assert store.setting(con, store.STUDY) == {"source": demo_cfg.source, "title": DEMO_TITLE}


# --- python3 run.py ---------------------------------------------------------------------------


def _run_build(env: dict[str, str]) -> subprocess.CompletedProcess:
    """The build step of ``python3 run.py`` (run.build) as run.py runs it, in .venv."""
    unset = {"DELPHI_STUDY", "DELPHI_DB", "DELPHI_GOOGLE_CREDENTIALS"}
    base = {k: v for k, v in os.environ.items() if k not in unset and "GOOGLE" not in k}
    code = "import run, sys; sys.exit(run.build(secrets=run.Path('/nonexistent/secrets.toml')))"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_run_py_builds_the_configured_study_not_the_demo(other_study, tmp_path):
    db = tmp_path / "served.duckdb"
    res = _run_build({"DELPHI_STUDY": str(other_study), "DELPHI_DB": str(db)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert _snapshot_row(db, 1)["study_title"] == OTHER_TITLE
    assert run.served_study({}) == (None, str(ROOT / "data" / "delphi.duckdb"))  # the demo's


def test_run_py_says_why_a_sheet_study_was_not_built_and_serves_anyway(tmp_path):
    study = _study_file(tmp_path, f"https://docs.google.com/spreadsheets/d/{DEFAULT_KEY}/edit")
    db = tmp_path / "sheet.duckdb"
    env = {"DELPHI_STUDY": str(study), "DELPHI_DB": str(db)}
    res = _run_build({**env, "DELPHI_SHEETS_API_BASE": "http://127.0.0.1:9"})
    assert res.returncode == run.NOT_BUILT, res.stdout + res.stderr
    assert f"The database {db} could not be built" in res.stdout
    assert "credentials" in res.stdout.lower()


# --- validation problems of any snapshot on the Coordinator page --------------------------------


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """file name -> the data Streamlit was given for a download button."""
    seen: dict = {}
    add = MediaFileManager.add

    def spy(self, data, mimetype, coordinates, file_name=None, **kw):
        seen[file_name] = data
        return add(self, data, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add", spy)
    return seen


def _duplicate_rows(book: Path, tab: str) -> set[int]:
    """Sheet rows of a tab whose e-mail address is submitted again further down (the earlier
    submission is left out), found by reading the workbook."""
    rows = list(openpyxl.load_workbook(book, read_only=True)[tab].iter_rows(values_only=True))
    emails = [str(r[1]).strip().lower() for r in rows[1:]]
    return {i + 2 for i, e in enumerate(emails) if e in emails[i + 1 :]}


def test_problems_of_an_older_snapshot_are_shown_in_a_fresh_session(
    tmp_path, monkeypatch, downloads
):
    book = tmp_path / "responses.xlsx"
    wb = openpyxl.load_workbook(DEMO_BOOK)
    wb["Round 2"]["C3"] = "Quite a lot"  # no such label on the scale
    wb.save(book)
    study = _study_file(tmp_path, str(book))
    db = tmp_path / "study.duckdb"
    assert main(["refresh", "--study", str(study), "--db", str(db)]) == 0  # snapshot 1
    shutil.copy(DEMO_BOOK, book)  # the coordinator fixes the cell
    assert main(["refresh", "--study", str(study), "--db", str(db)]) == 0  # snapshot 2
    duplicates = {("Round 1", r, "B") for r in _duplicate_rows(DEMO_BOOK, "Round 1")}
    assert duplicates  # the demo has one (data/demo/generate.py)

    monkeypatch.setenv("DELPHI_STUDY", str(study))
    monkeypatch.setenv("DELPHI_DB", str(db))
    at = signed_in_app("coordinator").run()  # a new session: no refresh ran in it
    at.switch_page(COORDINATOR_PAGE).run()
    assert not at.exception
    columns = ["tab", "row", "column", "header", "kind", "message"]
    table = lambda: next(d.value for d in at.dataframe if list(d.value.columns) == columns)  # noqa: E731
    cells = lambda frame: {(r.tab, int(r.row), r.column) for r in frame.itertuples()}  # noqa: E731
    assert cells(table()) == duplicates  # the latest snapshot, by default
    at.selectbox(key="co_problems_snapshot").set_value(1).run()
    older = table()
    assert cells(older) == duplicates | {("Round 2", 3, "C")}
    label = older[older["row"] == 3].iloc[0]
    assert "Quite a lot" in label["message"] and label["header"] == wb["Round 2"]["C1"].value
    data = downloads["problems_snapshot_1.csv"]
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [list(r) for r in rows[:1]] == [columns]
    assert {(r["tab"], int(r["row"]), r["column"]) for r in rows} == cells(older)
    assert {r["message"] for r in rows} == set(older["message"])
