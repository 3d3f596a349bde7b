"""lib.reports on a study with a scale per round: a 7-point round 1, then a Yes/No inclusion vote.

The study is built here in the Google Forms layout (``[[scales]]`` in its TOML) and refreshed
into a temporary DuckDB file with ``lib.pipeline.refresh``.  Every expected number is counted
by hand from the answer lists below (``YES_NO``, ``SEVEN``) and the Wilson interval is worked
from its formula (Wilson 1927; Newcombe 1998 method 3), never taken from the code under test.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re
import tomllib
from html import unescape

import numpy as np
import openpyxl
import pytest

from lib import store
from lib.config import config_from_dict
from lib.pipeline import refresh
from lib.reports.data import build_feedback_data, build_report_data
from lib.reports.feedback import feedback_html
from lib.reports.html import html_report
from lib.reports.inputs import StoreFrames, feedback_inputs, report_inputs
from lib.reports.xlsx import metrics_csv, xlsx_report
from lib.sources import RawSource
from tests.helpers import Page, tiny_config, tiny_tabs

PANEL = [f"p{i:02d}@panel.example" for i in range(10)]
# Round 1, on 1–7: one list per statement, one answer per panelist (PANEL's order).
SEVEN = {
    "S01": [7, 7, 6, 6, 6, 7, 5, 6, 7, 6],
    "S02": [6, 5, 4, 7, 3, "Unable to judge", 6, 2, 5, 4],
    "S03": [1, 2, 3, 4, 5, 6, 7, 4, 4, 4],
    "S04": [2, 1, 1, 2, 3, 1, 2, 2, 1, ""],
}
DK = "Don't know"
# Round 2, a Yes/No inclusion vote on the three statements without consensus in round 1.
YES_NO = {
    "S02": ["Yes", "Yes", DK, "Yes", "No", "Yes", DK, "Yes", DK, "Yes"],
    "S03": ["Yes", "No", "No", "Yes", "No", "Yes", "Yes", "No", DK, "Yes"],
    "S04": ["No", "No", "No", "Yes", "No", "No", "No", "No", "No", ""],
}
LABELS_7 = {1: "Not important", 7: "Essential"}
TEXT = {
    "S01": "Outcomes are reported at twelve months",
    "S02": "Adverse events are graded centrally",
    "S03": "Costs are collected per patient",
    "S04": "Imaging is read twice",
}


def study_toml(dont_know_counted: bool) -> str:
    """The study file: main scale 1–7 (pct75), and round 2 a Yes/No vote (≥ 70% yes)."""
    return f"""
title = "Two-scale study"
source = "two_scales.xlsx"
timezone = "UTC"
statements_tab = "Statements"
panel_tab = ""

[rounds]
"Round 1" = 1
"Round 2" = 2

[scale]
min = 1
max = 7
no_opinion = ["Unable to judge"]

[scale.labels]
"Not important" = 1
"Essential" = 7

[consensus]
preset = "pct75"

[[scales]]
name = "Inclusion vote"
rounds = [2]
type = "yes_no"
no_opinion = ["Don't know"]
no_opinion_in_denominator = {"true" if dont_know_counted else "false"}

