"""AppTest: the Reports page — downloads offered by role — and the Next round page's export.

Streamlit 1.67's AppTest runs app.py (the router) only on the first run; a role is set in session
state before it (see tests/test_pages.py).  Download contents are caught where Streamlit stores
them (``MediaFileManager.add``), so the test reads the very bytes a browser would get.
"""

from __future__ import annotations

import csv
import io
import zipfile

import docx
import openpyxl
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from lib.auth import hash_password
from lib.reports.pdf import pdf_browser
from tests.helpers import Page

REPORT = {"dl_report_html", "dl_report_docx", "dl_report_xlsx", "dl_metrics_csv"}
COORDINATOR = {"dl_fb_zip", "dl_fb_merge", "dl_next_csv", "dl_next_xlsx"}
NEXT_ROUND_PAGE = "pages/next_round.py"


@pytest.fixture
def downloads(monkeypatch) -> dict:
    """file name -> the bytes (or, for a deferred download, the function) Streamlit was given."""
    seen: dict = {}
    add, add_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def spy(self, data, mimetype, coordinates, file_name=None, **kw):
        seen[file_name] = data
        return add(self, data, mimetype, coordinates, file_name, **kw)

    def spy_deferred(self, func, mimetype, coordinates, file_name=None, **kw):
        seen[file_name] = func
        return add_deferred(self, func, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add", spy)
    monkeypatch.setattr(MediaFileManager, "add_deferred", spy_deferred)
    return seen


def _open(at: AppTest, role: str | None, page: str = "pages/reports.py") -> AppTest:
    """The Reports page (or ``page``) for ``role`` (None: demo mode, where everyone is
    coordinator)."""
    if role is not None:
        at.secrets["access"] = {"coordinator_password_hash": hash_password("x", iterations=1000)}
        if role != "observer":
            at.session_state["role"] = role
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    return at


def _keys(at: AppTest) -> set[str]:
    return {b.key for b in at.download_button}


def test_observer_gets_the_consensus_report_only(app, downloads):
    at = _open(app, "observer")
    assert _keys(at) == REPORT
    assert not at.text_area and not at.data_editor and not at.get("iframe")
    html = downloads["delphi_report_snapshot1.html"]()
    assert "steering committee only" in Page(html).text  # no comments for observers


def test_committee_edits_the_narrative_of_the_report(app, downloads):
    at = _open(app, "committee")
    assert _keys(at) == REPORT
    at.text_area(key="rep_narrative_1").input("Our agreed methods text.").run()
    assert not at.exception
    assert "Our agreed methods text." in Page(downloads["delphi_report_snapshot1.html"]()).text
    wb = openpyxl.load_workbook(io.BytesIO(downloads["delphi_report_snapshot1.xlsx"]()))
    assert wb["Methods"]["B2"].value == "Our agreed methods text."
    word = docx.Document(io.BytesIO(downloads["delphi_report_snapshot1.docx"]()))
    assert "Our agreed methods text." in [p.text for p in word.paragraphs]


def test_coordinator_gets_feedback_and_next_round_downloads(app, downloads):
    at = _open(app, None, NEXT_ROUND_PAGE)  # the next-round builder has its own page
    keys = _keys(at)
    at.switch_page("pages/reports.py").run()
    at.button(key="dl_fb_zip__go").click().run()  # the pack is prepared first, with progress
    assert not at.exception
    keys |= _keys(at)
    assert REPORT | COORDINATOR <= keys
    names = zipfile.ZipFile(io.BytesIO(downloads["feedback_round3_html.zip"])).namelist()
    assert len(names) == 15 and names[0] == "feedback_round3_P01.html"
    at.button(key="dl_fb_docx__go").click().run()  # the Word pack, prepared the same way
    assert not at.exception and "dl_fb_docx" in _keys(at)
    words = zipfile.ZipFile(io.BytesIO(downloads["feedback_round3_docx.zip"])).namelist()
    assert words == [n.removesuffix(".html") + ".docx" for n in names]
    assert ("dl_fb_pdf__go" in {b.key for b in at.button}) == (pdf_browser() is not None)
    merge = list(csv.DictReader(io.StringIO(downloads["feedback_round3_mail_merge.csv"]())))
    assert len(merge) == 15 and merge[0]["file_name"] == "feedback_round3_P01.html"


def test_feedback_pack_is_not_built_until_asked_for(app, downloads):
    at = _open(app, None)
    assert "dl_fb_zip" not in _keys(at) and "feedback_round3_html.zip" not in downloads
    assert at.button(key="dl_fb_zip__go").label == "Prepare All feedback (ZIP of HTML)"


def test_feedback_preview_is_rendered_only_when_opened(app):
    at = _open(app, None)
    assert not at.get("iframe")  # a collapsed preview sends no document
    at.toggle(key="fb_preview_on").set_value(True).run()
    assert not at.exception and len(at.get("iframe")) == 1


def test_coordinator_next_round_export_follows_the_editor(app, downloads):
    at = _open(app, None, NEXT_ROUND_PAGE)
    at.session_state["nr_plan_1_3"] = {  # snapshot 1, round 3 closed
        "edited_rows": {
            0: {"action": "revise", "revised_text": "Clearer wording."},
            1: {"action": "drop"},
        },
        "added_rows": [],
        "deleted_rows": [],
    }
    at.session_state["nr_new_1"] = {
        "edited_rows": {},
        "deleted_rows": [],
        "added_rows": [{"domain": "Dosing", "text": "A statement from the comments."}],
    }
    at.run()
    assert not at.exception and not at.warning
    rows = list(csv.DictReader(io.StringIO(downloads["statements_round4.csv"]())))
    assert [(r["statement_id"], r["round"], r["revised_from"]) for r in rows] == [
        ("S07c", "4", "S07b"),
        ("S18", "4", ""),
        ("S33", "4", ""),
        ("S35a", "4", ""),
        ("S43", "4", ""),
    ]
    assert rows[0]["text"] == "Clearer wording."
    assert rows[-1]["text"] == "A statement from the comments." and rows[-1]["domain"] == "Dosing"


def test_next_round_problem_blocks_the_export(app):
    at = _open(app, None, NEXT_ROUND_PAGE)
    at.session_state["nr_plan_1_3"] = {  # snapshot 1, round 3 closed
        "edited_rows": {0: {"action": "revise"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert "revise needs a new wording" in at.warning[0].value
    assert at.download_button(key="dl_next_csv").proto.disabled


def test_mail_merge_list_carries_the_pre_filled_links_made_for_that_round(app, downloads):
    # what the Next round page keeps once "Make the links" read the round-4 form back
    link = "https://docs.google.com/forms/d/e/1FAIp/viewform?usp=pp_url&entry.123=Agree"
    app.session_state["form_links"] = ((1, 3), {"P01": link})  # (snapshot, round just closed)
    at = _open(app, None)
    merge = list(csv.DictReader(io.StringIO(downloads["feedback_round3_mail_merge.csv"]())))
    assert merge[0]["pseudonym"] == "P01" and merge[0]["form_link"] == link
    assert {row["form_link"] for row in merge[1:]} == {""}  # no link made for them
    assert any("pre-filled link to the round 4 form" in c.value for c in at.caption)
    at.selectbox(key="fb_round").select(at.selectbox(key="fb_round").options[1]).run()
    merge = list(csv.DictReader(io.StringIO(downloads["feedback_round2_mail_merge.csv"]())))
    assert "form_link" not in merge[0]  # the links follow round 3, not round 2


def test_links_made_from_another_snapshot_are_not_in_the_mail_merge_list(app, downloads):
    app.session_state["form_links"] = ((7, 3), {"P01": "https://forms.example/?entry.1=a"})
    _open(app, None)  # the demo has snapshot 1 only: links made from snapshot 7 are stale
    merge = list(csv.DictReader(io.StringIO(downloads["feedback_round3_mail_merge.csv"]())))
    assert "form_link" not in merge[0]
