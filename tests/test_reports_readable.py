"""The documents a panelist reads (issue 17.3) and the feedback packs at scale (issue 18.3): one
label per point, no jargon, no "next round" after the last, each statement's own comments
capped, a ZIP written document by document, a PDF pack that stops when asked."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace

import pandas as pd
import pytest

from lib import store
from lib.reports import charts
from lib.reports.data import build_feedback_data, build_report_data
from lib.reports.feedback import (
    COMMENTS_SHOWN,
    feedback_html,
    feedback_zip,
    write_feedback_zip,
)
from lib.reports.html import html_report
from lib.reports.inputs import StoreFrames, feedback_inputs, report_inputs
from lib.reports.pdf import pdf_browser, write_feedback_pdf_zip
from tests.helpers import Page


@pytest.fixture(scope="module")
def frames(demo_db_master):
    with store.connect(demo_db_master) as con:
        sid = store.current_snapshot_id(con)
        return feedback_inputs(StoreFrames(con, sid)), report_inputs(StoreFrames(con, sid))


@pytest.fixture(scope="module")
def fd3(frames, demo_cfg):
    return build_feedback_data(frames[0], demo_cfg, 3)


def _own_and_rows(html: str) -> tuple[list[str], list[str]]:
    page = Page(html)
    own = ["".join(b.text) for b in page.find("b") if "data-own" in b.attrs]
    labels = ["".join(td.text) for td in page.find("td", "lab")]
    return own, labels


# --- one label per point ------------------------------------------------------------------------


def test_forms_style_labels_read_once_per_point():
    # Google Forms' linear scale: the ends labelled "1 - Strongly disagree", the rest plain numbers
    labels = {1: "1 - Strongly disagree", **{s: str(s) for s in range(2, 9)}}
    labels[9] = "9 - Strongly agree"
    rows = charts.distribution_rows({6: 3, 9: 1}, charts.clean_labels(labels), 6)
    assert [r.label for r in rows][:4] == ["9 · Strongly agree", "8", "7", "6"]
    assert rows[-1].label == "1 · Strongly disagree"


def test_feedback_with_forms_style_labels_shows_no_doubled_label(fd3):
    forms = {1: "1 - Strongly disagree", 2: "2", 3: "3", 4: "4", 5: "5 - Strongly agree"}
    html = feedback_html(replace(fd3, scale=forms), "P03")
    own, labels = _own_and_rows(html)
    assert {"5 · Strongly agree", "4", "3", "2", "1 · Strongly disagree"} <= set(labels)
    assert not [x for x in own + labels if x.count("·") > 1 or x in {"4 · 4", "3 · 3", "2 · 2"}]


# --- plain words; the last round --------------------------------------------------------------


def test_feedback_and_report_state_the_rule_without_jargon(fd3, frames, demo_cfg):
    page = Page(feedback_html(fd3, "P03")).text
    assert "the panel agrees with a statement when at least 75% rate it 4–5" in page
    report = Page(html_report(build_report_data(frames[1], demo_cfg))).text
    for text in (page, report):
        assert "mirror image" not in text and "Consensus out:" not in text


def test_last_round_feedback_thanks_instead_of_inviting_to_a_next_round(fd3):
    # the demo's [stopping] says max_rounds = 3: round 3 ended the study
    assert fd3.final
    text = Page(feedback_html(fd3, "P03")).text
    assert "next round" not in text and "last round of the study" in text


def test_earlier_round_feedback_invites_to_the_next_round(frames, demo_cfg):
    fd = build_feedback_data(frames[0], demo_cfg, 2)
    assert not fd.final
    assert "when you answer the next round" in Page(feedback_html(fd, "P03")).text


def test_without_a_stopping_rule_no_round_is_the_last(frames, demo_cfg):
    fd = build_feedback_data(frames[0], replace(demo_cfg, stopping=None), 3)
    assert not fd.final and "next round" in Page(feedback_html(fd, "P03")).text


# --- comments at scale --------------------------------------------------------------------------


def _many_comments(fd, sid: str, n: int):
    said = [f"Comment number {i} on {sid}." for i in range(n)]
    extra = pd.DataFrame({"round": [fd.round] * n, "statement_id": [sid] * n, "comment": said})
    return replace(fd, comments=pd.concat([fd.comments, extra], ignore_index=True))


def test_feedback_shows_each_statements_own_comments_capped(fd3):
    sid, other = fd3.metrics["statement_id"].iloc[0], fd3.metrics["statement_id"].iloc[1]
    fd = _many_comments(fd3, sid, 25)
    page = Page(feedback_html(fd, "P03"))
    cards = {s.attrs["data-statement"]: s for s in page.find("section", "stmt")}
    mine = [li for li in page.find("li", "comment") if li.inside("data-statement") == sid]
    before = sum(1 for c in fd3.comments["statement_id"] if c == sid)
    assert len(mine) == COMMENTS_SHOWN
    more = 25 + before - COMMENTS_SHOWN
    assert f"{more} more comments are not" in page.text
    theirs = [li for li in page.find("li", "comment") if li.inside("data-statement") == other]
    assert not any(f"on {sid}." in "".join(li.text) for li in theirs) and other in cards


def test_report_counts_the_comments_it_leaves_to_the_workbook(frames, demo_cfg):
    data = build_report_data(frames[1], demo_cfg)
    sid = data.comments["statement_id"].iloc[0]
    rnd = int(data.comments["round"].iloc[0])
    n = int(((data.comments["statement_id"] == sid) & (data.comments["round"] == rnd)).sum())
    extra = pd.DataFrame(
        {"round": [rnd] * 30, "statement_id": [sid] * 30, "comment": ["Same again."] * 30}
    )
    html = html_report(replace(data, comments=pd.concat([data.comments, extra])))
    assert f"{n + 30 - 10} more comments on it in the workbook (XLSX)" in Page(html).text


def test_report_carries_plotly_js_once(frames, demo_cfg):
    html = html_report(build_report_data(frames[1], demo_cfg))
    # the bundle's banner comment: once for the whole document, not once per chart
    assert html.count("* plotly.js v") == 1 and html.count('class="plotly-graph-div"') == 2


# --- packs written document by document -----------------------------------------------------------


def test_feedback_zip_is_written_document_by_document_with_progress(fd3):
    seen: list[tuple[int, int]] = []
    out = io.BytesIO()
    write_feedback_zip(fd3, out, lambda done, total: seen.append((done, total)))
    n = len(fd3.panelists)
    assert seen == [(i, n) for i in range(1, n + 1)]
    streamed = zipfile.ZipFile(out)
    whole = zipfile.ZipFile(io.BytesIO(feedback_zip(fd3)))
    assert streamed.namelist() == whole.namelist()
    name = streamed.namelist()[2]
    assert streamed.read(name).decode() == feedback_html(fd3, fd3.panelists[2])


@pytest.mark.skipif(pdf_browser() is None, reason="no Chromium to print PDFs")
def test_pdf_pack_stops_when_the_page_cancels(fd3):
    class Cancelled(Exception):
        pass

    def cancel_after_two(done: int, total: int) -> None:
        if done == 2:
            raise Cancelled  # what the page's Cancel does: the rerun stops the script here

    out = io.BytesIO()
    with pytest.raises(Cancelled):
        write_feedback_pdf_zip(fd3, pdf_browser(), out, cancel_after_two, workers=1)
    # the archive is closed with the two documents written before the stop, and no more
    assert zipfile.ZipFile(out).namelist() == [
        f"feedback_round3_{p}.pdf" for p in fd3.panelists[:2]
    ]
