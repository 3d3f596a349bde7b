"""This session: routing, settings, roles and sign-in, and the snapshot of this run.

Every rerun resolves the snapshot once (``resolve_snapshot`` in app.py); every loader in
:mod:`lib.ui.loaders` takes that id as part of its cache key, so a session shows the new data on
its next rerun after a refresh and never mixes two snapshots within one run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from lib import auth, store
from lib.config import ConfigError, StudyConfig, load_config
from lib.pipeline import DEFAULT_DB, RefreshError, ensure_demo_db
from lib.sources import is_google_sheet

__all__ = [
    "RANK",
    "mark_routed",
    "require_router",
    "db_path",
    "config",
    "demo_mode",
    "google_credentials",
    "throttle",
    "role",
    "at_least",
    "sign_in_panel",
    "db_signature",
    "resolve_snapshot",
    "snapshot_id",
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
    """The DuckDB file: ``$DELPHI_DB`` or data/delphi.duckdb."""
    return os.environ.get("DELPHI_DB") or str(DEFAULT_DB)


@st.cache_resource(show_spinner=False)
def _config(path: str | None) -> StudyConfig:
    return load_config(path)


def config() -> StudyConfig:
    """The study configuration: ``$DELPHI_STUDY`` or the bundled demo's."""
    try:
        return _config(os.environ.get("DELPHI_STUDY") or None)
    except ConfigError as exc:
        st.error(str(exc), icon=":material/error:")
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


# --- access: every decision goes through _access_state() and lib.auth ---------------------------


def _access_state() -> dict[str, Any]:
    """The ``[access]`` secrets table as lib.auth reads it; empty means demo mode.

    The one place this module reads the access configuration: every decision below (demo mode,
    password, OIDC allowlist, the OIDC button) is lib.auth applied to what this returns.
    """
    return auth.access_config(st.secrets)


def demo_mode() -> bool:
    """No sign-in configured: everything is open, with a banner saying so."""
    return not _access_state()


def _oidc_enabled() -> bool:
    return bool(_access_state().get("oidc"))


def _password_role(password: str) -> str | None:
    return auth.role_for_password(password, _access_state())


def _email_role(email: str | None) -> str | None:
    return auth.role_for_email(email, _access_state())


@st.cache_resource(show_spinner=False)
def throttle() -> auth.Throttle:
    """One sign-in throttle for the whole server, shared by every session."""
    return auth.Throttle(limit=5, lockout=60)


# --- roles -------------------------------------------------------------------------------------


def role() -> str:
    """The role of this session: observer unless signed in (coordinator in demo mode)."""
    if demo_mode():
        return "coordinator"
    oidc = _oidc_role()
    return max(st.session_state.get("role", "observer"), oidc or "observer", key=RANK.get)


def _oidc_role() -> str | None:
    try:
        user = st.user
        if not user.is_logged_in:
            return None
        return _email_role(user.get("email"))
    except Exception:  # st.user needs [auth] secrets; without them there is no OIDC
        return None


def at_least(minimum: str) -> bool:
    """True when this session's role is ``minimum`` or higher."""
    return RANK[role()] >= RANK[minimum]


def sign_in_panel() -> None:
    """Sidebar controls to sign in or out."""
    if demo_mode():
        return
    current = role()
    if current != "observer":
        st.sidebar.caption(f"Signed in as **{current}**")
        if st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:"):
            st.session_state.pop("role", None)
            if _oidc_role():
                st.logout()
            st.rerun()
        return
    with st.sidebar.popover("Sign in", icon=":material/login:"):
        _password_form()
        if _oidc_enabled():
            st.button("Sign in with your organisation", key="oidc_login", on_click=st.login)


def _password_form() -> None:
    with st.form("sign_in", border=False):
        st.text_input("Password", type="password", key="password")
        st.form_submit_button("Sign in", on_click=_try_password)
    if st.session_state.get("sign_in_error"):
        st.error(st.session_state["sign_in_error"])


def _try_password() -> None:
    """Form callback: runs before the script, so the new role applies to this very run."""
    password = st.session_state.pop("password", "")
    wait = throttle().wait_seconds()
    if wait:
        st.session_state["sign_in_error"] = f"Too many attempts; try again in {wait:.0f} s."
        return
    granted = _password_role(password)
    throttle().record(granted is not None)
    if granted:
        st.session_state["role"] = granted
        st.session_state.pop("sign_in_error", None)
    else:
        st.session_state["sign_in_error"] = "That password is not right."


# --- the snapshot of this run ----------------------------------------------------------------