[scales.consensus]
threshold = 70
"""


def _tab(answers: dict[str, list], rnd: int) -> list[list]:
    header = ["Timestamp", "Email Address"]
    for sid in answers:
        header += [f"{sid}. {TEXT[sid]}", "Comments (optional)"]
    start = dt.datetime(2026, 3 * rnd, 1, 9)
    rows = [header]
    for i, email in enumerate(PANEL):
        row = [start + dt.timedelta(hours=i), email]
        for sid, said in answers.items():
            answer = said[i]
            row += [LABELS_7.get(answer, answer), f"comment {sid}" if i == 0 else ""]
        rows.append(row)
    return rows


def _tabs() -> dict[str, list[list]]:
    statements = [["statement_id", "round", "domain", "text", "revised_from"]]
    statements += [[sid, 1, "Trial", TEXT[sid], ""] for sid in SEVEN]
    statements += [[sid, 2, "Trial", TEXT[sid], ""] for sid in YES_NO]
    return {"Round 1": _tab(SEVEN, 1), "Round 2": _tab(YES_NO, 2), "Statements": statements}


def _build(tmp_path_factory, dont_know_counted: bool) -> dict:
    cfg = config_from_dict(tomllib.loads(study_toml(dont_know_counted)))
    db = tmp_path_factory.mktemp("scales") / "study.duckdb"
    tabs = _tabs()
    refresh(cfg, db, raw=RawSource(tabs=tabs, source="t", title="T", all_tabs=list(tabs)))
    with store.connect(db) as con:
        sid = store.current_snapshot_id(con)
        frames = StoreFrames(con, sid)
        return {
            "cfg": cfg,
            "data": build_report_data(report_inputs(frames), cfg),
            "fd1": build_feedback_data(feedback_inputs(frames), cfg, 1),
            "fd2": build_feedback_data(feedback_inputs(frames), cfg, 2),
            "panelists": dict(
                con.execute("SELECT identity, panelist FROM identity_map").fetchall()
            ),
        }


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """Don't know left out of the denominator of the Yes/No vote."""
    return _build(tmp_path_factory, False)


@pytest.fixture(scope="module")
def counted(tmp_path_factory):
    """The same study with Don't know counted in the Yes/No vote's denominator."""
    return _build(tmp_path_factory, True)


def wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson score interval in percent, from its formula (z = 1.959964, 95%)."""
    z, p = 1.959963984540054, k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, 100 * (centre - half)), min(100.0, 100 * (centre + half))


def tally(answers: list) -> dict:
    """Hand count of one statement's answers: Yes, No, Don't know, blank."""
    return {a: answers.count(a) for a in ("Yes", "No", DK, "")}


# a bar's segment: (' class="dk"' for Don't know, its width in percent, its title)
_SPAN = r'<span( class="dk")? style="width:([\d.]+)%[^"]*" title="([^"]*)"'


def _results(html: str) -> dict[tuple[int, str], dict]:
    """Per (round, statement) of the results tables: the cells' texts and the bar's spans."""
    section = html[html.index('id="results"') : html.index('id="stats"')]
    out = {}
    for rnd, part in re.findall(r"<h3>Round (\d+) .*?</h3>(.*?)</table>", section, re.S):
        for row in re.findall(r"<tr>(.*?)</tr>", part, re.S)[1:]:
            cells = [Page(c).text.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            spans = [(dk, w, unescape(t)) for dk, w, t in re.findall(_SPAN, row)]
            out[(int(rnd), cells[0])] = {"cells": cells, "spans": spans}
    return out


# --- the consensus report ----------------------------------------------------------------------


def test_methods_text_states_each_scale_and_its_rule(study):
    text = study["data"].narrative
    assert "round 1 was rated on a 7-point scale (1 = Not important, 7 = Essential)" in text
    assert "round 2 was a Yes/No vote, “Inclusion vote”, with consensus “≥ 70% yes”" in text
    assert "at least 70% answer Yes" in text
    assert "at least 75% rate it 6–7" in text  # pct75 on 1–7: the top third, 6–7
    methods = openpyxl.load_workbook(io.BytesIO(xlsx_report(study["data"])))["Methods"]
    rules = [r[1] for r in methods.iter_rows(values_only=True) if r[0] == "Consensus rule"]
    assert rules == [
        "Main scale (1–7), round 1: The panel agrees with a statement when at least 75% rate it "
        "6–7, and disagrees with it when at least 75% rate it 1–2; otherwise there is no "
        "consensus on it yet.",
        "Inclusion vote (Yes/No), round 2: The panel agrees to a statement when at least 70% "
        "answer Yes, and rejects it when at least 70% answer No; otherwise there is no consensus "
        "on it yet.",
    ]


def test_rule_section_lists_each_scale_where_it_was_used(study):
    html = html_report(study["data"])
    rows = Page(html).table(["Scale", "Used in", "Answers", "Consensus rule", "No-opinion answers"])
    (table,) = rows
    assert [r[:3] for r in table] == [
        ["Main scale (1–7)", "round 1", "1 = Not important … 7 = Essential"],
        ["Inclusion vote (Yes/No)", "round 2", "Yes / No"],
    ]
    assert table[1][3].startswith("≥ 70% yes")
    assert "left out of the denominator" in table[1][4]


def test_yes_no_rows_show_percent_yes_with_wilson_interval_and_no_median(study):
    rows = _results(html_report(study["data"]))
    for sid, answers in YES_NO.items():
        c = tally(answers)
        n = c["Yes"] + c["No"]  # Don't know left out of the denominator
        lo, hi = wilson(c["Yes"], n)
        cells = rows[(2, sid)]["cells"]
        assert cells[3] == str(n)
        assert (
            cells[4] == f"{100 * c['Yes'] / n:.0f}% Yes ({c['Yes']}/{n}) 95% CI {lo:.0f}–{hi:.0f}"
        )
        assert cells[5] == ""  # no median or IQR for a Yes/No question
    # S02: 6 of 7 = 86% ≥ 70%: consensus in; S04: 8 of 9 answered No: consensus out
    assert rows[(2, "S02")]["cells"][6].startswith("Consensus in")
    assert rows[(2, "S04")]["cells"][6].startswith("Consensus out")


def test_likert_rows_keep_their_median_and_iqr(study):
    rows = _results(html_report(study["data"]))
    ratings = [r for r in SEVEN["S03"] if isinstance(r, int)]
    # numpy's default percentile is R's type 7: 1,2,3,4,4,4,4,5,6,7 -> 3.25, 4, 4.75
    q1, med, q3 = (float(x) for x in np.percentile(ratings, [25, 50, 75]))
    assert rows[(1, "S03")]["cells"][5] == f"{med:g} ({q1:g}–{q3:g})"
    agree = sum(r >= 6 for r in ratings)
    assert rows[(1, "S03")]["cells"][4].startswith(f"{100 * agree / 10:.0f}% ({agree}/10)")


def test_each_rounds_bars_use_that_rounds_labels(study):
    rows = _results(html_report(study["data"]))
    # round 1, S01: 5 once, 6 five times, 7 ("Essential") four times, of 10
    assert [t for _, _, t in rows[(1, "S01")]["spans"]] == [
        "5: 1 of 10",
        "6: 5 of 10",
        "Essential: 4 of 10",
    ]
    c = tally(YES_NO["S02"])
    n = c["Yes"] + c["No"]
    assert [t for _, _, t in rows[(2, "S02")]["spans"]] == [
        f"No: {c['No']} of {n}",
        f"Yes: {c['Yes']} of {n}",
    ]


def test_stability_between_two_scales_reads_not_comparable(study):
    html = html_report(study["data"])
    head = [
        "Round",
        "ID",
        "Compared with",
        "Paired",
        "Changed",
        "CV change",
        "Wilcoxon p",
        "McNemar p",
        "Verdict",
    ]
    (table,) = Page(html).table(head)
    assert {r[1] for r in table} == set(YES_NO)
    for row in table:
        assert row[8] == "not comparable: 1–7 in round 1, Yes/No in round 2"
        assert "nan" not in " ".join(row).lower()


def test_dont_know_counted_is_a_grey_segment_with_its_share(counted):
    rows = _results(html_report(counted["data"]))
    for sid, answers in YES_NO.items():
        c = tally(answers)
        denom = c["Yes"] + c["No"] + c[DK]  # Don't know counted
        lo, hi = wilson(c["Yes"], denom)
        row = rows[(2, sid)]
        assert row["cells"][4].startswith(f"{100 * c['Yes'] / denom:.0f}% Yes ({c['Yes']}/{denom})")
        assert row["cells"][4].endswith(f"95% CI {lo:.0f}–{hi:.0f}")
        share = 100 * c[DK] / denom
        assert row["cells"][2] == f"{DK}: {c[DK]} of {denom} ({share:.0f}%)"
        grey = [(w, t) for dk, w, t in row["spans"] if dk]
        assert grey == ([(f"{share:.1f}", f"{DK}: {c[DK]} of {denom}")] if c[DK] else [])
    # S02: 6 of 10 = 60% < 70%: no consensus once Don't know counts (6 of 7 without)
    assert rows[(2, "S02")]["cells"][6].startswith("No consensus")


def test_workbook_yes_no_rows_have_percent_yes_and_no_median(counted):
    wb = openpyxl.load_workbook(io.BytesIO(xlsx_report(counted["data"])))
    values = list(wb["Metrics per round"].iter_rows(values_only=True))
    records = [dict(zip(values[0], v, strict=True)) for v in values[1:]]
    rows = {(r["round"], r["statement_id"]): r for r in records}
    for sid, answers in YES_NO.items():
        c = tally(answers)
        denom = c["Yes"] + c["No"] + c[DK]
        r = rows[(2, sid)]
        assert r["pct_agree"] == pytest.approx(100 * c["Yes"] / denom)
        assert (r["ci_low"], r["ci_high"]) == pytest.approx(wilson(c["Yes"], denom))
        assert r["n_no_opinion"] == c[DK]
        assert all(r[k] is None for k in ("median", "q1", "q3", "iqr", "mean", "sd"))
        assert r["scale"] == "Inclusion vote (Yes/No)"
    ratings = [x for x in SEVEN["S01"] if isinstance(x, int)]
    assert rows[(1, "S01")]["median"] == sorted(ratings)[4] / 2 + sorted(ratings)[5] / 2
    assert rows[(1, "S01")]["scale"] == "Main scale (1–7)"
    scales = list(wb["Scales"].iter_rows(values_only=True))
    assert [(r[0], r[1], r[3]) for r in scales[1:]] == [
        ("Main scale (1–7)", "round 1", "≥ 75% agreement"),
        ("Inclusion vote (Yes/No)", "round 2", "≥ 70% yes"),
    ]


def test_metrics_csv_names_each_rows_scale(study):
    lines = metrics_csv(study["data"], 2).splitlines()
    assert lines[0].endswith(",scale")
    assert len(lines) == 1 + len(YES_NO)
    assert all(line.endswith(",Inclusion vote (Yes/No)") for line in lines[1:])


# --- feedback documents ------------------------------------------------------------------------


def _feedback(fd, panelist: str) -> dict[str, dict]:
    """Per statement of one panelist's feedback: own answer, distribution rows, summary."""
    html = feedback_html(fd, panelist)
    out = {}
    for sid, body in re.findall(
        r'<section class="stmt" data-statement="([^"]+)">(.*?)</section>', html, re.S
    ):
        page = Page(body)
        (yours,) = page.find("p", "yours")
        (summary,) = page.find("p", "summary")
        out[sid] = {
            "yours": " ".join("".join(yours.text).split()),
            "rows": [[c for c in row if c] for row in page.tables[0]],
            "summary": " ".join("".join(summary.text).split()),
        }
    return out


