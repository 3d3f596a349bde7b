"""Coordinator: the source sheet, Refresh now, publication and history, non-responders."""

import datetime as dt

import streamlit as st

from lib import coordination, ui
from lib.pipeline import RefreshError, refresh
from lib.reports.safety import safe_csv
from lib.sources import is_google_sheet
from lib.textsafe import code_span

ui.require_router()
if not ui.at_least("coordinator"):  # app.py offers the page by role; this page shows identities
    st.error("This page is for the study coordinator: sign in first.", icon=":material/lock:")
    st.stop()

cfg, db = ui.config(), ui.db_path()
sheet = is_google_sheet(cfg.source)
STEPS = coordination.refresh_steps(sheet)
st.title("Coordinator")
state = ui.coordination_state()

with st.container(border=True):  # where the data comes from
    if not cfg.source:
        st.warning(
            "No source configured: set `source` in the study configuration to the "
            "Google Sheet's address.",
            icon=":material/link_off:",
        )
    elif sheet:
        src = coordination.sheet_source(cfg.source, ui.google_credentials())
        if src.url:
            title = ui.escape(state.seen.get("title") or "open in Google Sheets")
            st.markdown(f"**Source:** Google Sheet [{title}]({src.url})")
        else:
            st.error(ui.escape(src.url_error), icon=":material/link_off:")
        if src.email:
            st.caption(
                f"Read as the service account {code_span(src.email)}: share the sheet "
                "with it as **Viewer**."
            )
        else:
            st.warning(
                f"{ui.escape(src.email_error)} See the README, 'Running it for a real study'.",
                icon=":material/key_off:",
            )
    else:
        st.markdown(f"**Source:** workbook {ui.escape(cfg.source)}")
    st.dataframe(
        coordination.tabs_table(cfg, state.seen.get("tabs")), hide_index=True, key="co_tabs"
    )

st.subheader("Refresh")
st.caption(
    "Reads the source, checks every response and stores a new snapshot when anything "
    "changed. If any step fails, nothing changes. Everyone sees a new snapshot on their "
    "next click."
)
if st.button(
    "Refresh now",
    type="primary",
    icon=":material/refresh:",
    key="co_refresh",
    disabled=not cfg.source,
):
    started = dt.datetime.now()
    with st.status("Refreshing…", expanded=True) as status:

        def progress(step: str) -> None:
            status.update(label=f"{STEPS.get(step, step)}…")
            st.write(f"{STEPS.get(step, step)}…")

        try:
            last = {
                "result": refresh(
                    cfg,
                    db,
                    progress=progress,
                    wait=0,
                    google=ui.google_credentials() if sheet else None,
                )
            }
        except RefreshError as exc:
            last = {"error": exc}
    st.session_state["co_last"] = {**last, "at": started}
    st.rerun()  # app.py resolves the new snapshot: sidebar and every page show it
if "co_last" in st.session_state:
    last = st.session_state["co_last"]
    st.caption(f"Last refresh from this browser: {last['at']:%d %b %Y %H:%M:%S}")
    ui.refresh_summary(last, state.latest, STEPS)

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
