"""This session's routing and settings: the study configuration, the database path, Google
credentials.  Who is asking is :mod:`lib.ui.access`; the snapshot of this run is
:mod:`lib.ui.snapshot`.
"""

from __future__ import annotations

import os
from typing import Any

import streamlit as st

from lib import auth
from lib.config import ConfigError, StudyConfig, load_config
from lib.study_db import default_db
from lib.ui.messages import error_detail

__all__ = [
    "RANK",
    "mark_routed",
    "require_router",
    "db_path",
    "config",
    "google_credentials",
    "study_path",
]

RANK = {role: i for i, role in enumerate(auth.ROLES)}


# --- routing -----------------------------------------------------------------------------------


def mark_routed() -> None:
    """Called by app.py on every run: this session has been through the router."""
    st.session_state["_routed"] = True


def require_router() -> None:
    """First line of every page: a page reached without app.py goes through app.py first.

    Until some session has run app.py's ``st.navigation``, Streamlit 1.67 treats the ``pages/``
    folder as a v1 multipage app, and a deep link on a freshly started server runs the page file
    directly (no role-filtered navigation, no sign-in).  Such a run is sent to app.py instead.
    """
    if not st.session_state.get("_routed"):
        st.switch_page("app.py")


# --- settings ----------------------------------------------------------------------------------


def db_path() -> str:
    """The DuckDB file: ``$DELPHI_DB``, else the study's own (``lib.study_db.default_db``:
    data/delphi.duckdb or data/demo-cos.duckdb for a bundled demo, data/studies/<study file
    name>.duckdb for another), as the command line chooses it."""
    return os.environ.get("DELPHI_DB") or str(default_db(study_path()))


@st.cache_resource(show_spinner=False)
def _config(path: str | None) -> StudyConfig:
    return load_config(path)


def study_path() -> str | None:
    """The study file: ``$DELPHI_STUDY`` (None: the bundled demo)."""
    return os.environ.get("DELPHI_STUDY") or None


def config() -> StudyConfig:
    """The study configuration: ``$DELPHI_STUDY`` or the bundled demo's."""
    try:
        return _config(study_path())
    except ConfigError as exc:
        # the role is not known yet (it depends on the configuration): paths for nobody
        st.error(error_detail(exc, coordinator=False), icon=":material/error:")
        st.stop()


def google_credentials() -> dict[str, Any]:
    """``google=`` arguments for a refresh: the ``[gcp_service_account]`` secrets table if set.

    Without it, the Google Sheets reader falls back to ``$DELPHI_GOOGLE_CREDENTIALS`` (a key
    file).
    """
    try:
        table = st.secrets.get("gcp_service_account")
    except Exception:  # no secrets file at all
        table = None
    return {"credentials_info": {k: table[k] for k in table}} if table else {}
