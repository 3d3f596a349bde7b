"""This session: routing, settings, roles and sign-in, and the snapshot of this run.

Every rerun resolves the snapshot once (``resolve_snapshot`` in app.py); every loader in
:mod:`lib.ui.loaders` takes that id as part of its cache key, so a session shows the new data on
its next rerun after a refresh and never mixes two snapshots within one run.
"""

from __future__ import annotations

import functools
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import pandas as pd
import streamlit as st

from lib import auth, store
from lib.config import DEMO_CONFIG, ConfigError, StudyConfig, load_config
from lib.pipeline import DEFAULT_DB, RefreshError, ensure_demo_db
from lib.sources import is_google_sheet
from lib.textsafe import escape_markdown
from lib.ui.messages import error_detail

__all__ = [
    "RANK",
    "mark_routed",
    "require_router",
    "db_path",
    "config",
    "access_state",
    "demo_mode",
    "access_banner",
    "google_credentials",
    "throttle",
    "role",
    "at_least",
    "sign_in_panel",
    "db_signature",
    "resolve_snapshot",
    "snapshot_id",
    "storage_failed",
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


def _study_path() -> str | None:
    return os.environ.get("DELPHI_STUDY") or None


def config() -> StudyConfig:
    """The study configuration: ``$DELPHI_STUDY`` or the bundled demo's."""
    try:
        return _config(_study_path())
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


# --- access: every decision goes through access_state() and lib.auth ---------------------------

ROLE_LABELS = {"committee": "Steering committee", "coordinator": "Coordinator"}


def access_state() -> auth.AccessState:
    """How this server signs people in, decided afresh on every call by lib.auth (fail closed).

    Demo mode (every page open) only for the bundled demo study with no secrets file at all;
    any other configuration without a valid ``[access]`` table is observer-only.  Cheap: Streamlit
    keeps the parsed secrets file, and a change to it applies on the next rerun.
    """
    return auth.decide_access(
        lambda: st.secrets,
        secrets_file_exists=auth.secrets_file_exists(st.get_option("secrets.files")),
        demo_study=_is_demo_study(_study_path()),
    )


@functools.lru_cache(maxsize=8)
def _is_demo_study(path: str | None) -> bool:
    """The bundled demo's own study file (a copy elsewhere is another study)."""
    return path is None or Path(path).resolve() == DEMO_CONFIG.resolve()


def demo_mode() -> bool:
    """The bundled demo without secrets: everything is open, with a banner saying so."""
    return access_state().mode == "demo"


def access_banner() -> None:
    """The demo banner, or the problems of the sign-in configuration for the deployer.

    Problems name keys and tables (never a value) and are shown as plain text.
    """
    state = access_state()
    if state.mode == "demo":
        st.warning(
            "Demo mode: this is the bundled demo study and there is no secrets file, so every "
            "page is open. Configure `[access]` in `.streamlit/secrets.toml` before sharing a "
            "link; any other study needs it for anyone to sign in.",
            icon=":material/science:",
        )
    if not state.problems:
        return
    items = "\n".join(f"- {escape_markdown(p)}" for p in state.problems)
    if state.mode == "observer_only":
        head = "**Only observer pages are shown: sign-in is off.** For the deployer:"
        st.warning(f"{head}\n\n{items}", icon=":material/lock:")
    else:
        st.warning(
            f"**Sign-in configuration.** For the deployer:\n\n{items}", icon=":material/key:"
        )


@st.cache_resource(show_spinner=False)
def _throttle(path: str) -> auth.SignInThrottle:
    """One sign-in throttle per server process and database, shared by every session; its
    counts live in ``<db>.signin.json`` (``python -m lib unlock`` clears them)."""
    return auth.SignInThrottle(path)


def throttle() -> auth.SignInThrottle:
    """The sign-in throttle of this study's database."""
    return _throttle(str(auth.throttle_path(db_path())))


def _wait_text(seconds: float) -> str:
    """A lock-out's remaining time, rounded up: "45 s", "2 min"."""
    s = math.ceil(seconds)
    return f"{s} s" if s < 60 else f"{math.ceil(s / 60)} min"


# --- roles -------------------------------------------------------------------------------------


def role() -> str:
    """The role of this session: observer unless signed in (coordinator in demo mode, observer
    whatever the session holds when sign-in is off)."""
    state = access_state()
    if state.mode == "demo":
        return "coordinator"
    if state.mode == "observer_only":
        return "observer"
    signed = st.session_state.get("role", "observer")
    signed = signed if signed in RANK else "observer"
    return max(signed, _oidc_role(state.access) or "observer", key=RANK.get)


def _oidc_role(access: Mapping[str, Any]) -> str | None:
    """The allowlisted role of a user signed in with their organisation (verified e-mail only)."""
    if not access.get("oidc"):
        return None
    try:
        user = st.user.to_dict()
    except Exception:  # st.user needs [auth] secrets; without them there is no OIDC
        return None
    if user.get("is_logged_in") is not True:
        return None
    return auth.role_for_email(user, access)


def at_least(minimum: str) -> bool:
    """True when this session's role is ``minimum`` or higher."""
    return RANK[role()] >= RANK[minimum]


def sign_in_panel() -> None:
    """Sidebar controls to sign in or out (none in demo mode or when sign-in is off)."""
    state = access_state()
    if state.mode != "configured":
        return
    current = role()
    if current != "observer":
        st.sidebar.caption(f"Signed in as **{current}**")
        if st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:"):
            st.session_state.pop("role", None)
            if _oidc_role(state.access):
                st.logout()
            st.rerun()
        return
    with st.sidebar.popover("Sign in", icon=":material/login:"):
        roles = auth.password_roles(state.access)
        if roles:
            _password_form(roles)
        if state.access.get("oidc"):
            st.button("Sign in with your organisation", key="oidc_login", on_click=st.login)


def _password_form(roles: tuple[str, ...]) -> None:
    """The password form.  With two password roles the visitor first says which one they sign
    in as, so wrong guesses count against that role only; a paused role shows its time left."""
    if len(roles) > 1:
        st.radio(
            "Sign in as",
            [ROLE_LABELS[r] for r in sorted(roles, key=RANK.get)],  # the committee first
            key="sign_in_role",
            horizontal=True,
        )
    with st.form("sign_in", border=False, clear_on_submit=True):
        st.text_input("Password", type="password", key="password")
        st.form_submit_button("Sign in", on_click=_try_password)
    error = st.session_state.pop("sign_in_error", None)  # once: the run after the attempt
    if error:
        st.error(error)
    for r in roles:
        wait = 0.0 if error and r == _chosen_role(roles) else throttle().wait_seconds(r)
        if wait:
            st.caption(
                f"Sign-in as {ROLE_LABELS[r].lower()} is paused after repeated wrong "
                f"passwords: try again in {_wait_text(wait)}."
            )


def _chosen_role(roles: tuple[str, ...]) -> str | None:
    """The role the visitor signs in as: their choice (the committee until they choose), or the
    only password role."""
    if len(roles) < 2:
        return next(iter(roles), None)
    label = st.session_state.get("sign_in_role", ROLE_LABELS[min(roles, key=RANK.get)])
    return next((r for r in roles if ROLE_LABELS[r] == label), None)


def _try_password() -> None:
    """Form callback: runs before the script, so the new role applies to this very run.

    The password is checked for the chosen role only; a failure counts against that role
    (lib.auth.SignInThrottle), never against another, and a success resets that role only.
    """
    password = st.session_state.pop("password", "")
    access = access_state().access
    roles = auth.password_roles(access)
    chosen = _chosen_role(roles)
    if chosen not in roles:
        st.session_state["sign_in_error"] = "Password sign-in is not available."
        return
    if not password:
        st.session_state["sign_in_error"] = "Enter the password."
        return
    result = throttle().attempt(password, access, role=chosen)
    if result.outcome == "granted":
        st.session_state["role"] = result.role
        st.session_state.pop("sign_in_error", None)
    elif result.outcome == "locked":
        st.session_state["sign_in_error"] = (
            f"Too many wrong passwords for {ROLE_LABELS[chosen].lower()}: try again in "
            f"{_wait_text(result.wait)}."
        )
    else:  # wrong: result.wait > 0 when this failure started a pause
        pause = f" Try again in {_wait_text(result.wait)}." if result.wait else ""
        st.session_state["sign_in_error"] = f"That password is not right.{pause}"


# --- the snapshot of this run ----------------------------------------------------------------


def _db_signature(db: str) -> tuple:
    """Size and mtime of the database and its WAL: any write (a refresh, a publication)
    changes it."""
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
    what is read live rather than per snapshot (the refresh log, the publications)."""
    return _db_signature(db_path())


@st.cache_data(ttl=5, max_entries=16, show_spinner=False)
def _snapshot_ids(db: str, signature: tuple) -> tuple[int | None, int | None]:
    """(latest, published) snapshot ids, looked up again only when the files changed (or after
    5 s: a write within the file system's timestamp granularity could leave the signature as it
    was).  A DuckDB connection costs 25 ms of CPU, a quarter of a rerun's budget."""
    return _read_snapshot_ids(db)


def _read_snapshot_ids(db: str) -> tuple[int | None, int | None]:
    with store.connect(db, read_only=True) as con:
        return store.latest_snapshot_id(con), store.published_snapshot_id(con)


def resolve_snapshot() -> int | None:
    """Find (or, for a local workbook, build) the snapshot this session sees; remember it for
    this run.  Observers see the published snapshot, the committee too unless they pick another
    in the sidebar, the coordinator the latest."""
    cfg, db = config(), db_path()
    latest = published = None
    try:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        latest, published = _snapshot_ids(db, _db_signature(db))
        if latest is None and cfg.source:
            _build_first_snapshot(cfg, db)
            latest, published = _read_snapshot_ids(db)
    except store.StoreCorrupt as exc:
        if _rebuild_damaged(cfg, db, exc) is not None:
            latest, published = _read_snapshot_ids(db)
    except (store.StoreError, RefreshError) as exc:
        _unavailable(exc)
    except OSError as exc:  # the folder cannot be made: read-only, or a file in the way
        _unavailable(
            f"its folder {Path(db).parent} cannot be created ({exc.strerror})",
            "; set DELPHI_DB to a file in a writable folder",
        )
    if notice := st.session_state.pop("_rebuilt_notice", None):  # set by _rebuild_damaged
        st.warning(notice, icon=":material/build:")
    sid = _visible_snapshot(latest, published)
    st.session_state["snapshot_id"] = sid
    st.session_state["snapshot_unpublished"] = sid is None and latest is not None
    return sid


def _visible_snapshot(latest: int | None, published: int | None) -> int | None:
    """The snapshot of this session's role, or the one its sidebar picker names."""
    if latest is None:
        return None
    if at_least("coordinator"):
        return _chosen_snapshot(latest, latest, "Latest snapshot")
    if at_least("committee"):
        return _chosen_snapshot(published, latest, "Published snapshot")
    return published


def _unavailable(why: object, advice: str = "") -> None:
    """The database cannot be used: say why (``why`` may quote the sheet: escaped; server paths
    are for the coordinator only) and what to do (``advice``: markdown of ours)."""
    detail = error_detail(why, coordinator=at_least("coordinator"))
    st.error(f"The study database is not available: {detail}{advice}", icon=":material/error:")


def storage_failed(exc: store.StoreError) -> NoReturn:
    """Stop this run over a storage error a query met: said plainly, never a traceback.

    A workbook study's file found damaged only by a query (a bad block deep inside) is kept
    aside and rebuilt like one damaged at open, and the run starts again on the new file.
    """
    if isinstance(exc, store.StoreCorrupt):
        if _rebuild_damaged(config(), db_path(), exc, read_all=True) is not None:
            st.rerun()
    else:
        _unavailable(exc)
    st.stop()


def _rebuild_damaged(
    cfg: StudyConfig, db: str, damage: store.StoreCorrupt, read_all: bool = False
) -> int | None:
    """A damaged database of a workbook study is kept aside and rebuilt (nothing is lost).

    ``read_all``: the damage showed in a query, not at open (see ``pipeline.ensure_demo_db``).
    Every cached read is dropped: the new file numbers its snapshots from 1 again.  None when
    nothing was rebuilt (and the reason is shown), so a caller never reruns into the same damage.
    """
    if not cfg.source or is_google_sheet(cfg.source):  # a live study: the coordinator decides
        _unavailable(damage)
        return None
    before = _file_id(db)
    try:
        with st.spinner("The study database is damaged: rebuilding it from the workbook…"):
            sid = ensure_demo_db(cfg, db, rebuild_corrupt=True, read_all=read_all)
    except (store.StoreError, RefreshError, OSError) as exc:
        _unavailable(exc)
        return None
    if _file_id(db) == before:  # reading every table found nothing: the damage is elsewhere
        _unavailable(damage)
        return None
    st.cache_data.clear()
    kept = sorted(
        p.name for p in Path(db).parent.glob(f"{Path(db).name}.corrupt-*") if p.suffix != ".wal"
    )
    st.session_state["_rebuilt_notice"] = (  # shown by resolve_snapshot, now or after a rerun
        f"The study database could not be {'read' if read_all else 'opened'}, so it was rebuilt "
        f"from the workbook. The damaged file is kept beside it as "
        f"`{kept[-1] if kept else '?'}`."
    )
    return sid


def _file_id(path: str) -> int | None:
    """The file's inode: a file moved aside and rebuilt (by this session or another) is new."""
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


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


def _chosen_snapshot(default: int | None, latest: int, label: str) -> int | None:
    """The committee and the coordinator may look at any snapshot in their own session
    (sidebar); ``label`` names the default, ``default`` (None: nothing published)."""
    try:
        snaps = _snapshot_list(db_path(), latest)
    except store.StoreError as exc:
        storage_failed(exc)
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
        format_func=lambda i: label if i is None else labels[i],
        help="The published snapshot is what observers see. Look at the data as it stood at "
        "any refresh, published or not (only in your session).",
    )
    return default if choice is None else int(choice)


@st.cache_data(max_entries=8, show_spinner=False)
def _snapshot_list(db: str, latest: int) -> pd.DataFrame:
    with store.connect(db, read_only=True) as con:
        return store.list_snapshots(con)[["snapshot_id", "created_at"]]


def snapshot_id() -> int:
    """The snapshot of this run; stops the page with a message when there is none."""
    if "snapshot_id" not in st.session_state:  # a page run without app.py (first direct link)
        resolve_snapshot()
    sid = st.session_state.get("snapshot_id")
    if sid is None and st.session_state.get("snapshot_unpublished"):
        pick = " Pick a snapshot in the sidebar to look at unpublished data."
        st.info(
            "No results have been published yet: the coordinator publishes them, typically at "
            f"the close of a round.{pick if at_least('committee') else ''}",
            icon=":material/hourglass_empty:",
        )
        st.stop()
    if sid is None:
        st.info(
            "No data yet: the coordinator loads the first snapshot from the Coordinator page.",
            icon=":material/hourglass_empty:",
        )
        st.stop()
    return sid
