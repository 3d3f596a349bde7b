"""lib.reports: every export opened with a real parser and checked against the metrics tables.

The reference numbers come straight from the database (``store.metrics_for``, the ``ratings`` and
``identity_map`` tables), never from the report code under test.
"""

from __future__ import annotations

import base64
import concurrent.futures
import csv
import io
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from lib import store
from lib.next_round import (
    STATEMENT_COLUMNS,
    new_statement_id,
    next_id,
    next_round_candidates,
    next_round_csv,
    next_round_rows,
    next_round_xlsx,
)
from lib.pipeline import refresh
from lib.reports import render
from lib.reports.data import (
    FeedbackData,
    ReportData,
    build_feedback_data,
    build_report_data,
    with_narrative,
)
from lib.reports.feedback import feedback_data_url, feedback_html, feedback_zip, mail_merge_csv
from lib.reports.html import html_report
from lib.reports.inputs import StoreFrames, feedback_inputs, report_inputs
from lib.reports.pdf import html_to_pdf
from lib.reports.safety import neutralise
from lib.reports.tables import dropped_items, panel_composition
from lib.reports.xlsx import metrics_csv, xlsx_report
from lib.sources import RawSource
from tests.helpers import RESULT_HEAD, SHEETS, Page, tiny_config, tiny_tabs

PAYLOAD = '=HYPERLINK("http://example.invalid","x")'
MARKUP = "<script>alert(1)</script> **bold** [link](http://example.invalid)"


def _gather(con, sid: int, cfg, *, include_comments: bool = True) -> ReportData:
    """A snapshot's report, its frames read from ``con``."""
    frames = report_inputs(StoreFrames(con, sid), include_comments=include_comments)
    return build_report_data(frames, cfg)


def _gather_feedback(con, sid: int, cfg, round_: int | None = None) -> FeedbackData:
    """The feedback after ``round_`` (default: the last), its frames read from ``con``."""
    return build_feedback_data(feedback_inputs(StoreFrames(con, sid)), cfg, round_)


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(demo_db_master, demo_cfg):
    """The demo's report data, feedback after round 3 and reference tables from the database."""
    with store.connect(demo_db_master) as con:
        sid = store.current_snapshot_id(con)
        return {
            "sid": sid,
            "data": _gather(con, sid, demo_cfg),
            "observer": _gather(con, sid, demo_cfg, include_comments=False),
            "fd": _gather_feedback(con, sid, demo_cfg),
            "metrics": store.metrics_for(con, sid),
            "identities": con.execute("SELECT identity, name, panelist FROM identity_map").df(),
            "recipients": store.feedback_recipients(con, sid),
            "rates": store.response_rates(con, sid),
            "own_p03": con.execute(
                "SELECT statement_id, rating, no_opinion FROM ratings WHERE snapshot_id = ? "
                "AND round = 3 AND panelist = 'P03'",
                [sid],
            ).df(),
        }


@pytest.fixture(scope="module")
def report_html(demo) -> str:
    return html_report(demo["data"])


@pytest.fixture(scope="module")
def workbook(demo) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(xlsx_report(demo["data"])))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """The tiny study with a formula and markup in a comment and in a statement's wording."""
    tabs = tiny_tabs()
    title = f"S02. {PAYLOAD} <b>bold</b>"
    tabs["Round 1"][0][4] = title
    tabs["Round 2"][0][2] = title
    tabs["Round 2"][1][3] = MARKUP
    tabs["Round 2"][2][3] = PAYLOAD
    db = tmp_path_factory.mktemp("hostile") / "h.duckdb"
    cfg = tiny_config(statements_tab="")
    refresh(cfg, db, raw=RawSource(tabs=tabs, source="tiny", title="Tiny", all_tabs=list(tabs)))
    with store.connect(db) as con:
        return {
            "data": _gather(con, 1, cfg),
            "fd": _gather_feedback(con, 1, cfg, 2),
            "metrics": store.metrics_for(con, 1),
        }


def _rows(ws) -> list[dict]:
    values = list(ws.iter_rows(values_only=True))
    return [dict(zip(values[0], row, strict=True)) for row in values[1:]]


def _by_key(frame: pd.DataFrame) -> dict:
    return {(int(r["round"]), r["statement_id"]): r for _, r in frame.iterrows()}


