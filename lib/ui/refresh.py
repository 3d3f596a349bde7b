"""The Coordinator page's source and refresh panels: where the data comes from, and Refresh now
with its progress and outcome (the pure parts are :mod:`lib.coordination`)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from lib import coordination
from lib.config import StudyConfig
from lib.coordination import CoordinatorState
from lib.pipeline import RefreshError, refresh
from lib.sources import is_google_sheet
from lib.textsafe import code_span
from lib.ui.session import google_credentials
from lib.ui.widgets import escape, refresh_summary

__all__ = ["source_panel", "refresh_panel"]


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