def test_feedback_yes_no_round_uses_its_labels_and_share_of_yes(study):
    who = study["panelists"][PANEL[0]]  # answered Yes, Yes, No
    doc = _feedback(study["fd2"], who)
    c = tally(YES_NO["S02"])
    n = c["Yes"] + c["No"]
    assert doc["S02"]["yours"] == "Your answer: Yes"
    assert doc["S02"]["rows"] == [
        ["Yes", f"{c['Yes']} ({100 * c['Yes'] / n:.0f}%)", "◀ your answer"],
        ["No", f"{c['No']} ({100 * c['No'] / n:.0f}%)"],
        [f"{DK} (not counted)", str(c[DK])],
    ]
    assert doc["S02"]["summary"].startswith(
        f"n = {n} · {100 * c['Yes'] / n:.0f}% answered Yes ({c['Yes']} of {n}) · "
    )
    assert "median" not in doc["S02"]["summary"]
    assert doc["S04"]["yours"] == "Your answer: No"
    assert doc["S04"]["summary"].endswith("consensus reached: the panel answers No")


def test_feedback_dont_know_counted_is_its_own_row(counted):
    who = counted["panelists"][PANEL[2]]  # answered Don't know on S02
    doc = _feedback(counted["fd2"], who)
    c = tally(YES_NO["S02"])
    denom = c["Yes"] + c["No"] + c[DK]
    assert doc["S02"]["yours"] == f"Your answer: {DK}"
    assert doc["S02"]["rows"] == [
        ["Yes", f"{c['Yes']} ({100 * c['Yes'] / denom:.0f}%)"],
        ["No", f"{c['No']} ({100 * c['No'] / denom:.0f}%)"],
        [DK, f"{c[DK]} ({100 * c[DK] / denom:.0f}%)", "◀ your answer"],
    ]
    assert doc["S02"]["summary"] == (
        f"n = {c['Yes'] + c['No']} · {100 * c['Yes'] / denom:.0f}% answered Yes "
        f"({c['Yes']} of {denom}; the {denom} include {c[DK]} “{DK}”) · no consensus yet"
    )


