"""Streamlit panels of the write path to Google (lib.forms): the next round's Form, the
pre-filled links, and the Results tab written back to the study's spreadsheet.

Every write is opt-in (a button), shows what it will write first, and reports what it left
behind when it fails; the service account needs Editor access to that one form or sheet.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from lib import forms
from lib.config import StudyConfig
from lib.forms.build import rounds_toml
from lib.reports.safety import safe_csv
from lib.sources import SourceError, is_google_sheet
from lib.sources.gsheets_auth import service_account_email
from lib.ui.session import google_credentials
from lib.ui.snapshot import snapshot_id
from lib.ui.widgets import escape

__all__ = ["form_links", "form_panel", "results_panel"]

FORM_LINKS = "form_links"  # session: ((snapshot, round just closed), pseudonym -> link)

STYLE_NAMES = {
    "auto": "As the scale suits (linear scale, else multiple choice)",
    "choice": "Multiple choice, one question per statement",
    "scale": "Linear scale, one question per statement",
    "grid": "A grid per domain (statements as rows)",
}
_TEXT = st.column_config.TextColumn
PREVIEW = {
    "position": st.column_config.NumberColumn("#", width="small"),
    "kind": _TEXT("Question type"),
    "statement_id": _TEXT("ID", width="small"),
    "title": _TEXT("Title", width="large"),
    "description": _TEXT("Description (the previous result, what changed)", width="large"),
    "answers": _TEXT("Answers"),
}
LINK_STEPS = (
    "Google does not let an app link a form's responses to a spreadsheet, so do it once by "
    "hand: in the form, **Responses → Link to Sheets → Select existing spreadsheet**, and pick "
    "the study's sheet. Google adds a tab (e.g. *Form Responses 1*); read it as round {rnd} by "
    "putting these lines in the study file (replacing its `[rounds]` table):"
)


def _account() -> tuple[dict[str, Any], str | None]:
    """(credential arguments, the service account's address), or no address when none is set."""
    creds = google_credentials()
    try:
        return creds, service_account_email(**creds)
    except SourceError:
        return creds, None


def _how_to(email: str | None) -> None:
    who = f"`{email}`" if email else "the service account"
    st.markdown(
        f"1. Create an **empty** Google Form (forms.new) and give it a title.\n"
        f"2. Share it with {who} as **Editor** (Share → add the address → Editor).\n"
        "3. Paste the address of the form's editor page below, check the preview, and write."
    )
    if email is None:
        st.info(
            "Writing needs the service account key: set `[gcp_service_account]` in "
            "`.streamlit/secrets.toml` or `DELPHI_GOOGLE_CREDENTIALS` to the key file.",
            icon=":material/key:",
        )


def form_panel(
    rows: pd.DataFrame,
    closed_round: int,
    notes: dict[str, str],
    cfg: StudyConfig,
    frames: dict[str, pd.DataFrame],
    *,
    disabled: bool,
    key: str,
) -> None:
    """Build the form of ``rows`` (the next round) from ``closed_round``'s results; preview it,
    write it into an empty form, and make the pre-filled links.  ``frames``: metrics,
    distribution, ratings and recipients of the snapshot."""
    rnd = int(rows["round"].iloc[0]) if len(rows) else closed_round + 1
    creds, email = _account()
    _how_to(email)
    left, right = st.columns([3, 2])
    style = left.selectbox(
        "Question type", list(STYLE_NAMES), format_func=STYLE_NAMES.get, key=f"{key}_style"
    )
    comments = right.checkbox(
        "A comment question after each statement", value=True, key=f"{key}_comments"
    )
    if rows.empty:
        st.caption("No statements for the next round yet: nothing to put in a form.")
        return
    plan = forms.build_form(
        rows, frames["metrics"], frames["distribution"], cfg, closed_round,
        style=style, comments=comments, notes=notes,
    )  # fmt: skip
    for note in plan.notes:
        st.caption(escape(note))
    with st.expander(f"Preview: exactly what will be written ({plan.n_questions} items)"):
        st.dataframe(plan.preview, hide_index=True, key=f"{key}_preview", column_config=PREVIEW)
    url = st.text_input(
        "The form's editor address",
        placeholder="https://docs.google.com/forms/d/…/edit",
        key=f"{key}_url",
    )
    ready = bool(url.strip()) and email is not None and not disabled
    if st.button(
        f"Write the {plan.n_questions} items into the form",
        icon=":material/edit_document:",
        disabled=not ready,
        key=f"{key}_write",
        help="Refused if the form already has questions (nothing is ever added twice).",
    ):
        try:
            done = forms.write_form(url, plan, **creds)
        except SourceError as exc:
            st.session_state.pop(f"{key}_written", None)
            st.error(escape(str(exc)), icon=":material/error:")
        else:  # kept for the next reruns (making the links reruns the page)
            st.session_state[f"{key}_written"] = (
                f"Wrote {done.questions} items into the form ({done.requests} requests). "
                "Next: link its responses to the spreadsheet (below)."
            )
    if st.session_state.get(f"{key}_written"):
        st.success(escape(st.session_state[f"{key}_written"]), icon=":material/check_circle:")
    with st.expander("Linking the form's responses to the study's spreadsheet", expanded=False):
        st.markdown(LINK_STEPS.format(rnd=rnd))
        st.code(rounds_toml(cfg.rounds, rnd), language="toml")
    _links_part(url, closed_round, cfg, frames, creds, ready, key)


def _links_part(
    url: str,
    closed_round: int,
    cfg: StudyConfig,
    frames: dict[str, pd.DataFrame],
    creds: dict[str, Any],
    ready: bool,
    key: str,
) -> None:
    st.markdown("**Personal pre-filled links**")
    st.caption(
        "One link per panelist: it fills in their identity question and their own rating, in "
        f"round {closed_round}, of each statement carried unchanged, so they see it and change "
        "it only if persuaded. Revised and new statements start empty."
    )
    if st.button("Make the links", icon=":material/link:", disabled=not ready, key=f"{key}_links"):
        try:
            form = forms.read_form(url, **creds)
        except SourceError as exc:
            st.error(escape(str(exc)), icon=":material/error:")
            return
        links = forms.prefilled_links(
            form, frames["ratings"], frames["recipients"],
            lambda s: cfg.scale_for(closed_round, s), cfg.identity_column, closed_round,
        )  # fmt: skip
        st.session_state[f"{key}_links_csv"] = safe_csv(links)
        st.session_state[f"{key}_links_n"] = len(links)
        # for the Reports page's mail-merge list of the same round's feedback
        made_from = (snapshot_id(), closed_round)  # the ratings the links pre-fill
        st.session_state[FORM_LINKS] = (made_from, forms.links_by_pseudonym(links))
    data = st.session_state.get(f"{key}_links_csv")
    if data:
        st.download_button(
            f"Pre-filled links ({st.session_state[f'{key}_links_n']} panelists, CSV)",
            data,
            f"form_links_round{closed_round + 1}.csv",
            "text/csv",
            icon=":material/download:",
            key=f"{key}_links_dl",
        )


def form_links(closed_round: int) -> dict[str, str] | None:
    """The pre-filled links made in this session, from this snapshot's ratings, for the form
    that follows ``closed_round`` (pseudonym -> link), or None."""
    made = st.session_state.get(FORM_LINKS)
    wanted = (snapshot_id(), closed_round)
    return made[1] if made is not None and made[0] == wanted else None


def results_panel(cfg: StudyConfig, metrics: pd.DataFrame, info: dict[str, Any], key: str) -> None:
    """Write the Results tab of this snapshot into the study's spreadsheet (opt-in)."""
    st.caption(
        "Writes a **Results** tab into the study's spreadsheet: per statement and round, n, "
        "% agree, median, IQR and status, with the snapshot and the rule. Aggregates only, "
        "never identities or comments. Needs the sheet shared with the service account as "
        "Editor; the tab is written aside, then swapped in."
    )
    sheet = is_google_sheet(cfg.source)
    creds, email = _account()
    if not sheet or email is None:
        why = "the study's source is not a Google Sheet" if not sheet else "no service account"
        st.caption(f"Not available: {why}.")
        return
    rows = forms.results_rows(metrics, info)
    if st.button(
        f"Write the Results tab (snapshot {info['snapshot_id']})",
        icon=":material/table_view:",
        key=f"{key}_results",
    ):
        try:
            done = forms.write_results(cfg.source, rows, **creds)
        except SourceError as exc:
            st.error(escape(str(exc)), icon=":material/error:")
        else:
            st.success(
                f"Wrote the '{done.tab}' tab: {len(rows) - 6} rows ({done.requests} requests).",
                icon=":material/check_circle:",
            )
