"""The Coordinator page's source, refresh and validation panels: where the data comes from,
Refresh now with its progress and outcome, and the problems stored with any snapshot (the pure
parts are :mod:`lib.coordination`)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from lib import coordination, store
from lib.config import StudyConfig
from lib.coordination import CoordinatorState
from lib.pipeline import RefreshError, refresh
from lib.reports.safety import safe_csv
from lib.sources import is_google_sheet
from lib.textsafe import code_span
from lib.ui.session import google_credentials
from lib.ui.snapshot import storage_failed
from lib.ui.widgets import escape, problems_table, refresh_summary

__all__ = ["source_panel", "refresh_panel", "problems_panel"]


def source_panel(cfg: StudyConfig, state: CoordinatorState) -> None:
    """The source (sheet or workbook), the service account, and the tabs found."""
    sheet = is_google_sheet(cfg.source)
    with st.container(border=True):  # where the data comes from
        if not cfg.source:
            st.warning(
                "No source configured: set `source` in the study configuration to the "
                "Google Sheet's address.",
                icon=":material/link_off:",
            )
        elif sheet:
            src = coordination.sheet_source(cfg.source, google_credentials())
            if src.url:
                title = escape(state.seen.get("title") or "open in Google Sheets")
                st.markdown(f"**Source:** Google Sheet [{title}]({src.url})")
            else:
                st.error(escape(src.url_error), icon=":material/link_off:")
            if src.email:
                st.caption(
                    f"Read as the service account {code_span(src.email)}: share the sheet "
                    "with it as **Viewer**."
                )
            else:
                st.warning(
                    f"{escape(src.email_error)} See the README, 'Running it for a real study'.",
                    icon=":material/key_off:",
                )
        else:
            st.markdown(f"**Source:** workbook {escape(cfg.source)}")
        st.dataframe(
            coordination.tabs_table(cfg, state.seen.get("tabs")), hide_index=True, key="co_tabs"
        )


def refresh_panel(cfg: StudyConfig, db: str, state: CoordinatorState) -> None:
    """Refresh now, with each step shown as it runs, and the outcome of the last refresh."""
    sheet = is_google_sheet(cfg.source)
    steps = coordination.refresh_steps(sheet)
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
                status.update(label=f"{steps.get(step, step)}…")
                st.write(f"{steps.get(step, step)}…")

            try:
                last = {
                    "result": refresh(
                        cfg,
                        db,
                        progress=progress,
                        wait=0,
                        google=google_credentials() if sheet else None,
                    )
                }
            except RefreshError as exc:
                last = {"error": exc}
        st.session_state["co_last"] = {**last, "at": started}
        st.rerun()  # app.py resolves the new snapshot: sidebar and every page show it
    if "co_last" in st.session_state:
        last = st.session_state["co_last"]
        st.caption(f"Last refresh from this browser: {last['at']:%d %b %Y %H:%M:%S}")
        refresh_summary(last, state.latest, steps)


@st.cache_data(max_entries=16, show_spinner=False)
def _problems(db: str, sid: int) -> pd.DataFrame:
    """A snapshot's validation report (snapshots never change: cached on the file and id)."""
    with store.connect(db, read_only=True) as con:
        return store.problems_for(con, sid)


def problems_panel(db: str, state: CoordinatorState) -> None:
    """The validation problems stored with any snapshot (default: the latest), whichever
    session or cron job ran its refresh, as a table and a CSV file.

    The texts quote the sheet (headers, answers): the table shows them as plain text and the
    CSV file neutralises formulas (``safe_csv``)."""
    labels = coordination.snapshot_labels(state.snapshots)
    choice = st.selectbox(
        "Snapshot",
        [None, *labels],
        key="co_problems_snapshot",
        # a constant label for the default: it follows the latest snapshot as new ones arrive
        format_func=lambda i: "Latest snapshot" if i is None else labels[i],
        help="Each snapshot keeps the problems its refresh found: cells it left out.",
    )
    sid = state.latest if choice is None else int(choice)
    try:
        problems = _problems(db, sid)
    except store.StoreError as exc:
        storage_failed(exc)
    problems_table(problems, "co_snapshot_problems")
    if not problems.empty:
        st.download_button(
            "Download as CSV",
            safe_csv(problems),
            file_name=f"problems_snapshot_{sid}.csv",
            mime="text/csv",
            key="co_problems_csv",
            icon=":material/download:",
        )
