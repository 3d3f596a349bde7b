"""Coordinator: the source sheet, Refresh now, publication and history, validation problems of
any snapshot, non-responders, who meets which eligibility criterion."""

import streamlit as st

from lib import coordination, ui
from lib.config import rule_version_warning
from lib.reports.safety import safe_csv
from lib.ui.forms import results_panel

ui.require_router()
if not ui.at_least("coordinator"):  # app.py offers the page by role; this page shows identities
    st.error("This page is for the study coordinator: sign in first.", icon=":material/lock:")
    st.stop()

cfg, db = ui.config(), ui.db_path()
st.title("Coordinator")
state = ui.coordination_state()
if warning := rule_version_warning(cfg):  # a study file copied from the demo, version and all
    st.warning(ui.escape(warning), icon=":material/warning:")

ui.source_panel(cfg, state)
ui.refresh_panel(cfg, db, state)

st.subheader("Publish")
if state.snapshots.empty:
    st.caption("No snapshot yet: press **Refresh now**.")
else:
    ui.publish_panel(state)
    st.dataframe(
        coordination.history_view(state.snapshots, state.publications),
        hide_index=True,
        key="co_history",
        column_config=ui.columns.HISTORY,
    )
    with st.expander("Refresh attempts (newest first)"):
        st.dataframe(state.log, hide_index=True, key="co_log", column_config=ui.columns.REFRESH_LOG)

    st.subheader("Validation problems")
    ui.problems_panel(db, state)

    st.subheader("Results tab in the sheet")
    results_panel(cfg, ui.metrics(), ui.info(), key="co_results")

st.subheader("Non-responders")
if state.latest is not None and not coordination.panel_tab_listed(cfg, state.seen):
    st.caption(
        f"No '{ui.escape(cfg.panel_tab or 'Panel')}' tab listing the invited "
        "panelists, so non-responders cannot be listed."
    )
elif state.latest is not None:
    st.caption(coordination.nonresponse_caption(state.missing, state.rates, state.latest))
    st.dataframe(
        state.missing,
        hide_index=True,
        key="co_nonresponders",
        column_config=ui.columns.NONRESPONDERS,
    )
    st.download_button(
        "Download as CSV (for reminders)",
        safe_csv(state.missing),
        file_name=f"nonresponders_snapshot_{state.latest}.csv",
        mime="text/csv",
        key="co_nonresponders_csv",
        icon=":material/download:",
    )

if state.latest is not None:
    st.subheader("Eligibility")
    ui.eligibility_panel()
