"""The second bundled demo: a multi-stakeholder core outcome set Delphi (data/demo-cos/).

Its generator is seeded, its workbook refreshes without a problem, the differences between
stakeholder groups it was built to show are in the cells (computed here with pandas from the
workbook, not through the app), patients drop out more, and demo mode applies to its own study
file on its own database only, with the same fail-closed conditions as the first demo.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import openpyxl
import pandas as pd
import pytest
import streamlit.config as st_config
from streamlit.runtime.secrets import secrets_singleton
from streamlit.testing.v1 import AppTest

from lib import store, study_db
from lib.config import load_config
from lib.ingest import ingest
from lib.pipeline import ensure_demo_db
from lib.sources import read_workbook
from tests.test_signin_pages import BOTH, app_py_on_every_run  # noqa: F401 (autouse fixture)

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "data" / "demo-cos"
STUDY = FOLDER / "study.toml"
SHIPPED = FOLDER / "acne_cos_delphi.xlsx"
COORDINATOR_PAGE = "pages/coordinator.py"
GROUP = "Stakeholder group"
PATIENT, DERMATOLOGIST, RESEARCHER = "Patient", "Dermatologist", "Researcher"
Tabs = dict[str, list[list[Any]]]


def _load_generator() -> ModuleType:
    """Import data/demo-cos/generate.py (not a package) as a module."""
    spec = importlib.util.spec_from_file_location("demo_cos_generate", FOLDER / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _read(path: Path) -> Tabs:
    book = openpyxl.load_workbook(path)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book}


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return _load_generator()


@pytest.fixture(scope="module")
def tabs() -> Tabs:
    return _read(SHIPPED)


@pytest.fixture(scope="module")
def cells(tabs: Tabs) -> pd.DataFrame:
    """Every rating cell of the shipped workbook with its round, outcome, panelist and group:
    columns round, statement_id, email, group, cell, score (1–9; NaN for blank or unable)."""
    statements = pd.DataFrame(tabs["Statements"][1:], columns=tabs["Statements"][0])
    panel = pd.DataFrame(tabs["Panel"][1:], columns=tabs["Panel"][0])
    groups = dict(zip(panel["Email Address"].str.casefold(), panel[GROUP], strict=True))
    rows = []
    for rnd in (1, 2, 3):
        header, *body = tabs[f"Round {rnd}"]
        of_round = statements[statements["round"] == rnd]
        by_text = dict(zip(of_round["text"], of_round["statement_id"], strict=True))
        for j, title in enumerate(header):
            text = title.split(" [", 1)[1][:-1] if rnd == 1 and " [" in title else title
            if text in by_text:
                rows += [(rnd, by_text[text], str(r[1]).strip().casefold(), r[j]) for r in body]
    df = pd.DataFrame(rows, columns=["round", "statement_id", "email", "cell"])
    df["group"] = df["email"].map(groups)
    # "1 - Not important", 2 … 8, "9 - Critical": the number before " - "; "Unable to score" NaN
    df["score"] = pd.to_numeric(df["cell"].astype(str).str.split(" - ").str[0], errors="coerce")
    return df


@pytest.fixture
def secrets(tmp_path, monkeypatch):
    """The only secrets file Streamlit reads this test, not yet written (as in
    tests/test_signin_pages.py: a real file read through ``secrets.files``)."""
    path = tmp_path / "dot-streamlit" / "secrets.toml"
    path.parent.mkdir()
    before = st_config.get_option("secrets.files")
    st_config.set_option("secrets.files", [str(path)])
    monkeypatch.setattr(secrets_singleton, "_file_watchers_installed", True)  # no poll thread
    secrets_singleton._reset()
    yield path
    secrets_singleton._reset()
    st_config.set_option("secrets.files", before)


@pytest.fixture(scope="module")
def cos_db_master(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cos") / "cos.duckdb"
    ensure_demo_db(load_config(STUDY), path)
    return path


@pytest.fixture
def cos_db(cos_db_master, tmp_path) -> Path:
    path = tmp_path / "cos.duckdb"
    shutil.copy(cos_db_master, path)
    return path


# --- the generator --------------------------------------------------------------------------------


def test_generator_is_deterministic(gen: ModuleType) -> None:
    assert gen.generate() == gen.generate()
    assert gen.generate(seed=1) != gen.generate()


def test_shipped_workbook_is_what_the_generator_writes(gen: ModuleType, tmp_path: Path) -> None:
    assert SHIPPED.exists(), "run: python data/demo-cos/generate.py"
    assert _read(SHIPPED) == gen.generate()
    gen.build_workbook(tmp_path / "again.xlsx")
    assert _read(tmp_path / "again.xlsx") == _read(SHIPPED)


def test_generator_runs_as_a_script_beside_the_shared_layout(
    gen: ModuleType, tmp_path: Path
) -> None:
    # As a script the generator finds data/forms_layout.py through its own path, whatever the
    # working folder; run a copy (it writes its workbook next to itself, not over the shipped one).
    script = tmp_path / "data" / "demo-cos" / "generate.py"
    script.parent.mkdir(parents=True)
    shutil.copy(FOLDER / "generate.py", script)
    shutil.copy(ROOT / "data" / "forms_layout.py", tmp_path / "data")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    written = script.with_name(SHIPPED.name)
    assert done.stdout == f"Wrote {written}\n{gen.summarise(gen.generate())}\n"
    assert _read(written) == _read(SHIPPED)


def test_panel_of_three_stakeholder_groups(tabs: Tabs) -> None:
    header, *rows = tabs["Panel"]
    assert header == ["Email Address", "Name", GROUP, "Country", "Years of experience"]
    sizes = pd.Series([r[2] for r in rows]).value_counts().to_dict()
    assert sizes == {PATIENT: 16, DERMATOLOGIST: 16, RESEARCHER: 8}
    assert all((r[4] is None) == (r[2] == PATIENT) for r in rows)  # years: professionals only


def test_cells_are_the_nine_point_scale_as_forms_writes_it(cells: pd.DataFrame) -> None:
    written = set(cells["cell"].dropna())
    assert written == {"1 - Not important", *range(2, 9), "9 - Critical", "Unable to score"}
    assert cells["score"].dropna().between(1, 9).all()


# --- the app reads it -----------------------------------------------------------------------------


def test_workbook_refreshes_with_no_problems(cos_db: Path) -> None:
    cfg = load_config(STUDY)
    assert ingest(read_workbook(cfg.source), cfg).problems.empty
    with store.connect(cos_db, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM problems").fetchone() == (0,)
        assert store.snapshot_sources(con) == [str(SHIPPED)]


def test_study_file_asks_for_70_15_in_every_group() -> None:
    cfg = load_config(STUDY)
    assert (cfg.scale.min, cfg.scale.max, cfg.rule.name) == (1, 9, "comet_70_15")
    assert cfg.panel_attributes == ("Stakeholder group", "Country")
    assert cfg.groups is not None
    assert (cfg.groups.attribute, cfg.groups.consensus) == (GROUP, "every_group")


def test_stored_verdict_is_70_15_in_every_group(cells: pd.DataFrame, cos_db: Path) -> None:
    """Consensus in (out) where every group has ≥ 70% at 7–9 (1–3) and < 15% at 1–3 (7–9)."""
    valid = cells.dropna(subset=["score"])
    share = valid.assign(hi=valid["score"] >= 7, lo=valid["score"] <= 3)
    share = share.groupby(["round", "statement_id", "group"])[["hi", "lo"]].mean()
    ins = (share["hi"] >= 0.7) & (share["lo"] < 0.15)
    outs = (share["lo"] >= 0.7) & (share["hi"] < 0.15)
    every = pd.DataFrame({"in": ins, "out": outs}).groupby(level=[0, 1]).all()
    expected = {k: "consensus_in" for k in every.index[every["in"]]}
    expected |= {k: "consensus_out" for k in every.index[every["out"]]}
    with store.connect(cos_db, read_only=True) as con:
        stored = con.execute("SELECT round, statement_id, status FROM metrics").fetchall()
    reached = {(r, s): status for r, s, status in stored if status != "no_consensus"}
    assert reached == expected and len(expected) >= 10


def test_outcomes_settled_in_every_group_leave_the_questionnaire(cells: pd.DataFrame) -> None:
    asked = cells.groupby("round")["statement_id"].agg(set)
    assert len(asked[1]) == 36 and len(asked[2]) < len(asked[1]) and len(asked[3]) < len(asked[2])


# --- the differences between groups ---------------------------------------------------------------


def _pct_agree(cells: pd.DataFrame) -> pd.DataFrame:
    """% of valid ratings at 7–9 per round, outcome (rows) and group (columns)."""
    valid = cells.dropna(subset=["score"])
    agree = valid.assign(agree=valid["score"] >= 7)
    return 100 * agree.groupby(["round", "statement_id", "group"])["agree"].mean().unstack()


def test_discordant_outcomes_differ_by_at_least_20_points(gen, cells: pd.DataFrame) -> None:
    pct = _pct_agree(cells)
    discordant = pct[pct.index.get_level_values("statement_id").isin(gen.DISCORDANT)]
    assert len(discordant) >= 2 * len(gen.DISCORDANT)  # rated again in later rounds
    gap = discordant.max(axis=1) - discordant.min(axis=1)
    assert (gap >= 20).all(), gap[gap < 20]


def test_some_outcomes_are_critical_for_patients_and_not_for_dermatologists(cells) -> None:
    first = _pct_agree(cells).loc[1]
    patients_only = first[(first[PATIENT] >= 70) & (first[DERMATOLOGIST] < 50)]
    dermatologists_only = first[(first[DERMATOLOGIST] >= 70) & (first[PATIENT] < 50)]
    assert len(patients_only) >= 3 and len(dermatologists_only) >= 3


def test_each_group_values_its_own_domain_and_researchers_sit_between(tabs, cells) -> None:
    statements = pd.DataFrame(tabs["Statements"][1:], columns=tabs["Statements"][0])
    first = cells[cells["round"] == 1].merge(
        statements[statements["round"] == 1][["statement_id", "domain"]], on="statement_id"
    )
    means = first.groupby(["domain", "group"])["score"].mean().unstack()
    for domain, high, low in (
        ("Psychological and social impact", PATIENT, DERMATOLOGIST),
        ("Acne lesions and severity", DERMATOLOGIST, PATIENT),
    ):
        row = means.loc[domain]
        assert row[high] - row[low] > 1 and row[high] > row[RESEARCHER] > row[low], domain


def test_patients_drop_out_more(tabs: Tabs, cells: pd.DataFrame) -> None:
    answered = cells.groupby(["round", "group"])["email"].nunique().unstack()
    invited = pd.Series([r[2] for r in tabs["Panel"][1:]]).value_counts()
    lost = 1 - answered.loc[3] / answered.loc[1]
    assert lost[PATIENT] > 0.25 and lost[PATIENT] > 2 * lost.drop(PATIENT).max()
    assert (answered.loc[3] / invited)[PATIENT] < (answered.loc[3] / invited).drop(PATIENT).min()
    assert (answered.diff().dropna() <= 0).all().all()  # nobody comes back


# --- a bundled demo: its database, run.py, demo mode ----------------------------------------------


def test_its_database_is_its_own_and_git_ignored() -> None:
    db = study_db.default_db(STUDY)
    assert db == ROOT / "data" / "demo-cos.duckdb" != study_db.default_db(None)
    assert "data/*.duckdb" in (ROOT / ".gitignore").read_text().splitlines()
    assert study_db.is_demo_study(STUDY) and study_db.is_demo_study(None)
    assert study_db.is_demo_source(STUDY, str(SHIPPED))
    assert not study_db.is_demo_source(None, str(SHIPPED))  # the other demo's workbook
    assert not study_db.is_demo_source(STUDY, "https://docs.google.com/spreadsheets/d/abc/")


def test_it_publishes_itself_with_every_round_closed(cos_db: Path) -> None:
    """As the first demo: a finished, made-up study whose shared link shows the data."""
    with store.connect(cos_db, read_only=True) as con:
        rows = con.execute("SELECT snapshot_id, closed_rounds FROM publications").fetchall()
    assert [(sid, sorted(closed)) for sid, closed in rows] == [(1, [1, 2, 3])]


def test_run_py_builds_and_serves_it(tmp_path: Path) -> None:
    import run

    assert run.served_study({"DELPHI_STUDY": str(STUDY)}) == (
        str(STUDY),
        str(ROOT / "data" / "demo-cos.duckdb"),
    )
    db = tmp_path / "served.duckdb"
    assert run.build({"DELPHI_STUDY": str(STUDY), "DELPHI_DB": str(db)}, tmp_path / "none") == 0
    with store.connect(db, read_only=True) as con:
        assert store.latest_snapshot_id(con) == 1


def _app(monkeypatch, study: Path, db: Path) -> AppTest:
    monkeypatch.setenv("DELPHI_STUDY", str(study))
    monkeypatch.setenv("DELPHI_DB", str(db))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()


def _offered(at: AppTest, page: str) -> bool:
    try:
        at.switch_page(page)
    except ValueError:  # not in this run's st.navigation
        return False
    return True


def _demo_mode(at: AppTest) -> bool:
    return any("Demo mode" in w.value for w in at.warning)


def test_demo_mode_for_its_own_study_file_without_secrets(secrets, cos_db, monkeypatch):
    at = _app(monkeypatch, STUDY, cos_db)
    assert not at.exception and _demo_mode(at) and _offered(at, COORDINATOR_PAGE)
    assert any("Core outcome set for adult acne trials" in t.value for t in at.title)


PAGES = ("overview", "statements", "trends", "panel", "reports", "next_round", "coordinator")


def test_every_page_renders_it(secrets, cos_db, monkeypatch):
    at = _app(monkeypatch, STUDY, cos_db)
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception and not at.error, page


def test_a_copy_of_its_study_file_is_not_demo_mode(secrets, cos_db, tmp_path, monkeypatch):
    copy = tmp_path / "copy"
    shutil.copytree(FOLDER, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    at = _app(monkeypatch, copy / "study.toml", cos_db)
    assert not at.exception and not _demo_mode(at) and not _offered(at, COORDINATOR_PAGE)


def test_not_demo_mode_on_the_other_demos_database(secrets, demo_db, monkeypatch):
    """Its study file on a database holding the first demo's snapshots: refused, and closed."""
    at = _app(monkeypatch, STUDY, demo_db)
    assert not at.exception and not _demo_mode(at) and not _offered(at, COORDINATOR_PAGE)


