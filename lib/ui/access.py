"""Who is asking: the access state from the secrets (fails closed), roles, the sign-in form."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from lib import auth, store
from lib.config import ConfigError, load_config
from lib.study_db import is_demo_source, is_demo_study
from lib.textsafe import escape_markdown
from lib.ui.session import RANK, db_path, study_path

__all__ = [
    "ROLE_LABELS",
    "access_state",
    "demo_mode",
    "access_banner",
    "throttle",
    "role",
    "at_least",
    "sign_in_panel",
]

# --- access: every decision goes through access_state() and lib.auth ---------------------------

ROLE_LABELS = {"committee": "Steering committee", "coordinator": "Coordinator"}


def access_state() -> auth.AccessState:
    """How this server signs people in, decided afresh on every call by lib.auth (fail closed).

    Demo mode (every page open) only for a bundled demo study with no secrets file at all;
    any other configuration without a valid ``[access]`` table is observer-only.  Cheap: Streamlit
    keeps the parsed secrets file, and a change to it applies on the next rerun.
    """
    return auth.decide_access(
        lambda: st.secrets,
        secrets_file_exists=auth.secrets_file_exists(st.get_option("secrets.files")),
        demo_study=_is_demo(study_path(), db_path()),
    )


def _is_demo(study: str | None, db: str) -> bool:
    """A bundled demo's own study file (a copy elsewhere is another study), reading that demo's
    own workbook, on a database that holds nothing but that workbook's snapshots (or nothing
    yet).

    The study file alone does not decide demo mode: a host that forgot ``DELPHI_STUDY`` while
    ``DELPHI_DB`` (or a cron refresh) holds a real study must not open every page, nor a demo's
    study file edited to read another source."""
    if not is_demo_study(study):
        return False
    from lib.ui.snapshot import _db_signature  # the snapshot module imports this one

    return _only_demo_sources(study, db, _db_signature(db))


@st.cache_data(ttl=5, max_entries=8, show_spinner=False)
def _only_demo_sources(study: str | None, db: str, signature: tuple) -> bool:
    try:
        configured = load_config(study).source
    except ConfigError:
        return False  # in doubt, not demo mode (the pages say what is wrong)
    if not is_demo_source(study, configured):
        return False
    if not Path(db).exists():
        return True  # the demo builds it on the first view
    try:
        with store.connect(db, read_only=True) as con:
            sources = store.snapshot_sources(con)
    except store.StoreError:
        return False  # in doubt, not demo mode
    return all(is_demo_source(study, s) for s in sources)


def demo_mode() -> bool:
    """A bundled demo without secrets: everything is open, with a banner saying so."""
    return access_state().mode == "demo"


def access_banner() -> None:
    """The demo banner, or the problems of the sign-in configuration for the deployer.

    Problems name keys and tables (never a value) and are shown as plain text.
    """
    state = access_state()
    if state.mode == "demo":
        st.warning(
            "Demo mode: this is a bundled demo study and there is no secrets file, so every "
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
    signed = signed if signed in RANK and _still_valid(signed, state.access) else "observer"
    return max(signed, _oidc_role(state.access) or "observer", key=RANK.get)


def _still_valid(signed: str, access: Mapping[str, Any]) -> bool:
    """A password sign-in lasts while its role's hash is the one it was checked against: the
    deployer revokes a role by changing or removing the hash, and open sessions lose it."""
    if signed == "observer":
        return True
    current = access.get(auth.passwords.HASH_KEYS.get(signed, ""))
    held = st.session_state.get("role_key")
    if held is None:  # a role not granted by the sign-in form (tests drive sessions this way)
        return True
    return current is not None and _fingerprint(str(current)) == held


def _fingerprint(encoded_hash: str) -> str:
    return hashlib.sha256(encoded_hash.encode()).hexdigest()[:16]


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
            # everything the session held goes with the role: prepared feedback packs,
            # pre-filled links (identities and ratings), editors' drafts (fail closed)
            st.session_state.clear()
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
        st.session_state["role_key"] = _fingerprint(
            str(access[auth.passwords.HASH_KEYS[result.role]])
        )
        st.session_state.pop("sign_in_error", None)
    elif result.outcome == "locked":
        st.session_state["sign_in_error"] = (
            f"Too many wrong passwords for {ROLE_LABELS[chosen].lower()}: try again in "
            f"{_wait_text(result.wait)}."
        )
    else:  # wrong: result.wait > 0 when this failure started a pause
        pause = f" Try again in {_wait_text(result.wait)}." if result.wait else ""
        st.session_state["sign_in_error"] = f"That password is not right.{pause}"