def _db_signature(db: str) -> tuple:
    """Size and mtime of the database and its WAL: any write (a refresh, a pin) changes it."""
    out = []
    for path in (db, f"{db}.wal"):
        try:
            info = os.stat(path)
            out.append((info.st_mtime_ns, info.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def db_signature() -> tuple:
    """Changes whenever the study database is written (see ``_db_signature``): a cache key for
    what is read live rather than per snapshot (the refresh log, the pin)."""
    return _db_signature(db_path())


@st.cache_data(ttl=5, max_entries=16, show_spinner=False)
def _current_snapshot(db: str, signature: tuple) -> int | None:
    """The current snapshot id, looked up again only when the files changed (or after 5 s: a
    write within the file system's timestamp granularity could leave the signature as it was).
    A DuckDB connection costs 25 ms of CPU, a quarter of a rerun's budget."""
    with store.connect(db) as con:
        return store.current_snapshot_id(con)


def resolve_snapshot() -> int | None:
    """Find (or, for a local workbook, build) the current snapshot; remember it for this run."""
    cfg, db = config(), db_path()
    try:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        sid = _current_snapshot(db, _db_signature(db))
        if sid is None and cfg.source:
            sid = _build_first_snapshot(cfg, db)
    except store.StoreCorrupt as exc:
        sid = _rebuild_damaged(cfg, db, exc)
    except (store.StoreError, RefreshError) as exc:
        st.error(f"The study database is not available: {exc}", icon=":material/error:")
        sid = None
    except OSError as exc:  # the folder cannot be made: read-only, or a file in the way
        st.error(
            f"The study database is not available: its folder {Path(db).parent} cannot be "
            f"created ({exc.strerror}); set DELPHI_DB to a file in a writable folder",
            icon=":material/error:",
        )
        sid = None
    if sid is not None and at_least("committee"):
        sid = _chosen_snapshot(sid)
    st.session_state["snapshot_id"] = sid
    return sid


def _rebuild_damaged(cfg: StudyConfig, db: str, damage: store.StoreCorrupt) -> int | None:
    """A damaged database of a workbook study is kept aside and rebuilt (nothing is lost)."""
    if not cfg.source or is_google_sheet(cfg.source):  # a live study: the coordinator decides
        st.error(f"The study database is not available: {damage}", icon=":material/error:")
        return None
    try:
        with st.spinner("The study database is damaged: rebuilding it from the workbook…"):
            sid = ensure_demo_db(cfg, db, rebuild_corrupt=True)
    except (store.StoreError, RefreshError, OSError) as exc:
        st.error(f"The study database is not available: {exc}", icon=":material/error:")
        return None
    kept = sorted(
        p.name for p in Path(db).parent.glob(f"{Path(db).name}.corrupt-*") if p.suffix != ".wal"
    )
    st.warning(
        f"The study database could not be opened, so it was rebuilt from the workbook. "
        f"The damaged file is kept beside it as `{kept[-1] if kept else '?'}`.",
        icon=":material/build:",
    )
    return sid


@st.cache_resource(show_spinner=False)
def _first_build_failures() -> dict[tuple[str, str], tuple[float, str]]:
    return {}


def _build_first_snapshot(cfg: StudyConfig, db: str) -> int:
    """Build an empty database (first run, or a host that lost its disk) from the source.

    A failure is not retried for five minutes, so a misconfigured sheet does not make every
    page view wait for Google; the coordinator can still refresh at any time.
    """
    failures, key = _first_build_failures(), (db, cfg.source)
    when, why = failures.get(key, (0.0, ""))
    if why and time.monotonic() - when < 300:
        raise RefreshError("fetch", why)
    sheet = is_google_sheet(cfg.source)
    where = "the Google Sheet" if sheet else "the workbook"
    try:
        with st.spinner(f"Building the study database from {where} (first run)…"):
            return ensure_demo_db(cfg, db, google=google_credentials() if sheet else None)
    except RefreshError as exc:
        failures[key] = (time.monotonic(), exc.reason)
        raise


def _chosen_snapshot(current: int) -> int:
    """Committee members may look at an earlier snapshot in their own session (sidebar)."""
    snaps = _snapshot_list(db_path(), current)
    ids = [None, *snaps["snapshot_id"].tolist()]
    labels = {
        int(r.snapshot_id): f"#{r.snapshot_id} · {r.created_at:%d %b %Y %H:%M}"
        for r in snaps.itertuples()
    }
    choice = st.sidebar.selectbox(
        "Snapshot",
        ids,
        key="view_snapshot",
        # a constant label: the browser keeps a selected label that vanishes from the options
        format_func=lambda i: "Current snapshot" if i is None else labels[i],
        help="Look at the data as it stood at an earlier refresh (only in your session).",
    )
    return current if choice is None else int(choice)


@st.cache_data(max_entries=8, show_spinner=False)
def _snapshot_list(db: str, current: int) -> pd.DataFrame:
    with store.connect(db) as con:
        return store.list_snapshots(con)[["snapshot_id", "created_at"]]


def snapshot_id() -> int:
    """The snapshot of this run; stops the page with a message when there is none."""
    if "snapshot_id" not in st.session_state:  # a page run without app.py (first direct link)
        resolve_snapshot()
    sid = st.session_state.get("snapshot_id")
    if sid is None:
        st.info(
            "No data yet: the coordinator loads the first snapshot from the Coordinator page.",
            icon=":material/hourglass_empty:",
        )
        st.stop()
    return sid
