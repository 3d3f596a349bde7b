"""Reports: the consensus report to publish and, for the coordinator, feedback for each panelist."""

from functools import partial

import streamlit as st

from lib import ui
from lib.analysis import summary
from lib.reports import data as rd
from lib.reports.feedback import feedback_parts, feedback_zip, mail_merge_csv
from lib.reports.html import html_report
from lib.reports.inputs import feedback_inputs, report_inputs
from lib.reports.pdf import feedback_pdf_zip, pdf_browser
from lib.reports.xlsx import metrics_csv, xlsx_report

CSV, ZIP = "text/csv", "application/zip"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
REPORT = [  # label, build(data), file name suffix, mime type, widget key, icon
    ("HTML report", html_report, ".html", "text/html", "dl_report_html", "description"),
    ("Workbook (XLSX)", xlsx_report, ".xlsx", XLSX, "dl_report_xlsx", "table"),
    ("Metrics (CSV)", metrics_csv, "_metrics.csv", CSV, "dl_metrics_csv", "csv"),
]
HELP = {
    "dl_report_html": "One file that opens offline and prints to PDF from a browser.",
    "dl_fb_pdf": "Printed by Chromium on the server; takes a few seconds.",
}
ui.require_router()
st.title("Reports")
ui.snapshot_caption()
ui.require_ratings()
cfg, sid = ui.config(), ui.snapshot_id()
committee, coordinator = ui.at_least("committee"), ui.at_least("coordinator")


@st.cache_data(max_entries=8, show_spinner="Preparing the report…")
def report(db: str, snap: int, study: str | None, said: bool, every: bool) -> rd.ReportData:
    return rd.build_report_data(report_inputs(ui, include_comments=said, all_groups=every), cfg)


@st.cache_data(max_entries=8, show_spinner="Preparing the feedback…")
def feedback(db: str, snap: int, study: str | None, rnd: int) -> tuple[rd.FeedbackData, dict]:
    fd = rd.build_feedback_data(feedback_inputs(ui), ui.config(), rnd)
    return fd, feedback_parts(fd)


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
fd, parts = feedback(ui.db_path(), sid, cfg.path, rnd)
st.caption(
    f"One document per panelist ({len(fd.panelists)}): for each of the "
    f"{len(fd.metrics)} statements of round {rnd}, the panel's distribution, median, IQR "
    "and percentage agreement with their own rating marked, and the anonymous comments. "
    "Files are named by pseudonym; the mail-merge file links each to an email address."
)
pdf, merge = pdf_browser(), partial(mail_merge_csv, recipients=ui.recipients())
pdf_zip = partial(feedback_pdf_zip, browser=pdf) if pdf else None
FEEDBACK = [  # as REPORT; a file whose build is None is not offered
    ("All feedback (ZIP of HTML)", feedback_zip, "_html.zip", ZIP, "dl_fb_zip", "folder_zip"),
    ("Mail-merge list (CSV)", merge, "_mail_merge.csv", CSV, "dl_fb_merge", "mail"),
    ("All feedback (ZIP of PDF)", pdf_zip, "_pdf.zip", ZIP, "dl_fb_pdf", "picture_as_pdf"),
]
ui.download_buttons(fd, f"feedback_round{rnd}", FEEDBACK, HELP)
if not pdf:
    st.caption(
        "PDF needs Chromium on the server (e.g. `apt-get install chromium`); until "
        "then, download the HTML files and print them from a browser."
    )
ui.feedback_preview(fd, parts, key="fb_preview")
