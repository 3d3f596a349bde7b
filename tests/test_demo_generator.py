"""Tests for the synthetic Delphi demo generator (data/demo/generate.py) and its workbook."""

from __future__ import annotations

import importlib.util
import re
import shutil
import statistics
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import openpyxl
import pytest

from tests.helpers import LABELS

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "data" / "demo" / "generate.py"
SHIPPED = ROOT / "data" / "demo" / "isotretinoin_delphi.xlsx"
TABS = ["Round 1", "Round 2", "Round 3", "Statements", "Panel"]
UNABLE = "Unable to judge"
GRID = re.compile(r"^(?P<title>[^\[]+?) \[(?P<text>[^\[\]]+)\]$")
Tabs = dict[str, list[list[Any]]]


def _load_generator() -> ModuleType:
    """Import data/demo/generate.py (not a package) as a module."""
    spec = importlib.util.spec_from_file_location("demo_generate", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _read(path: Path) -> Tabs:
    """Every tab of a workbook as lists of cell values."""
    book = openpyxl.load_workbook(path)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in book}


@pytest.fixture(scope="module")
def gen() -> ModuleType:
    return _load_generator()


@pytest.fixture(scope="module")
def xlsx(gen: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "study.xlsx"
    gen.build_workbook(path)
    return path


@pytest.fixture(scope="module")
def tabs(xlsx: Path) -> Tabs:
    return _read(xlsx)


# --- helpers that read the workbook independently of the generator -------------------------------


def _key(email: Any) -> str:
    return str(email).strip().casefold()


def _statements(tabs: Tabs, rnd: int) -> list[dict[str, Any]]:
    header = tabs["Statements"][0]
    rows = [dict(zip(header, r, strict=True)) for r in tabs["Statements"][1:]]
    return [r for r in rows if r["round"] == rnd]


def _ids(tabs: Tabs, rnd: int) -> list[str]:
    return [s["statement_id"] for s in _statements(tabs, rnd)]


def _rating_columns(tabs: Tabs, rnd: int) -> dict[int, str]:
    """Column index -> statement id, matching headers to Statements texts of that round."""
    by_text = {s["text"]: s["statement_id"] for s in _statements(tabs, rnd)}
    out: dict[int, str] = {}
    for j, header in enumerate(tabs[f"Round {rnd}"][0]):
        grid = GRID.match(header) if rnd == 1 else None
        text = grid.group("text") if grid else header
        if text in by_text:
            out[j] = by_text[text]
    return out


def _final_ratings(tabs: Tabs, rnd: int) -> dict[str, dict[str, Any]]:
    """Identity -> statement id -> cell, keeping each identity's latest submission."""
    cols = _rating_columns(tabs, rnd)
    out: dict[str, dict[str, Any]] = {}
    for row in sorted(tabs[f"Round {rnd}"][1:], key=lambda r: r[0]):
        out[_key(row[1])] = {sid: row[j] for j, sid in cols.items()}
    return out


def _outcomes(tabs: Tabs, rnd: int) -> dict[str, str]:
    """Statement id -> in/out/none by the 75% rule over valid ratings."""
    ratings = _final_ratings(tabs, rnd)
    out = {}
    for sid in _ids(tabs, rnd):
        valid = [LABELS[r[sid]] for r in ratings.values() if r[sid] in LABELS]
        agree = sum(v >= 4 for v in valid) / len(valid)
        disagree = sum(v <= 2 for v in valid) / len(valid)
        out[sid] = "in" if agree >= 0.75 else "out" if disagree >= 0.75 else "none"
    return out


def _rating_cells(tabs: Tabs, rnd: int) -> list[Any]:
    cols = _rating_columns(tabs, rnd)
    return [row[j] for row in tabs[f"Round {rnd}"][1:] for j in cols]


# --- layout --------------------------------------------------------------------------------------


def test_tabs_in_order(xlsx: Path) -> None:
    assert openpyxl.load_workbook(xlsx).sheetnames == TABS


def test_panel(tabs: Tabs) -> None:
    header, *rows = tabs["Panel"]
    assert header == [
        "Email Address",
        "Name",
        "Country",
        "Practice setting",
        "Years in practice",
        "Isotretinoin prescribing volume",
        "Board certified",
        "Low-dose isotretinoin experience",
        "COI disclosed",
        "Can attend every round",
    ]
    assert len(rows) == 15
    assert len({_key(r[0]) for r in rows}) == 15
    assert all(_key(r[0]).endswith(".example") for r in rows)
    assert len({r[2] for r in rows}) >= 6
    assert {r[3] for r in rows} <= {"Private practice", "Academic", "Hospital", "Mixed"}
    assert all(isinstance(r[4], int) and r[4] >= 5 for r in rows)
    assert {r[5] for r in rows} == {"<10 patients/year", "10–50 patients/year", ">50 patients/year"}
    # the eligibility criteria: Yes throughout, but one panelist left "COI disclosed" blank
    criteria = {_key(r[0]): r[6:] for r in rows}
    assert [k for k, v in criteria.items() if v != ["Yes"] * 4] == ["n.elsayed@cairoderm.example"]
    assert criteria["n.elsayed@cairoderm.example"] == ["Yes", "Yes", None, "Yes"]


def test_round_tab_frames(tabs: Tabs) -> None:
    for rnd in (1, 2, 3):
        header = tabs[f"Round {rnd}"][0]
        assert header[:2] == ["Timestamp", "Email Address"]
        assert header[-1] == "Any final remarks?"
        assert sorted(_rating_columns(tabs, rnd).values()) == sorted(_ids(tabs, rnd))


def test_round1_grids_by_domain(tabs: Tabs) -> None:
    header = tabs["Round 1"][0]
    domain = {s["statement_id"]: s["domain"] for s in _statements(tabs, 1)}
    for j, sid in _rating_columns(tabs, 1).items():
        assert GRID.match(header[j]).group("title") == f"{domain[sid]} — rate your agreement"
    assert header.count("Any other comments on this section?") == len(set(domain.values())) == 6
    pattern = re.compile(r"Comment on (S\d\d) \(optional\)")
    named = [m.group(1) for h in header if (m := pattern.fullmatch(h))]
    assert named and set(named) <= set(domain)


def test_later_rounds_one_question_per_statement(tabs: Tabs) -> None:
    for rnd in (2, 3):
        header = tabs[f"Round {rnd}"][0]
        cols = _rating_columns(tabs, rnd)
        assert all(header[j + 1] == "Comments (optional)" for j in cols)
        assert header.count("Comments (optional)") == len(cols)


def test_cells_are_labels_or_empty(tabs: Tabs) -> None:
    for rnd in (1, 2, 3):
        assert set(_rating_cells(tabs, rnd)) <= set(LABELS) | {UNABLE, None}
    for rows in tabs.values():  # unanswered cells are truly empty, never "" or whitespace
        assert not any(isinstance(v, str) and not v.strip() for r in rows for v in r)


def test_timestamps(xlsx: Path, tabs: Tabs) -> None:
    book = openpyxl.load_workbook(xlsx)
    for rnd, month in ((1, 9), (2, 10), (3, 11)):
        stamps = [r[0] for r in tabs[f"Round {rnd}"][1:]]
        assert all(isinstance(t, datetime) and t.tzinfo is None for t in stamps)
        assert all((t.year, t.month, t.microsecond) == (2026, month, 0) for t in stamps)
        assert stamps == sorted(stamps)
        assert (max(stamps) - min(stamps)).days >= 7
        cells = [row[0] for row in book[f"Round {rnd}"].iter_rows(min_row=2, max_col=1)]
        assert {c.number_format for c in cells} == {"dd/mm/yyyy hh:mm:ss"}


# --- statements across rounds --------------------------------------------------------------------


def test_round1_statements(tabs: Tabs) -> None:
    assert _ids(tabs, 1) == [f"S{i:02d}" for i in range(1, 41)]
    domains = [s["domain"] for s in _statements(tabs, 1)]
    assert len(set(domains)) == 6
    assert all(domains.count(d) >= 5 for d in set(domains))
    texts = [s["text"] for r in (1, 2, 3) for s in _statements(tabs, r)]
    assert not any("[" in t or "]" in t for t in texts)


def test_only_unresolved_statements_go_forward(tabs: Tabs) -> None:
    for rnd in (2, 3):
        before = _outcomes(tabs, rnd - 1)
        unresolved = {sid for sid, o in before.items() if o == "none"}
        sources = set()
        for s in _statements(tabs, rnd):
            source = s["revised_from"] or s["statement_id"]
            if source in before:
                assert source in unresolved
                sources.add(source)
            else:
                assert rnd == 2 and s["statement_id"] in {"S41", "S42"}
        assert sources == unresolved


def test_revised_statements_are_linked(tabs: Tabs) -> None:
    for rnd, low, high in ((2, 4, 6), (3, 1, 2)):
        previous = {s["statement_id"]: s["text"] for s in _statements(tabs, rnd - 1)}
        revised = [s for s in _statements(tabs, rnd) if s["revised_from"]]
        assert low <= len(revised) <= high
        for s in revised:
            old, new = s["revised_from"], s["statement_id"]
            assert re.fullmatch(r"S\d\d[a-z]", new) and new[:3] == old[:3] and new > old
            assert s["text"] != previous[old]
        for s in _statements(tabs, rnd):
            if not s["revised_from"] and s["statement_id"] in previous:
                assert s["text"] == previous[s["statement_id"]]


def test_new_statements_in_round2(tabs: Tabs) -> None:
    new = [
        s
        for s in _statements(tabs, 2)
        if s["statement_id"] not in _ids(tabs, 1) and not s["revised_from"]
    ]
    assert [s["statement_id"] for s in new] == ["S41", "S42"]
    assert not [
        s
        for s in _statements(tabs, 3)
        if s["statement_id"] not in _ids(tabs, 2) and not s["revised_from"]
    ]


def test_consensus_profile(tabs: Tabs) -> None:
    first = list(_outcomes(tabs, 1).values())
    assert 0.5 <= (first.count("in") + first.count("out")) / len(first) <= 0.6
    assert first.count("out") >= 2
    final = list(_outcomes(tabs, 3).values())
    assert 3 <= final.count("none") <= 6
    assert final.count("in") >= 3


def test_ratings_converge(tabs: Tabs) -> None:
    """Statements rated in all three rounds spread less in round 3 than in round 1."""
    common = set(_ids(tabs, 1)) & set(_ids(tabs, 2)) & set(_ids(tabs, 3))
    assert len(common) >= 4

    def spread(rnd: int) -> float:
        ratings = _final_ratings(tabs, rnd).values()
        return statistics.mean(
            statistics.pstdev([LABELS[r[s]] for r in ratings if r[s] in LABELS]) for s in common
        )

    assert spread(3) < spread(2) < spread(1)


# --- panel events --------------------------------------------------------------------------------


def test_one_double_submission_in_round1(tabs: Tabs) -> None:
    rows = tabs["Round 1"][1:]
    keys = [_key(r[1]) for r in rows]
    twice = [k for k in set(keys) if keys.count(k) > 1]
    assert len(twice) == 1 and keys.count(twice[0]) == 2
    first, second = (r for r in rows if _key(r[1]) == twice[0])
    assert first[0] < second[0]
    cols = _rating_columns(tabs, 1)
    assert sum(first[j] != second[j] for j in cols) >= 3
    for rnd in (2, 3):
        keys = [_key(r[1]) for r in tabs[f"Round {rnd}"][1:]]
        assert len(keys) == len(set(keys))


def test_one_dropout_after_round2(tabs: Tabs) -> None:
    panel = {_key(r[0]) for r in tabs["Panel"][1:]}
    seen = {rnd: {_key(r[1]) for r in tabs[f"Round {rnd}"][1:]} for rnd in (1, 2, 3)}
    assert seen[1] == seen[2] == panel
    assert seen[3] < panel and len(panel - seen[3]) == 1


def test_email_written_differently_once(tabs: Tabs) -> None:
    panel = {_key(r[0]): r[0] for r in tabs["Panel"][1:]}
    odd = [
        (rnd, r[1])
        for rnd in (1, 2, 3)
        for r in tabs[f"Round {rnd}"][1:]
        if r[1] not in panel.values()
    ]
    assert len(odd) == 1
    rnd, written = odd[0]
    assert _key(written) in panel and written != written.strip()
    assert any(r[1] == panel[_key(written)] for x in (1, 3) for r in tabs[f"Round {x}"][1:])


def test_blanks_and_unable_to_judge(tabs: Tabs) -> None:
    blanks = [_rating_cells(tabs, rnd).count(None) for rnd in (1, 2, 3)]
    assert all(1 <= b <= 4 for b in blanks)
    unable = sum(_rating_cells(tabs, rnd).count(UNABLE) for rnd in (1, 2, 3))
    assert 3 <= unable <= 10


def test_comments_are_sparse_and_present(tabs: Tabs) -> None:
    for rnd in (1, 2, 3):
        header, *rows = tabs[f"Round {rnd}"]
        cols = [j for j, h in enumerate(header) if "omment" in h]
        filled = [row[j] for row in rows for j in cols if row[j] is not None]
        assert filled and all(isinstance(v, str) and v.strip() == v for v in filled)
        assert len(filled) < 0.25 * len(rows) * len(cols)


# --- reproducibility -----------------------------------------------------------------------------


def test_deterministic(gen: ModuleType) -> None:
    assert gen.generate() == gen.generate()
    assert gen.generate(seed=1) != gen.generate()


def test_workbook_round_trips(gen: ModuleType, tabs: Tabs) -> None:
    assert tabs == gen.generate()


def test_shipped_workbook_is_up_to_date(gen: ModuleType) -> None:
    assert SHIPPED.exists(), "run: python data/demo/generate.py"
    assert _read(SHIPPED) == gen.generate()


def test_runs_as_a_script_beside_the_shared_layout(gen: ModuleType, tmp_path: Path) -> None:
    # As a script the generator finds data/forms_layout.py through its own path, whatever the
    # working folder; run a copy (it writes its workbook next to itself, not over the shipped one).
    script = tmp_path / "data" / "demo" / "generate.py"
    script.parent.mkdir(parents=True)
    shutil.copy(GENERATOR, script)
    shutil.copy(ROOT / "data" / "forms_layout.py", tmp_path / "data")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    written = script.with_name(SHIPPED.name)
    assert done.stdout == f"Wrote {written}\n{gen.summarise(gen.generate())}\n"
    assert _read(written) == gen.generate()