# --- formula injection ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", PAYLOAD])
def test_neutralise_makes_formula_starts_inert(text):
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("value", ["plain", "a=b", 3, -2.5, None])
def test_neutralise_leaves_other_values_alone(value):
    assert neutralise(value) == value


def test_xlsx_comment_formula_is_text_not_formula(hostile):
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_report(hostile["data"])))
    cells = [c for row in wb["Comments"].iter_rows() for c in row if PAYLOAD in str(c.value)]
    assert cells, "the payload comment is in the Comments sheet"
    assert all(c.value == "'" + PAYLOAD and c.data_type == "s" for c in cells)


def test_xlsx_has_no_formula_anywhere(hostile):
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_report(hostile["data"])))
    assert all(c.data_type != "f" for ws in wb for row in ws.iter_rows() for c in row)


def test_csv_statement_formula_is_inert(hostile):
    rows = list(csv.DictReader(io.StringIO(metrics_csv(hostile["data"]))))
    texts = [r["text"] for r in rows if r["statement_id"] == "S02"]
    assert texts and all(t.startswith("'=HYPERLINK(") for t in texts)


def test_html_report_escapes_comments_and_wording(hostile):
    html = html_report(hostile["data"])
    page = Page(html)
    comments = [("".join(e.text)) for e in page.find("li", "comment")]
    assert PAYLOAD in comments and MARKUP in comments  # shown literally, as text
    assert "<script>alert(1)" not in html and "<b>bold</b>" not in html
    assert not page.find("b", None) or all("bold" != "".join(e.text) for e in page.find("b"))


def test_table_template_escapes_every_header_and_cell():
    cells = [
        MARKUP,
        {"text": MARKUP, "small": MARKUP},
        {"status": '"><b>', "label": MARKUP},
        {"text": MARKUP, "href": '"><script>'},
    ]
    html = str(render.macros("_table.html.j2").table(render.table([MARKUP] * 4, [cells])))
    assert "<script>" not in html and "<b>" not in html and '"><' not in html
    assert Page(html).tables[0][1][0] == MARKUP  # the text itself survives, escaped


def test_only_chart_divs_bars_and_style_sheets_are_marked_safe():
    folder = Path(__file__).resolve().parent.parent / "lib" / "reports" / "templates"
    marked = sorted(
        m for f in folder.glob("*.j2") for m in re.findall(r"\{\{ *([\w.]+) *\|safe", f.read_text())
    )
    assert marked == ["c.bar", "chart", "css"]


def test_feedback_escapes_comments(hostile):
    fd = hostile["fd"]
    html = feedback_html(fd, fd.panelists[0])
    comments = ["".join(e.text) for e in Page(html).find("li", "comment")]
    assert sorted(comments) == sorted([PAYLOAD, MARKUP])
    assert "<script>alert(1)" not in html and "<script" not in html  # no script at all


# --- the consensus report: HTML -----------------------------------------------------------------


def test_html_results_tables_match_the_metrics(demo, report_html):
    tables = Page(report_html).table(RESULT_HEAD)
    ref = _by_key(demo["metrics"])
    assert len(tables) == 3  # one per round
    seen = 0
    for rnd, table in enumerate(tables, start=1):
        for row in table:
            m = ref[(rnd, row[0])]
            pct, k, n = re.match(r"(\d+)% \((\d+)/(\d+)\)", row[4]).groups()
            assert (int(pct), int(k), int(n)) == (round(m["pct_agree"]), m["n_agree"], m["n"])
            assert row[3] == str(m["n"])
            assert row[5] == f"{m['median']:g} ({m['q1']:g}–{m['q3']:g})"
            seen += 1
    assert seen == len(demo["metrics"])


def test_html_report_states_snapshot_rule_and_software(demo, report_html):
    text = Page(report_html).text
    info = demo["data"].snapshot
    assert f"Snapshot {demo['sid']} of" in text and info["content_hash"][:12] in text
    assert "v1, pre-registered 2026-09-01" in text and "at least 75% rate it 4–5" in text
    for name in ("DuckDB", "NumPy", "SciPy", "Delphi Dashboard"):
        assert f"{name}" in text and demo["data"].software[name] in text


def test_html_report_has_no_identities(demo, report_html):
    for row in demo["identities"].itertuples():
        assert row.identity not in report_html and row.name not in report_html
    assert not re.search(r"\bP\d{2}\b", Page(report_html).text)


