"""The next round's workbook: text that starts like a formula is typed text, pasted back as
written (issue 12, item 7).  The consensus report keeps the apostrophe (tests/test_reports.py)."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd

from lib.next_round import STATEMENT_COLUMNS, next_round_xlsx

FORMULA_LIKE = ["- a bullet the panel wrote", "+10 mg daily", "=SUM(A1:A9)", "@home care", "-S01"]


def _workbook() -> openpyxl.Workbook:
    rows = pd.DataFrame(
        [
            ["-S01", 4, "-Dosing", FORMULA_LIKE[0], None],
            ["S02a", 4, "Safety", FORMULA_LIKE[1], "S02"],
            ["S09", 4, "@Settings", FORMULA_LIKE[2], None],
            ["S10", 4, "Safety", FORMULA_LIKE[3], None],
            ["S11", 4, "Safety", "An ordinary wording", None],
        ],
        columns=STATEMENT_COLUMNS,
    )
    plan = pd.DataFrame(
        {
            "statement_id": ["-S01", "S02"],
            "action": ["keep", "revise"],
            "new_id": ["", "S02a"],
            "revised_text": ["", FORMULA_LIKE[1]],
            "note": ["=why not", ""],
            "pct_agree": [60.0, 50.0],
            "median": [4.0, 3.0],
            "iqr": [1.0, 2.0],
            "n": [10, 10],
        }
    )
    return openpyxl.load_workbook(io.BytesIO(next_round_xlsx(rows, plan)))


def test_formula_like_text_is_typed_text_written_unchanged():
    wb = _workbook()
    cells = [c for ws in wb.worksheets for row in ws.iter_rows(min_row=2) for c in row]
    risky = [c for c in cells if isinstance(c.value, str) and c.value[:1] in "-+=@"]
    assert {c.value for c in risky} >= {*FORMULA_LIKE, "-Dosing", "@Settings", "=why not"}
    for c in risky:
        assert (c.data_type, c.quotePrefix) == ("s", True), c.coordinate


def test_other_cells_are_left_as_they_were():
    wb = _workbook()
    ws = wb["Statements"]
    ordinary = next(r for r in ws.iter_rows(min_row=2) if r[0].value == "S11")
    assert ordinary[3].value == "An ordinary wording" and not ordinary[3].quotePrefix
    assert ordinary[1].value == 4 and ordinary[1].data_type == "n"
    assert [c.value for c in ws[1]] == STATEMENT_COLUMNS