@pytest.mark.parametrize("own_workbook", [True, False])
def test_demo_mode_needs_the_demos_own_workbook(own_workbook, secrets, tmp_path, monkeypatch):
    """A bundled study file edited to read another workbook is a real study, even on a new
    database (where the data cannot decide); reading its own workbook, it is the demo."""
    study = tmp_path / "bundled" / "study.toml"
    study.parent.mkdir()
    other = tmp_path / "elsewhere" / SHIPPED.name
    other.parent.mkdir()
    shutil.copy(SHIPPED, other)
    source = SHIPPED if own_workbook else other
    text = STUDY.read_text(encoding="utf-8")
    study.write_text(text.replace(f'"{SHIPPED.name}"', f'"{source}"'), encoding="utf-8")
    bundled = study_db.BundledDemo(study, SHIPPED, tmp_path / "unused.duckdb")
    monkeypatch.setattr(study_db, "DEMOS", (study_db.DEMOS[0], bundled))
    at = _app(monkeypatch, study, tmp_path / "new.duckdb")
    assert not at.exception
    assert _demo_mode(at) is own_workbook and _offered(at, COORDINATOR_PAGE) is own_workbook


def test_a_secrets_file_means_normal_sign_in(secrets, cos_db, monkeypatch):
    secrets.write_text(BOTH, encoding="utf-8")
    at = _app(monkeypatch, STUDY, cos_db)
    assert not at.exception and not _demo_mode(at) and not _offered(at, COORDINATOR_PAGE)
    assert at.get("popover"), "the sign-in is offered"