def test_html_report_is_self_contained(report_html):
    page = Page(report_html)
    assert not [e for e in page.find("script") if e.attrs.get("src")]
    assert not [e for e in page.find("link")]
    assert len(page.find("div", "plotly-graph-div")) == 2
    # plotly.js is inlined once, with the first chart only
    assert report_html.count("Plotly JavaScript") <= 2 and len(report_html) > 3_000_000


def test_html_flow_counts_add_up(demo):
    flow = demo["data"].flow
    ends = flow[["accepted", "rejected", "to_next_round", "revised_for_next", "dropped", "open"]]
    assert (ends.sum(axis=1) == flow["rated"]).all()
    # demo: 40 in round 1, 19 in round 2, 13 in round 3 (metrics rows per round)
    assert flow["rated"].tolist() == demo["metrics"].groupby("round").size().tolist()


def test_narrative_numbers_match_the_database(demo):
    text = demo["data"].narrative
    r = demo["rates"].set_index("round")
    assert (
        f"{r.loc[1, 'responded']} ({r.loc[1, 'response_rate']:.0f}%) responded in round 1" in text
    )
    assert f"{r.loc[3, 'responded']} ({r.loc[3, 'response_rate']:.0f}%) in round 3" in text
    # Final list, from metrics alone: a statement ends where it is last rated and not revised.
    m = demo["metrics"]
    last = m.sort_values("round").groupby("statement_id").tail(1)
    final = last[~last["statement_id"].isin(m["revised_from"].dropna())]
    n_in = int((final["status"] == "consensus_in").sum())
    assert f"In total, {n_in} statements reached consensus in agreement" in text


def test_edited_narrative_goes_into_html_and_xlsx(demo):
    data = with_narrative(demo["data"], "Our own words.\n\nSecond paragraph.")
    assert "Our own words." in Page(html_report(data)).text
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_report(data)))
    assert [r["text"] for r in _rows(wb["Methods"])][:2] == ["Our own words.", "Second paragraph."]


def test_observer_report_leaves_comments_out(demo):
    data = demo["observer"]
    html = html_report(data)
    some = demo["data"].comments["comment"].iloc[0]
    assert some not in html and "steering committee only" in Page(html).text
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_report(data)))
    assert [r["note"] for r in _rows(wb["Comments"])][0].startswith("Comments are shown")


def test_report_warns_when_the_configured_rule_changed(demo_db_master, demo_cfg):
    from dataclasses import replace

    from lib.analysis.rules import preset

    cfg = replace(demo_cfg, rule=preset("comet_70_15", 1, 5))
    with store.connect(demo_db_master) as con:
        data = _gather(con, 1, cfg)
    assert data.rule.label == "≥ 75% agreement"  # the snapshot's own rule is reported
    assert (
        "DIFFERENT: the study configuration now says “COMET 70/15" in Page(html_report(data)).text
    )


def test_statistics_that_fail_leave_a_note(demo_db_master, demo_cfg, monkeypatch):
    from lib.analysis import agreement

    def broken(*args, **kwargs):
        raise ValueError("no ratings")

    monkeypatch.setattr(agreement, "kendall_w", broken)
    with store.connect(demo_db_master) as con:
        data = _gather(con, 1, demo_cfg)
    assert data.stats_note == "Not computed: ValueError: no ratings"
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_report(data)))
    assert _rows(wb["Stability"]) == [{"note": data.stats_note}]
    assert data.stats_note in Page(html_report(data)).text


def test_observer_panel_summary_hides_the_extremes(demo):
    years = demo["observer"].panel.set_index("attribute").loc["Years in practice", "value"]
    assert years.startswith("median ") and "range" not in years


def test_panel_composition_pools_groups_under_the_minimum():
    attrs = pd.DataFrame(
        {
            "panelist": [f"P{i:02d}" for i in range(11)],
            "attribute": "Country",
            "value": ["Italy"] * 6 + ["Spain", "Chile", "Peru", "Peru", "Laos"],
        }
    )
    out = panel_composition(attrs, min_group_size=5)
    assert out[["value", "count"]].values.tolist() == [
        ["Italy", 6],
        ["Other (groups under 5)", 5],
    ]


def test_panel_composition_pool_under_the_minimum_takes_the_next_group():
    attrs = pd.DataFrame(
        {
            "panelist": [f"P{i:02d}" for i in range(8)],
            "attribute": "Country",
            "value": ["Italy"] * 5 + ["Spain", "Chile", "Peru"],
        }
    )
    out = panel_composition(attrs, min_group_size=5)
    # Other = 3 would give itself away as 8 − 5: Italy joins it and no value is named
    assert out[["value", "count"]].values.tolist() == [["Other (groups under 5)", 8]]


