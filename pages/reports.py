"""Reports: the consensus report to publish, feedback for each panelist, and the next round."""

import base64
from functools import partial

import pandas as pd
import streamlit as st

from lib import reports, store, ui

ui.require_router()

st.title("Reports")
ui.snapshot_caption()
cfg = ui.config()
sid = ui.snapshot_id()
committee, coordinator = ui.at_least("committee"), ui.at_least("coordinator")


@st.cache_data(max_entries=8, show_spinner="Preparing the report…")
def report_data(db: str, snapshot: int, study: str | None, comments: bool,
                min_group: int | None) -> reports.ReportData:
    with store.connect(db) as con:
        return reports.gather(con, snapshot, ui.config(), include_comments=comments,
                              min_group_size=min_group)


@st.cache_data(max_entries=8, show_spinner="Preparing the feedback…")
def feedback_data(db: str, snapshot: int, study: str | None, rnd: int) -> reports.FeedbackData:
    with store.connect(db) as con:
        return reports.gather_feedback(con, snapshot, ui.config(), rnd)


@st.cache_data(max_entries=8, show_spinner=False)
def feedback_parts(db: str, snapshot: int, study: str | None, rnd: int) -> dict:
    return reports.feedback_parts(feedback_data(db, snapshot, study, rnd))


@st.cache_data(max_entries=8, show_spinner=False)
def next_round_candidates(db: str, snapshot: int, last: int) -> pd.DataFrame:
    return reports.next_round_candidates(ui.metrics(), ui.load("comments_for"),
                                         ui.load("statements_for"), last)


# --- 1. the consensus report ------------------------------------------------------------------
st.header("Consensus report")
data = report_data(ui.db_path(), sid, cfg.path, committee or cfg.observer_comments,
                   None if committee else cfg.min_group_size)
st.caption("Follows the reporting items of ACCORD 2024 and CREDES 2017: the pre-registered "
           "consensus rule, response per round, flow of panelists and statements, results per "
           "statement and round, the final list, items dropped and why, and the software used. "
           "Every file names the snapshot and rule version it was computed from.")
if committee:
    text = st.text_area(
        "Methods and results", value=data.narrative, height=280, key=f"rep_narrative_{sid}",
        help="Drafted from the data with the numbers filled in. Edit it here; the downloads "
             "below carry your text.")
    data = reports.with_narrative(data, text)
else:
    with st.expander("Methods and results (draft)"):
        st.text(data.narrative)

