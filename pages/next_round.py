"""Next round: keep, revise or drop the statements without consensus, add new ones, and download
the rows for the study's Statements tab."""

from functools import partial

import pandas as pd
import streamlit as st

from lib import next_round, ui

CSV, XLSX = "text/csv", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ui.require_router()
if not ui.at_least("coordinator"):  # app.py offers the page by role
    st.error("This page is for the study coordinator: sign in first.", icon=":material/lock:")
    st.stop()
st.title("Next round")
ui.snapshot_caption()
ui.require_ratings()
sid, statements = ui.snapshot_id(), ui.statements()


@st.cache_data(max_entries=8, show_spinner=False)
def candidates(db: str, snap: int) -> tuple[int, pd.DataFrame]:
    metrics = ui.metrics()
    last = int(metrics["round"].max())
    return last, next_round.next_round_candidates(metrics, ui.comments(), ui.statements(), last)


last, plan = candidates(ui.db_path(), sid)
st.caption(
    f"The {len(plan)} statements without consensus in round {last}. Keep one "
    "as it is, revise its wording (it gets the new ID, and `revised_from` points back), "
    f"or drop it; add new statements below. The result is the rows of round {last + 1} "
    "for the Statements tab, ready to paste into the sheet and the next Google Form."
)
plan = st.data_editor(
    plan,
    key=f"nr_plan_{sid}",
    hide_index=True,
    num_rows="fixed",
    disabled=[c for c in plan.columns if c not in next_round.EDITABLE],
    column_config=ui.columns.NEXT_ROUND_PLAN,
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
st.dataframe(
    rows, hide_index=True, key="nr_preview", alt=f"Rows for the Statements tab, round {last + 1}"
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
