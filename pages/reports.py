"""Reports: the consensus report to publish and, for the coordinator, feedback for each panelist."""

from functools import partial
from typing import BinaryIO

import streamlit as st

from lib import ui
from lib.analysis import agreement, stability, summary
from lib.reports import data as rd
from lib.reports.feedback import feedback_parts, mail_merge_csv, write_feedback_zip
from lib.reports.html import html_report
from lib.reports.inputs import feedback_inputs, report_inputs
from lib.reports.pdf import pdf_browser, write_feedback_pdf_zip
from lib.reports.xlsx import metrics_csv, xlsx_report
from lib.ui.forms import form_links
from lib.ui.loaders import one_connection

CSV, ZIP = "text/csv", "application/zip"
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def docx_report(data: rd.ReportData) -> bytes:
    """lib.reports.docx's, imported on the first click (python-docx: 0.15 s of the first
    render otherwise)."""
    from lib.reports.docx import docx_report

    return docx_report(data)


def write_feedback_docx_zip(fd: rd.FeedbackData, out: BinaryIO, progress=None) -> None:
    """lib.reports.docx's, imported when the pack is prepared."""
    from lib.reports.docx import write_feedback_docx_zip

    write_feedback_docx_zip(fd, out, progress)


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT = [  # label, build(data), file name suffix, mime type, widget key, icon
    ("HTML report", html_report, ".html", "text/html", "dl_report_html", "description"),
    ("Word (DOCX)", docx_report, ".docx", DOCX_MIME, "dl_report_docx", "article"),
    ("Workbook (XLSX)", partial(xlsx_report, human=True), ".xlsx", XLSX, "dl_report_xlsx", "table"),
    ("Metrics (CSV)", metrics_csv, "_metrics.csv", CSV, "dl_metrics_csv", "csv"),
]
HELP = {
    "dl_report_html": "One file that opens offline and prints to PDF from a browser.",
    "dl_report_xlsx": "One sheet per table, headed for people (units, rounded); the CSV keeps "
    "the machine names.",
    "dl_report_docx": "To edit the methods and results into a manuscript (Word, LibreOffice).",
    "dl_fb_pdf": "Printed by Chromium on the server, about a second per panelist; you can cancel.",
}
ui.require_router()
st.title("Reports")
ui.snapshot_caption()
ui.require_ratings()
cfg, sid = ui.config(), ui.snapshot_id()
committee, coordinator = ui.at_least("committee"), ui.at_least("coordinator")


def statistics() -> tuple:
    """Kendall's W and the stability between rounds as Trends and the Overview cached them."""
    return (
        ui.stat(agreement.kendall_w, False, cfg.scale_map),
        ui.stat(stability.stability, cfg.rule.agree, cfg.scale_map),
    )


@st.cache_data(max_entries=8, show_spinner="Preparing the report…")
def report(db: str, snap: int, study: str | None, said: bool, every: bool) -> rd.ReportData:
    with one_connection():  # the frames not cached yet, read through one connection
        frames = report_inputs(ui, include_comments=said, all_groups=every)
    # the pages' statistics hold for the snapshot's own rule only
    same = rd.snapshot_scales(frames.info, cfg).main.rule == cfg.rule
    return rd.build_report_data(frames, cfg, statistics if same else None)


@st.cache_data(max_entries=8, show_spinner="Preparing the feedback…")
def feedback(db: str, snap: int, study: str | None, rnd: int) -> rd.FeedbackData:
    with one_connection():
        frames = feedback_inputs(ui)
    same = rd.snapshot_scales(frames.info, cfg).main.rule == cfg.rule
    return rd.build_feedback_data(frames, ui.config(), rnd, statistics if same else None)


@st.cache_data(max_entries=8, show_spinner="Preparing the preview…")
def preview_parts(db: str, snap: int, study: str | None, rnd: int) -> dict:
    """Each statement's part of the documents: for the preview only (the packs make their own)."""
    return feedback_parts(feedback(db, snap, study, rnd))


st.header("Consensus report")
comments = committee or cfg.observer_comments
data = report(ui.db_path(), sid, cfg.path, comments, committee)  # groups: committee's only
st.caption(
    "Follows the reporting items of ACCORD 2024 and CREDES 2017: the pre-registered "
    "consensus rule, response per round, flow of panelists and statements, results per "
    "statement and round, the final list, items dropped and why, and the software used. "
    "Every file names the snapshot and rule version it was computed from."
)
data = ui.report_narrative(data, committee, key=f"rep_narrative_{sid}")
ui.download_buttons(data, f"delphi_report_snapshot{sid}", REPORT, HELP)
if data.stats_note:
    st.caption(f"Panel statistics: {ui.escape(data.stats_note)}")
if not coordinator:
    st.stop()

st.header("Feedback for each panelist")
# text options (not numbers): tests can pick every value
round_of = summary.round_labels(data.metrics)
picked = st.selectbox(
    "Round just closed", list(round_of), len(round_of) - 1, key="fb_round", width=260
)
rnd = round_of[picked]
fd = feedback(ui.db_path(), sid, cfg.path, rnd)
st.caption(
    f"One document per panelist ({len(fd.panelists)}): for each of the "
    f"{len(fd.metrics)} statements of round {rnd}, the panel's distribution, median, IQR "
    "and percentage agreement with their own rating marked, and the anonymous comments. "
    "Files are named by pseudonym; the mail-merge file links each to an email address."
)
links = form_links(rnd)  # made on the Next round page, for the form that follows this round
pdf = pdf_browser()
merge = partial(mail_merge_csv, recipients=ui.recipients(), links=links)
if links:
    st.caption(
        f"The mail-merge list carries each panelist's personal pre-filled link to the round "
        f"{rnd + 1} form (column form_link), made on the Next round page."
    )
FEEDBACK = [  # as REPORT; a file whose build is None is not offered
    ("Mail-merge list (CSV)", merge, "_mail_merge.csv", CSV, "dl_fb_merge", "mail"),
]
ui.download_buttons(fd, f"feedback_round{rnd}", FEEDBACK, HELP)
# the packs of every panelist's document: prepared with a progress bar, then downloaded
stem, token = f"feedback_round{rnd}", (sid, rnd)
with st.container(horizontal=True):
    ui.prepared_download(
        "All feedback (ZIP of HTML)",
        partial(write_feedback_zip, fd),
        f"{stem}_html.zip",
        ZIP,
        "dl_fb_zip",
        token,
        icon="folder_zip",
    )
    ui.prepared_download(
        "All feedback (ZIP of Word)",
        partial(write_feedback_docx_zip, fd),
        f"{stem}_docx.zip",
        ZIP,
        "dl_fb_docx",
        token,
        icon="article",
    )
    if pdf:
        ui.prepared_download(
            "All feedback (ZIP of PDF)",
            lambda out, progress: write_feedback_pdf_zip(fd, pdf, out, progress),
            f"{stem}_pdf.zip",
            ZIP,
            "dl_fb_pdf",
            token,
            icon="picture_as_pdf",
            help=HELP["dl_fb_pdf"],
            cancel=True,
        )
if not pdf:
    st.caption(
        "PDF needs Chromium on the server (e.g. `apt-get install chromium`); until "
        "then, download the HTML files and print them from a browser."
    )
# rendered only when asked for: a collapsed expander still sends its document to the browser
if st.toggle("Preview a panelist's document", key="fb_preview_on"):
    ui.feedback_preview(fd, preview_parts(ui.db_path(), sid, cfg.path, rnd), key="fb_preview")
