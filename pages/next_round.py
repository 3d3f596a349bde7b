"""Next round: keep, revise or drop the statements without consensus in the round just closed,
add new ones, download the rows for the study's Statements tab, and fill the Google Form."""

from functools import partial

import pandas as pd
import streamlit as st

from lib import next_round, ui
from lib.analysis.summary import round_labels
from lib.ui.forms import form_panel

CSV, XLSX = "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# what the coordinator edits first, then the results they decide on; the old wording last
ORDER = ["action", "statement_id", "revised_text", "new_id", "note", "pct_agree", "median",
         "iqr", "n", "comments", "text", "domain"]  # fmt: skip
PLAN_COLUMNS = {
    **ui.columns.NEXT_ROUND_PLAN,
    "revised_text": st.column_config.TextColumn(
        "Wording for the next round", width="large",
        help="Starts as the current wording: edit it and choose revise",
    ),
    "new_id": st.column_config.TextColumn("New ID", width="small", help="Used with revise"),
    "note": st.column_config.TextColumn("Note (why)", width="medium"),
    "text": st.column_config.TextColumn("Current wording", width="medium"),
}  # fmt: skip
ui.require_router()
if not ui.at_least("coordinator"):  # app.py offers the page by role
    st.error("This page is for the study coordinator: sign in first.", icon=":material/lock:")
    st.stop()
st.title("Next round")
ui.snapshot_caption()
ui.require_ratings()
sid, statements = ui.snapshot_id(), ui.statements()


@st.cache_data(max_entries=8, show_spinner=False)
def candidates(db: str, snap: int, rnd: int) -> pd.DataFrame:
    return next_round.next_round_candidates(ui.metrics(), ui.comments(), ui.statements(), rnd)


round_of = round_labels(ui.metrics())
picked = st.selectbox(
    "Round just closed", list(round_of), len(round_of) - 1, key="nr_round", width=260
)
last = round_of[picked]
if last + 1 in round_of.values():  # building over a round that was rated already
    st.warning(
        f"Round {last + 1} was already rated in this snapshot: what you build here would be a "
        f"second round {last + 1}, beside the one the panel answered. To prepare the next round, "
        f"pick the last round rated (round {max(round_of.values())}).",
        icon=":material/warning:",
    )
plan = candidates(ui.db_path(), sid, last)
st.caption(
    f"The {len(plan)} statements without consensus in round {last}. Keep one "
    "as it is, revise its wording (edit it in place: it gets the new ID, and `revised_from` "
    f"points back), or drop it; add new statements below. The result is the rows of round "
    f"{last + 1} for the Statements tab, ready to paste into the sheet and the next Google Form."
)
plan = st.data_editor(
    plan,
    key=f"nr_plan_{sid}_{last}",
    hide_index=True,
    num_rows="fixed",
    disabled=[c for c in plan.columns if c not in next_round.EDITABLE],
    column_config=PLAN_COLUMNS,
    column_order=ORDER,
    alt=f"Statements without consensus in round {last}, with a decision for each",
)
st.subheader("New statements")
new = st.data_editor(
    next_round.new_statements(),
    key=f"nr_new_{sid}",
    hide_index=True,
    num_rows="dynamic",
    column_config=ui.columns.new_statements(
        next_round.new_statement_id(statements["statement_id"]),
        sorted(statements["domain"].dropna().unique()),
    ),
    alt="New statements for the next round",
)
rows, problems = next_round.next_round_rows(plan, new, last + 1, statements["statement_id"])
st.subheader(f"Rows for the Statements tab, round {last + 1}")
for problem in problems:
    st.warning(ui.escape(problem), icon=":material/warning:")
st.dataframe(  # a statement revised from none shows an empty cell, not "None"
    rows.fillna({"revised_from": ""}),
    hide_index=True,
    key="nr_preview",
    alt=f"Rows for the Statements tab, round {last + 1}",
)
st.caption(
    f"{len(rows)} statements; the columns are those of the Statements tab. "
    + ("Fix the problems above to download." if problems else "")
)
name = f"Round {last + 1} statements"
xlsx = partial(next_round.next_round_xlsx, plan=plan)  # the workbook has the decisions too
FILES = [  # label, build(rows), file name suffix, mime type, widget key, icon
    (f"{name} (CSV)", next_round.next_round_csv, ".csv", CSV, "dl_next_csv", "csv"),
    (f"{name} (XLSX)", xlsx, ".xlsx", XLSX, "dl_next_xlsx", "table"),
]
ui.download_buttons(
    rows, f"statements_round{last + 1}", FILES, primary=False, disabled=bool(problems)
)
st.subheader(f"Google Form for round {last + 1}")
notes = next_round.row_notes(plan, rows)
frames = {"metrics": ui.metrics(), "distribution": ui.distribution(), "ratings": ui.ratings(),
          "recipients": ui.recipients()}  # fmt: skip
form_panel(rows, last, notes, ui.config(), frames, disabled=bool(problems), key=f"nr_form_{sid}")
