"""lib.sources: workbooks read into the same raw shape the Sheets API returns."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from lib.sources import SourceError, is_google_sheet, read_source, read_workbook


@pytest.fixture
def workbook(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Round 1"
    ws.append(["Timestamp", "Email Address", "S01. x", None])
    ws.append([dt.datetime(2026, 9, 1, 9), "a@x.example", "Agree", None])
    ws.append([None, None, None, None])
    wb.create_sheet("Panel").append(["Email Address"])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    return path


def test_rows_drop_trailing_empty_cells_and_rows(workbook):
    raw = read_workbook(workbook)
    assert raw.tabs["Round 1"] == [
        ["Timestamp", "Email Address", "S01. x"],
        [dt.datetime(2026, 9, 1, 9), "a@x.example", "Agree"],
    ]
    assert raw.all_tabs == ["Round 1", "Panel"] and raw.requests == 0


def test_only_requested_tabs_are_read(workbook):
    assert list(read_workbook(workbook, ["Panel"]).tabs) == ["Panel"]


def test_missing_workbook_says_which(tmp_path):
    with pytest.raises(SourceError, match="Workbook not found"):
        read_source(str(tmp_path / "nope.xlsx"))


def test_broken_workbook_is_a_source_error(tmp_path):
    bad = tmp_path / "bad.xlsx"
    bad.write_text("not a zip")
    with pytest.raises(SourceError, match="Cannot open workbook bad.xlsx"):
        read_workbook(bad)


@pytest.mark.parametrize(
    "source,expected",
    [
        (
            "https://docs.google.com/spreadsheets/d/1AbC-dEf_ghIJklMNopQRstuVWxyz0123456789/edit",
            True,
        ),
        ("1AbCdEfghIJklMNopQRstuVWxyz0123456789_-", True),
        ("data/demo/isotretinoin_delphi.xlsx", False),
        ("study.xlsx", False),
        ("demo-sheet-key", True),  # a short key, as the fake Sheets server uses
        ("", False),
    ],
)
def test_google_sheet_or_path(source, expected):
    assert is_google_sheet(source) is expected
