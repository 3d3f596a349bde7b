"""The command line end to end: refresh, export, report, and how each one fails.

Most tests call ``lib.__main__.main`` in-process (fast); two run ``python -m lib`` as a real
process to check the entry point and its exit status.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from lib import store
from lib.__main__ import main
from tests.helpers import RESULT_HEAD, SHEETS, Page

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """A database built by the CLI's own refresh of the bundled demo, published as the
    coordinator would at the close of round 3."""
    path = tmp_path_factory.mktemp("cli") / "demo.duckdb"
    assert main(["refresh", "--db", str(path)]) == 0
    assert main(["publish", "--db", str(path), "--close-round", "1", "2", "3"]) == 0
    return path


@pytest.fixture(scope="module")
def metrics(db):
    with store.connect(db) as con:
        return store.metrics_for(con, store.current_snapshot_id(con))


def _fails(capsys, argv: list[str], status: int = 1) -> str:
    """Run a command that must fail; return its one-line reason."""
    assert main(argv) == status
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    return err


def test_refresh_reports_what_it_stored(tmp_path, capsys):
    assert main(["refresh", "--db", str(tmp_path / "x.duckdb")]) == 0
    out = capsys.readouterr().out
    # demo: 3 rounds, 15 of 15 invited responded at least once (data/demo/generate.py)
    assert out.startswith("Snapshot 1 stored") and "3 rounds, 15 respondents of 15 invited" in out


def test_refresh_counts_one_problem_in_the_singular(tmp_path, capsys):
    path = tmp_path / "x.duckdb"
    assert main(["refresh", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    with store.connect(path) as con:
        (n,) = con.execute("SELECT n_problems FROM snapshots").fetchone()
    assert n == 1  # the demo's one validation problem (data/demo/generate.py)
    assert out.splitlines()[0].endswith(", 1 problem.") and "1 problems" not in out


def test_refresh_again_says_no_change(db, capsys):
    assert main(["refresh", "--db", str(db)]) == 0
    assert capsys.readouterr().out.startswith("No change: the source matches snapshot 1")


def test_export_csv_has_every_round(db, metrics, tmp_path):
    out = tmp_path / "m.csv"
    assert main(["export", "--db", str(db), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(rows) == len(metrics) and {r["round"] for r in rows} == {"1", "2", "3"}
    ref = {(r.round, r.statement_id): r for r in metrics.itertuples()}
    for r in rows:
        m = ref[(int(r["round"]), r["statement_id"])]
        assert float(r["pct_agree"]) == pytest.approx(m.pct_agree) and r["status"] == m.status


def test_export_csv_of_one_round(db, metrics, tmp_path, capsys):
    out = tmp_path / "r2.csv"
    assert main(["export", "--db", str(db), "--round", "2", "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["round"] for r in rows} == {"2"}
    assert len(rows) == int((metrics["round"] == 2).sum()) == 19
    assert "Wrote 19 rows of snapshot 1" in capsys.readouterr().out


def test_report_html(db, metrics, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["report", "--format", "html", "--db", str(db), "--out", str(out)]) == 0
    page = Page(out.read_text(encoding="utf-8"))
    tables = page.table(RESULT_HEAD)
    assert [len(t) for t in tables] == metrics.groupby("round").size().tolist()
    assert "Snapshot 1 of" in page.text
    assert "Wrote the HTML report of snapshot 1" in capsys.readouterr().out


def test_report_xlsx(db, metrics, tmp_path):
    out = tmp_path / "report.xlsx"
    assert main(["report", "--format", "xlsx", "--db", str(db), "--out", str(out)]) == 0
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == SHEETS
    assert wb["Metrics per round"].max_row == len(metrics) + 1


def test_report_with_edited_narrative(db, tmp_path):
    text, out = tmp_path / "methods.txt", tmp_path / "report.html"
    text.write_text("Edited by the coordinator.", encoding="utf-8")
    argv = [
        "report",
        "--format",
        "html",
        "--db",
        str(db),
        "--narrative",
        str(text),
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert "Edited by the coordinator." in Page(out.read_text(encoding="utf-8")).text


def test_export_of_a_missing_round_fails(db, tmp_path, capsys):
    err = _fails(
        capsys, ["export", "--db", str(db), "--round", "9", "--out", str(tmp_path / "x.csv")]
    )
    assert "round 9 is not in snapshot 1 (rounds: 1, 2, 3)" in err


@pytest.mark.parametrize("command", [["export"], ["report", "--format", "html"]])
def test_missing_database_fails_and_creates_nothing(tmp_path, capsys, command):
    missing = tmp_path / "none.duckdb"
    err = _fails(capsys, [*command, "--db", str(missing), "--out", str(tmp_path / "x")])
    assert "not found" in err and not missing.exists()


def test_report_of_an_unknown_snapshot_fails(db, tmp_path, capsys):
    err = _fails(
        capsys,
        [
            "report",
            "--format",
            "xlsx",
            "--db",
            str(db),
            "--snapshot",
            "42",
            "--out",
            str(tmp_path / "x.xlsx"),
        ],
    )
    assert "Snapshot 42 does not exist" in err


def test_report_with_a_bad_study_file_fails_as_configuration(db, tmp_path, capsys):
    err = _fails(
        capsys,
        [
            "report",
            "--format",
            "html",
            "--db",
            str(db),
            "--study",
            str(tmp_path / "nope.toml"),
            "--out",
            str(tmp_path / "x"),
        ],
        status=2,
    )
    assert "Study configuration not found" in err


def test_report_into_a_missing_folder_fails(db, tmp_path, capsys):
    _fails(
        capsys,
        [
            "report",
            "--format",
            "html",
            "--db",
            str(db),
            "--out",
            str(tmp_path / "no" / "such" / "dir" / "r.html"),
        ],
    )


def test_python_dash_m_lib_writes_a_report(db, tmp_path):
    out = tmp_path / "r.xlsx"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "lib",
            "report",
            "--format",
            "xlsx",
            "--db",
            str(db),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert openpyxl.load_workbook(io.BytesIO(out.read_bytes())).sheetnames == SHEETS


def test_python_dash_m_lib_failure_exits_non_zero(tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "lib",
            "export",
            "--db",
            str(tmp_path / "none.duckdb"),
            "--out",
            str(tmp_path / "x.csv"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f"error: database {tmp_path / 'none.duckdb'} not found; run 'python -m lib refresh'"
    ]


@pytest.mark.parametrize("command", [["export"], ["report", "--format", "html"]])
def test_an_unpublished_snapshot_leaves_only_when_named(tmp_path, capsys, command):
    """A file a cron job writes may be shared: by default only the published snapshot leaves
    the database (an unpublished one compared with it would reveal late answers)."""
    db, out = tmp_path / "new.duckdb", tmp_path / "x"
    assert main(["refresh", "--db", str(db)]) == 0
    err = _fails(capsys, [*command, "--db", str(db), "--out", str(out)])
    assert "no snapshot is published yet" in err and not out.exists()
    assert main([*command, "--db", str(db), "--latest", "--out", str(out)]) == 0
    assert out.exists()


def test_report_leaves_comments_out_unless_asked(db, tmp_path):
    # the demo study keeps privacy.observer_comments off (data/demo/study.toml)
    plain, full = tmp_path / "plain.html", tmp_path / "full.html"
    base = ["report", "--format", "html", "--db", str(db)]
    assert main([*base, "--out", str(plain)]) == 0
    assert main([*base, "--with-comments", "--out", str(full)]) == 0
    count = lambda f: len(Page(f.read_text(encoding="utf-8")).find("li", "comment"))  # noqa: E731
    assert count(plain) == 0 < count(full)