def test_dropped_items_say_why(demo):
    dropped = dropped_items(demo["data"])
    s03 = dropped.set_index("statement_id").loc["S03"]
    # demo round 1, S03: 12 of 15 rated 1–2 = 80%
    assert s03["reason"] == "Consensus against in round 1: 80% rated 1–2"


# --- the consensus report: XLSX and CSV ---------------------------------------------------------


def test_xlsx_has_one_sheet_per_table(workbook):
    assert workbook.sheetnames == SHEETS


def test_xlsx_metrics_match_the_database(demo, workbook):
    rows = _rows(workbook["Metrics per round"])
    ref = _by_key(demo["metrics"])
    assert len(rows) == len(ref)
    for r in rows:
        m = ref[(r["round"], r["statement_id"])]
        assert (r["n"], r["status"], r["median"]) == (m["n"], m["status"], m["median"])
        assert r["pct_agree"] == pytest.approx(m["pct_agree"])


def test_xlsx_summary_states_snapshot_and_rule(demo, workbook):
    summary = {r["item"]: r["value"] for r in _rows(workbook["Summary"])}
    assert summary["Snapshot"] == str(demo["sid"])
    assert summary["Content hash"] == demo["data"].snapshot["content_hash"][:12]
    assert summary["Rule version"] == "v1, pre-registered 2026-09-01"
    assert summary["Software: DuckDB"] == demo["data"].software["DuckDB"]


def test_xlsx_final_statements_are_one_per_family(demo, workbook):
    final = _rows(workbook["Final statements"])
    ids = [r["statement_id"] for r in final]
    superseded = set(demo["metrics"]["revised_from"].dropna())
    assert len(ids) == len(set(ids)) and not superseded & set(ids)
    assert {"S07", "S07a"}.isdisjoint(ids) and "S07b" in ids


def test_xlsx_has_no_identities(demo, workbook):
    cells = " ".join(str(c.value) for ws in workbook for row in ws.iter_rows() for c in row)
    for row in demo["identities"].itertuples():
        assert row.identity not in cells and row.name not in cells
    assert not re.search(r"\bP\d{2}\b", cells)


def test_metrics_csv_matches_the_database(demo):
    rows = list(csv.DictReader(io.StringIO(metrics_csv(demo["data"]))))
    ref = _by_key(demo["metrics"])
    assert len(rows) == len(ref)
    for r in rows:
        m = ref[(int(r["round"]), r["statement_id"])]
        assert int(r["n"]) == m["n"] and float(r["pct_agree"]) == pytest.approx(m["pct_agree"])
        assert r["snapshot_id"] == str(demo["sid"]) and r["rule"] == m["rule"]
        assert r["content_hash"] == demo["data"].snapshot["content_hash"][:12]


def test_metrics_csv_of_one_round(demo):
    rows = list(csv.DictReader(io.StringIO(metrics_csv(demo["data"], 2))))
    assert {r["round"] for r in rows} == {"2"} and len(rows) == 19


# --- feedback for each panelist -----------------------------------------------------------------


def test_feedback_marks_exactly_the_panelists_own_ratings(demo):
    page = Page(feedback_html(demo["fd"], "P03"))
    marked = {
        e.inside("data-statement"): int(e.attrs["data-score"]) for e in page.find("tr", "own")
    }
    own = demo["own_p03"].dropna(subset=["rating"])
    assert marked == {r.statement_id: int(r.rating) for r in own.itertuples()}
    assert len(page.find("section", "stmt")) == len(demo["fd"].metrics)


def test_feedback_distribution_matches_the_metrics(demo):
    page = Page(feedback_html(demo["fd"], "P03"))
    ref = _by_key(demo["metrics"])
    for sec in page.find("section", "stmt"):
        sid = sec.attrs["data-statement"]
        cells = [
            td
            for td in page.find("td", "cnt")
            if td.inside("data-statement") == sid and td.parents[-1].get("class") != "other"
        ]  # parents[-1]: the row
        counts = [int(re.match(r"(\d+)", "".join(td.text)).group(1)) for td in cells]
        assert sum(counts) == ref[(3, sid)]["n"]