def test_feedback_seven_point_round_uses_its_labels(study):
    who = study["panelists"][PANEL[0]]  # rated S01 7, S03 1
    doc = _feedback(study["fd1"], who)
    assert doc["S01"]["yours"] == "Your rating: 7 · Essential"
    assert [r[0] for r in doc["S01"]["rows"]] == [
        "7 · Essential",
        "6",  # a point labelled only by its number reads once (issue 17.3), not "6 · 6"
        "5",
        "4",
        "3",
        "2",
        "1 · Not important",
    ]
    assert doc["S03"]["yours"] == "Your rating: 1 · Not important"
    agree = sum(r >= 6 for r in SEVEN["S01"])
    assert f"{10 * agree:.0f}% agree ({agree} of 10 rated 6–7)" in doc["S01"]["summary"]


# --- "Don't know" counted on the main scale ----------------------------------------------------


@pytest.fixture(scope="module")
def main_counted(tmp_path_factory):
    """The tiny 5-point study with "Unable to judge" counted in the main scale's denominator."""
    scale = {
        "min": 1,
        "max": 5,
        "labels": {"Disagree": 2, "Agree": 4, "Strongly agree": 5},
        "no_opinion": ["Unable to judge"],
        "no_opinion_in_denominator": True,
    }
    cfg = tiny_config(statements_tab="", scale=scale)
    db = tmp_path_factory.mktemp("main_counted") / "tiny.duckdb"
    tabs = tiny_tabs()
    refresh(cfg, db, raw=RawSource(tabs=tabs, source="tiny", title="Tiny", all_tabs=list(tabs)))
    with store.connect(db) as con:
        frames = StoreFrames(con, 1)
        ids = dict(con.execute("SELECT identity, panelist FROM identity_map").fetchall())
        return {
            "data": build_report_data(report_inputs(frames), cfg),
            "fd1": build_feedback_data(feedback_inputs(frames), cfg, 1),
            "b": ids["b@x.example"],
        }


def test_main_scale_dont_know_counted_shows_in_bar_and_feedback(main_counted):
    # Round 1, S02 (tests/helpers.tiny_tabs): a's latest answer Disagree, b Unable to judge,
    # c Agree, d blank -> 2 valid ratings + 1 no opinion = a denominator of 3; 1 agrees (4–5)
    rows = _results(html_report(main_counted["data"]))
    s02 = rows[(1, "S02")]
    assert s02["cells"][2] == "Unable to judge: 1 of 3 (33%)"
    assert s02["cells"][4].startswith("33% (1/3)")
    assert [(w, t) for dk, w, t in s02["spans"] if dk] == [("33.3", "Unable to judge: 1 of 3")]
    doc = _feedback(main_counted["fd1"], main_counted["b"])
    assert doc["S02"]["yours"] == "Your rating: Unable to judge"
    assert doc["S02"]["rows"][-1] == ["Unable to judge", "1 (33%)", "◀ your answer"]
    assert "(1 of 3 rated 4–5; the 3 include 1 “Unable to judge”)" in doc["S02"]["summary"]
