"""Human headers (issue 17.1): the XLSX offers headers with units and sensibly rounded numbers,
the CSV keeps the machine names, and the app's Statements metrics table shows no raw name."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from lib import store
from lib.reports.data import build_report_data
from lib.reports.inputs import StoreFrames, report_inputs
from lib.reports.tables import HEADERS
from lib.reports.xlsx import metrics_csv, xlsx_report
from lib.ui import columns


@pytest.fixture(scope="module")
def data(demo_db_master, demo_cfg):
    with store.connect(demo_db_master) as con:
        sid = store.current_snapshot_id(con)
        return build_report_data(report_inputs(StoreFrames(con, sid)), demo_cfg)


def _sheet(content: bytes, name: str) -> list[tuple]:
    wb = openpyxl.load_workbook(io.BytesIO(content))
    return list(wb[name].iter_rows(values_only=True))


def test_csv_keeps_the_machine_names(data):
    header = next(csv.reader(io.StringIO(metrics_csv(data))))
    assert {"n_no_opinion", "pct_neutral", "q1", "sd"} <= set(header)


def test_xlsx_with_human_headers_has_units_and_rounded_numbers(data):
    rows = _sheet(xlsx_report(data, human=True), "Metrics per round")
    header = list(rows[0])
    assert "No opinion (n)" in header and "Neutral (%)" in header and "SD (points)" in header
    assert not {"n_no_opinion", "pct_neutral", "q1", "sd"} & set(header)
    sd = [r[header.index("SD (points)")] for r in rows[1:]]
    pct = [r[header.index("Agree (%)")] for r in rows[1:]]
    # 2 decimals for scale points, 1 for percentages (13 of 15 = 86.666… -> 86.7)
    assert all(round(v, 2) == v for v in sd if v is not None)
    assert all(round(v, 1) == v for v in pct if v is not None)
    assert 86.7 in pct


def test_xlsx_by_default_keeps_the_machine_names(data):
    header = _sheet(xlsx_report(data), "Metrics per round")[0]
    assert "pct_agree" in header and "Agree (%)" not in header


def test_every_column_of_the_statements_metrics_table_has_a_human_header():
    raw = [c for c in columns.METRICS_SHOWN if c not in columns.METRICS]
    assert raw == []
    assert all(c in HEADERS for c in columns.METRICS_SHOWN)  # and the XLSX names each too


def test_panel_page_shows_a_dash_for_round_1_and_a_sentence_for_pooled_groups(app):
    at = app.run()
    at.switch_page("pages/panel.py").run()
    assert not at.exception
    part = next(d.value for d in at.dataframe if "retained" in d.value.columns)
    assert part.loc[part["round"] == 1, ["retained", "lost", "attrition_pct"]].values.tolist() == [
        ["—", "—", "—"]
    ]
    assert "None" not in part.astype(str).to_numpy().ravel().tolist()
    # the demo's 15 panelists come from countries of fewer than 5 each: all pooled, no chart
    assert any("Every group of “Country”" in i.value for i in at.info)
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert not any("Response rate by country" in c for c in charts)


def test_trends_says_how_many_panelists_kendalls_w_covers_and_how_strong_it_is(app):
    at = app.run()
    at.switch_page("pages/trends.py").run()
    assert not at.exception
    captions = " ".join(c.value for c in at.caption)
    # the demo's round 1: 4 of the 15 respondents left a blank or "no opinion" (issue 17.1)
    assert "Kendall's W covers 11 of 15 panelists in round 1 (73%)" in captions
    assert "Schmidt (1997" in captions
    table = next(d.value for d in at.dataframe if "covers" in d.value.columns)
    assert table.loc[table["round"] == 1, "covers"].tolist() == ["11 of 15"]
    assert set(table["strength"]) <= {"very weak", "weak", "moderate", "strong", "unusually strong"}
    assert table["alpha"].notna().all()  # Krippendorff's alpha beside it, every round