def test_feedback_names_no_other_panelist(demo):
    html = feedback_html(demo["fd"], "P03")
    assert set(re.findall(r"\bP\d{2}\b", Page(html).text)) == {"P03"}
    for row in demo["identities"].itertuples():
        assert row.identity not in html and row.name not in html


def test_feedback_for_a_non_responder_says_so(demo):
    fd = demo["fd"]
    absent = sorted(set(fd.panelists) - fd.responded)
    assert absent, "one demo panelist skipped round 3"
    page = Page(feedback_html(fd, absent[0]))
    assert "did not take part in round 3" in page.text and not page.find("tr", "own")


def test_feedback_data_url_holds_the_panelists_document(demo):
    url = feedback_data_url(demo["fd"], "P03")
    head, doc = url.split(",", 1)
    assert head == "data:text/html;base64"
    assert base64.b64decode(doc).decode("utf-8") == feedback_html(demo["fd"], "P03")


def test_feedback_zip_has_one_file_per_pseudonym(demo):
    fd = demo["fd"]
    names = zipfile.ZipFile(io.BytesIO(feedback_zip(fd))).namelist()
    assert names == [f"feedback_round3_{p}.html" for p in fd.panelists] and len(names) == 15


def test_mail_merge_links_identity_to_file(demo):
    rows = list(csv.DictReader(io.StringIO(mail_merge_csv(demo["fd"], demo["recipients"]))))
    truth = dict(zip(demo["identities"]["panelist"], demo["identities"]["identity"], strict=True))
    assert len(rows) == 15
    for r in rows:
        assert truth[r["pseudonym"]] == r["identity"]
        assert r["file_name"] == f"feedback_round3_{r['pseudonym']}.html"


def test_feedback_of_an_unknown_round_is_refused(demo_db_master, demo_cfg):
    with store.connect(demo_db_master) as con, pytest.raises(ValueError, match="round 9"):
        _gather_feedback(con, 1, demo_cfg, 9)


# --- the next round ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sid,taken,expected",
    [
        ("S07", [], "S07a"),
        ("S07a", [], "S07b"),
        ("S07", ["S07a"], "S07b"),
        ("S07z", [], "S07aa"),
        ("Q1.2", [], "Q1.2a"),
        ("S10a", ["S10b", "S10c"], "S10d"),
    ],
)
def test_next_id(sid, taken, expected):
    assert next_id(sid, taken) == expected


@pytest.mark.parametrize(
    "taken,expected",
    [
        (["S01", "S07a", "S42"], "S43"),
        ([], "S01"),
        (["Q009", "Q010"], "Q011"),
        (["S1", "S2", "S3a"], "S4"),
    ],
)
def test_new_statement_id(taken, expected):
    assert new_statement_id(taken) == expected


@pytest.fixture(scope="module")
def candidates(demo, demo_db_master):
    with store.connect(demo_db_master) as con:
        stmts = store.statements_for(con, demo["sid"])
        comments = store.comments_for(con, demo["sid"])
    return next_round_candidates(demo["metrics"], comments, stmts), stmts


def test_candidates_are_the_statements_without_consensus(candidates, demo):
    plan, _ = candidates
    m = demo["metrics"]
    expected = m[(m["round"] == 3) & (m["status"] == "no_consensus")]["statement_id"].tolist()
    assert plan["statement_id"].tolist() == expected == ["S07b", "S11", "S18", "S33", "S35a"]
    assert plan["new_id"].tolist() == ["S07c", "S11a", "S18a", "S33a", "S35b"]
    assert set(plan["action"]) == {"keep"}
    assert "10 mg/day is weak" in plan.set_index("statement_id").loc["S11", "comments"]


def _new(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["statement_id", "domain", "text"])


def test_next_round_rows_keep_revise_drop_and_add(candidates):
    plan, stmts = candidates
    plan = plan.copy()
    plan.loc[0, ["action", "revised_text"]] = ["revise", "Clearer wording."]
    plan.loc[1, "action"] = "drop"
    rows, problems = next_round_rows(
        plan,
        _new((None, "Dosing", "A new statement."), (None, None, None)),
        4,
        stmts["statement_id"],
    )
    assert problems == []
    assert rows.columns.tolist() == STATEMENT_COLUMNS
    assert rows.values.tolist()[:2] == [
        ["S07c", 4, "Patient selection and indications", "Clearer wording.", "S07b"],
        ["S18", 4, "Duration and maintenance", plan.loc[2, "text"], None],
    ]
    assert rows.iloc[-1].tolist() == ["S43", 4, "Dosing", "A new statement.", None]
    assert "S11" not in rows["statement_id"].tolist() and len(rows) == 5