stem = f"delphi_report_snapshot{sid}"
with st.container(horizontal=True):
    st.download_button("HTML report", partial(reports.html_report, data), f"{stem}.html",
                       "text/html", key="dl_report_html", on_click="ignore", type="primary",
                       icon=":material/description:",
                       help="One file that opens offline and prints to PDF from a browser.")
    st.download_button("Workbook (XLSX)", partial(reports.xlsx_report, data), f"{stem}.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key="dl_report_xlsx", on_click="ignore", icon=":material/table:")
    st.download_button("Metrics (CSV)", partial(reports.metrics_csv, data), f"{stem}_metrics.csv",
                       "text/csv", key="dl_metrics_csv", on_click="ignore",
                       icon=":material/csv:")
if data.stats_note:
    st.caption(f"Panel statistics: {ui.escape(data.stats_note)}")

if not coordinator:
    st.stop()

# --- 2. feedback for each panelist (coordinator only) ------------------------------------------
st.header("Feedback for each panelist")
rounds = sorted(int(r) for r in data.metrics["round"].unique())
round_of = {f"Round {r}": r for r in rounds}  # text options: tests can pick every value
rnd = round_of[st.selectbox("Round just closed", list(round_of), index=len(rounds) - 1,
                            key="fb_round", width=260)]
fd = feedback_data(ui.db_path(), sid, cfg.path, rnd)
st.caption(f"One document per panelist ({len(fd.panelists)}): for each of the "
           f"{len(fd.metrics)} statements of round {rnd}, the panel's distribution, median, IQR "
           "and percentage agreement with their own rating marked, and the anonymous comments. "
           "Files are named by pseudonym; the mail-merge file links each to an email address.")
recipients = ui.load("feedback_recipients")
pdf = reports.pdf_browser()
with st.container(horizontal=True):
    st.download_button("All feedback (ZIP of HTML)", partial(reports.feedback_zip, fd),
                       f"feedback_round{rnd}_html.zip", "application/zip", key="dl_fb_zip",
                       on_click="ignore", type="primary", icon=":material/folder_zip:")
    st.download_button("Mail-merge list (CSV)", partial(reports.mail_merge_csv, fd, recipients),
                       f"feedback_round{rnd}_mail_merge.csv", "text/csv", key="dl_fb_merge",
                       on_click="ignore", icon=":material/mail:")
    if pdf:
        st.download_button("All feedback (ZIP of PDF)",
                           partial(reports.feedback_pdf_zip, fd, pdf),
                           f"feedback_round{rnd}_pdf.zip", "application/zip", key="dl_fb_pdf",
                           on_click="ignore", icon=":material/picture_as_pdf:",
                           help="Printed by Chromium on the server; takes a few seconds.")
if not pdf:
    st.caption("PDF needs Chromium on the server (e.g. `apt-get install chromium`); until "
               "then, download the HTML files and print them from a browser.")

with st.expander("Preview a panelist's document", icon=":material/visibility:"):
    who = st.selectbox("Panelist", fd.panelists, key="fb_preview", width=260)
    html = reports.feedback_html(fd, who, feedback_parts(ui.db_path(), sid, cfg.path, rnd))
    doc = base64.b64encode(html.encode("utf-8")).decode("ascii")
    # A data: URL has an opaque origin: the preview cannot reach the app even in theory.
    st.iframe(f"data:text/html;base64,{doc}", height=600, alt=f"Feedback document of {who}")

# --- 3. the next round (coordinator only) -----------------------------------------------------
st.header("Next round")
last = rounds[-1]
statements = ui.load("statements_for")
candidates = next_round_candidates(ui.db_path(), sid, last)
st.caption(f"The {len(candidates)} statements without consensus in round {last}. Keep one "
           "as it is, revise its wording (it gets the new ID, and `revised_from` points back), "
           f"or drop it; add new statements below. The result is the rows of round {last + 1} "
           "for the Statements tab, ready to paste into the sheet and the next Google Form.")
plan = st.data_editor(
    candidates, key=f"nr_plan_{sid}", hide_index=True, num_rows="fixed",
    disabled=[c for c in candidates.columns if c not in ("action", "revised_text", "new_id",
                                                         "note")],
    column_config={
        "action": st.column_config.SelectboxColumn("Action", options=list(reports.ACTIONS),
                                                   required=True, width="small"),
        "statement_id": "ID", "text": st.column_config.TextColumn("Wording", width="large"),
        "revised_text": st.column_config.TextColumn("Revised wording", width="large"),
        "new_id": st.column_config.TextColumn("New ID", help="Used when the action is revise"),
        "note": st.column_config.TextColumn("Note (why)"),
        "pct_agree": st.column_config.NumberColumn("% agree", format="%.0f"),
        "median": st.column_config.NumberColumn("Median", format="%.1f"),
        "iqr": st.column_config.NumberColumn("IQR", format="%.2f"),
        "comments": st.column_config.TextColumn("Comments", width="large"),
        "domain": "Domain"},
    alt=f"Statements without consensus in round {last}, with a decision for each")
st.subheader("New statements")
new = st.data_editor(
    pd.DataFrame({"statement_id": pd.Series(dtype="str"), "domain": pd.Series(dtype="str"),
                  "text": pd.Series(dtype="str")}),
    key=f"nr_new_{sid}", hide_index=True, num_rows="dynamic",
    column_config={
        "statement_id": st.column_config.TextColumn(
            "ID", help=f"Leave empty for the next free one "
                       f"({reports.new_statement_id(statements['statement_id'])})"),
        "domain": st.column_config.SelectboxColumn(
            "Domain", options=sorted(statements["domain"].dropna().unique())),
        "text": st.column_config.TextColumn("Wording", width="large")},
    alt="New statements for the next round")
rows, problems = reports.next_round_rows(plan, new, last + 1, statements["statement_id"])
st.subheader(f"Rows for the Statements tab, round {last + 1}")
for problem in problems:
    st.warning(problem, icon=":material/warning:")
st.dataframe(rows, hide_index=True, key="nr_preview",
             alt=f"Rows for the Statements tab, round {last + 1}")
st.caption(f"{len(rows)} statements; the columns are those of the Statements tab. "
           + ("Fix the problems above to download." if problems else ""))
with st.container(horizontal=True):
    st.download_button(f"Round {last + 1} statements (CSV)", partial(reports.next_round_csv, rows),
                       f"statements_round{last + 1}.csv", "text/csv", key="dl_next_csv",
                       on_click="ignore", disabled=bool(problems), icon=":material/csv:")
    st.download_button(f"Round {last + 1} statements (XLSX)",
                       partial(reports.next_round_xlsx, rows, plan),
                       f"statements_round{last + 1}.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       key="dl_next_xlsx", on_click="ignore", disabled=bool(problems),
                       icon=":material/table:")