@pytest.mark.parametrize(
    "change,message",
    [
        ({"action": "revise"}, "revise needs a new wording"),
        ({"revised_text": "New words"}, "the action is keep"),
        ({"action": "revise", "revised_text": "X", "new_id": "S11"}, "already in use"),
        ({"action": "revise", "revised_text": "X", "new_id": "=S1"}, "may only use"),
    ],
)
def test_next_round_rows_report_problems(candidates, change, message):
    plan, stmts = candidates
    plan = plan.copy()
    for col, value in change.items():
        plan.loc[0, col] = value
    _, problems = next_round_rows(plan, _new(), 4, stmts["statement_id"])
    assert len(problems) == 1 and message in problems[0]


def test_new_statement_needs_wording_and_a_free_id(candidates):
    plan, stmts = candidates
    _, problems = next_round_rows(
        plan, _new(("S99", "Dosing", None), ("S01", "Dosing", "Taken id")), 4, stmts["statement_id"]
    )
    assert len(problems) == 2 and "wording is missing" in problems[0]
    assert "S01 is already in use" in problems[1]


def test_next_round_exports_parse_back(candidates):
    plan, stmts = candidates
    plan = plan.copy()
    plan.loc[0, ["action", "revised_text"]] = ["revise", PAYLOAD]
    rows, _ = next_round_rows(plan, _new(), 4, stmts["statement_id"])
    parsed = list(csv.DictReader(io.StringIO(next_round_csv(rows))))
    assert list(parsed[0]) == STATEMENT_COLUMNS
    assert parsed[0]["text"] == "'" + PAYLOAD and parsed[0]["revised_from"] == "S07b"
    wb = openpyxl.load_workbook(io.BytesIO(next_round_xlsx(rows, plan)))
    assert wb.sheetnames == ["Statements", "Decisions"]
    sheet = _rows(wb["Statements"])
    assert [r["statement_id"] for r in sheet] == rows["statement_id"].tolist()
    assert sheet[0]["text"] == PAYLOAD and sheet[0]["round"] == 4  # typed text, no apostrophe


# --- in a real browser --------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Debian's Chromium at /usr/bin/chromium"
)


def _open_offline(path: Path, shot: Path):
    """Open a file in headless Chromium with every non-file request blocked; return (page
    facts, attempted network requests, page errors).

    Playwright runs in a thread of its own: tests/browser keeps a sync Playwright (and so an
    asyncio loop) alive in the main thread for the whole session.
    """
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(_open_offline_here, path, shot).result(timeout=300)


def _open_offline_here(path: Path, shot: Path):
    from playwright.sync_api import sync_playwright

    attempted, errors = [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 1200})
            page.on("pageerror", lambda e: errors.append(str(e)))

            def route(r):
                if r.request.url.startswith("file:"):
                    r.continue_()
                else:
                    attempted.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            facts = {
                "plots": page.locator(".js-plotly-plot").count(),
                "with_svg": page.locator(".js-plotly-plot svg.main-svg").count(),
                "bars": page.locator(".js-plotly-plot .point, .js-plotly-plot .bars path").count(),
            }
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    return facts, attempted, errors


@pytest.mark.browser
@needs_chromium
def test_html_report_renders_charts_offline(report_html, tmp_path):
    path = tmp_path / "report.html"
    path.write_text(report_html, encoding="utf-8")
    facts, attempted, errors = _open_offline(path, ARTIFACTS / "report.png")
    assert attempted == [] and errors == []
    assert facts["plots"] == 2 and facts["with_svg"] >= 2 and facts["bars"] > 0


@pytest.mark.browser
@needs_chromium
def test_feedback_document_opens_offline(demo, tmp_path):
    path = tmp_path / "feedback.html"
    path.write_text(feedback_html(demo["fd"], "P03"), encoding="utf-8")
    facts, attempted, errors = _open_offline(path, ARTIFACTS / "feedback.png")
    assert attempted == [] and errors == [] and facts["plots"] == 0


@pytest.mark.browser
@needs_chromium
def test_feedback_prints_to_pdf(demo):
    pdf = html_to_pdf(feedback_html(demo["fd"], "P03"), CHROMIUM)
    assert pdf.startswith(b"%PDF-")
