"""Coordinator: the source sheet, Refresh now, snapshot history and pin, non-responders."""

import datetime as dt

import pandas as pd
import streamlit as st

from lib import store, ui
from lib.pipeline import RefreshBusy, RefreshError, refresh
from lib.reports import safe_csv
from lib.sources import is_google_sheet

ui.require_router()

cfg = ui.config()
sheet = is_google_sheet(cfg.source)
STEPS = {"fetch": "Fetching from Google Sheets" if sheet else "Reading the workbook",
         "validate": "Validating the responses", "store and compute":
         "Storing the snapshot and computing consensus", "store": "Storing the snapshot",
         "lock": "Waiting for another refresh"}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _when(value) -> str:
    return f"{pd.Timestamp(value):%d %b %Y %H:%M}" if value is not None else "—"


def read_state() -> dict:
    """Everything this page shows from the database, read again whenever the file changed."""
    return _read_state(ui.db_path(), ui.db_signature(), cfg.source)


@st.cache_data(ttl=5, max_entries=4, show_spinner=False)
def _read_state(db: str, signature: tuple, source: str | None) -> dict:
    """One connection for the whole page: the log, the snapshots, the pin, the non-responders.
    Any write (a refresh, failed or not, a pin) changes ``signature``; 5 s at most otherwise."""
    with store.connect(db) as con:
        latest = store.latest_snapshot_id(con)
        seen = store.setting(con, "source_seen") or {}
        return {
            "seen": seen if seen.get("source") == source else {},
            "snapshots": store.list_snapshots(con), "log": store.refresh_log(con),
            "pinned": store.pinned_snapshot_id(con), "current": store.current_snapshot_id(con),
            "latest": latest,
            "missing": store.nonresponders(con, latest) if latest else None,
            "rates": store.response_rates(con, latest) if latest else None}


def source_panel(seen: dict) -> None:
    """Where the data comes from: sheet or workbook, its title and tabs, the service account."""
    with st.container(border=True):
        if not cfg.source:
            st.warning("No source configured: set `source` in the study configuration to the "
                       "Google Sheet's address.", icon=":material/link_off:")
        elif sheet:
            from lib.gsheets import GoogleSheetError, parse_sheet_key, service_account_email

            try:
                url = f"https://docs.google.com/spreadsheets/d/{parse_sheet_key(cfg.source)}/edit"
                title = ui.escape(seen.get("title") or "open in Google Sheets")
                st.markdown(f"**Source:** Google Sheet [{title}]({url})")
            except GoogleSheetError as exc:
                st.error(str(exc), icon=":material/link_off:")
            try:
                email = service_account_email(**ui.google_credentials())
                st.caption(f"Read as the service account {ui.escape(email)}: share the sheet "
                           "with it as **Viewer**.")
            except GoogleSheetError as exc:
                st.warning(f"{exc} See the README, 'Running it for a real study'.",
                           icon=":material/key_off:")
        else:
            st.markdown(f"**Source:** workbook {ui.escape(cfg.source)}")
        st.dataframe(_tabs_table(seen.get("tabs")), hide_index=True, key="co_tabs")


def _tabs_table(found: list[str] | None) -> pd.DataFrame:
    roles = {tab: f"Round {n}" for tab, n in cfg.rounds.items()}
    roles |= {t: r for t, r in ((cfg.statements_tab, "Statements (optional)"),
                                (cfg.panel_tab, "Panel (optional)")) if t}
    rows = [{"tab": t, "used as": r, "in the source": "not read yet" if found is None
             else ("yes" if t in found else "missing")} for t, r in roles.items()]
    rows += [{"tab": t, "used as": "not used", "in the source": "yes"}
             for t in (found or []) if t not in roles]
    return pd.DataFrame(rows)


def run_refresh() -> None:
    """Refresh with step-by-step progress, remember the outcome, rerun to show it everywhere."""
    started = dt.datetime.now()
    with st.status("Refreshing…", expanded=True) as status:
        def progress(step: str) -> None:
            status.update(label=f"{STEPS.get(step, step)}…")
            st.write(f"{STEPS.get(step, step)}…")

        try:
            last = {"result": refresh(cfg, ui.db_path(), progress=progress, wait=0,
                                      google=ui.google_credentials() if sheet else None)}
        except RefreshError as exc:
            last = {"error": exc}
    st.session_state["co_last"] = {**last, "at": started}
    st.rerun()  # app.py resolves the new snapshot: sidebar and every page show it


def refresh_summary(last: dict, current: int | None) -> None:
    """What the last refresh of this session did (or why it failed)."""
    if "error" in last:
        exc = last["error"]
        if isinstance(exc, RefreshBusy):
            st.warning(exc.reason, icon=":material/hourglass_top:")
        else:
            st.error(f"**{STEPS.get(exc.step, exc.step)}** failed: {ui.escape(exc.reason)}",
                     icon=":material/error:")
        st.info(f"Nothing was changed: snapshot {current} is still current." if current
                else "Nothing was stored; there is no snapshot yet.", icon=":material/shield:")
        return
    res = last["result"]
    st.caption(" · ".join(f"{STEPS.get(k, k)} {v:.2f} s" for k, v in res.timings.items()))
    if res.outcome == "no_change":
        st.info(f"No change: the source matches snapshot {res.snapshot_id}, so nothing new was "
                f"stored ({res.seconds:.1f} s).", icon=":material/check_circle:")
        return
    c = res.counts
    st.success(f"Snapshot {res.snapshot_id} stored in {res.seconds:.1f} s: "
               f"{c['n_respondents']} respondents of {c['n_invited']} invited, "
               f"{c['n_ratings']} ratings, {_count(c['n_problems'], 'validation problem')}.",
               icon=":material/check_circle:")
    if current != res.snapshot_id:
        st.warning(f"The committee view is pinned to snapshot {current}: unpin it below to "
                   "show the new data.", icon=":material/push_pin:")
    since = f"since snapshot {res.previous_id}" if res.previous_id else "(first snapshot)"
    st.markdown(f"**Responses per round** {since}")
    st.dataframe(res.changes, hide_index=True, key="co_changes", column_config={
        "round": st.column_config.NumberColumn("Round", format="%d"),
        "new_responses": "New", "changed_responses": "Changed",
        "removed_responses": "Removed", "respondents": "Respondents"})
    moved = res.changes[["new_responses", "changed_responses", "removed_responses"]]
    if res.previous_id and not moved.to_numpy().any():
        st.caption("No response was added, changed or removed: something else changed (a "
                   "statement text, the Panel tab, an answer edited by hand in the sheet, or the "
                   "study configuration).")
    problems_table(res.problems, "co_problems")


def problems_table(problems: pd.DataFrame, key: str) -> None:
    """The validation report: one row per problem, named by tab, row and column."""
    if problems.empty:
        st.caption("No validation problems.")
        return
    st.markdown(f"**Validation problems** ({len(problems)}): these cells were left out.")
    st.dataframe(problems[["tab", "row", "column", "header", "kind", "message"]],
                 hide_index=True, key=key, column_config={
                     "tab": "Tab", "row": st.column_config.NumberColumn("Row", format="%d"),
                     "column": "Column", "header": "Question", "kind": "Problem",
                     "message": st.column_config.TextColumn("Details", width="large")})


def _pin(sid: int | None) -> None:
    with store.connect(ui.db_path()) as con:
        store.set_pin(con, sid)


def history(state: dict) -> None:
    """Every snapshot, which one the committee sees, pin and unpin; every refresh attempt."""
    snaps, pinned = state["snapshots"], state["pinned"]
    if snaps.empty:
        st.caption("No snapshot yet: press **Refresh now**.")
        return
    shown = state["current"]
    st.markdown(f"The committee and observers see **snapshot {shown}**"
                + (" (pinned)." if pinned else " (the latest)."))
    view = snaps.assign(committee=snaps["snapshot_id"].eq(shown).map({True: "◀ shown",
                                                                       False: ""}))
    drop = ["content_hash"] + (["source"] if snaps["source"].nunique() == 1 else [])
    st.dataframe(view.drop(columns=drop), hide_index=True, key="co_history",
                 column_config={
                     "snapshot_id": st.column_config.NumberColumn("Snapshot", format="%d"),
                     "created_at": st.column_config.DatetimeColumn("Stored",
                                                                   format="D MMM YYYY HH:mm"),
                     "source": "Source", "n_rounds": "Rounds", "n_respondents": "Respondents",
                     "n_statements": "Statements", "n_ratings": "Ratings",
                     "n_problems": "Problems", "duration_s": st.column_config.NumberColumn(
                         "Seconds", format="%.1f"), "committee": "Committee view"})
    labels = {int(r.snapshot_id): f"Snapshot {r.snapshot_id} · {_when(r.created_at)} · "
              f"{r.n_respondents} respondents" for r in snaps.itertuples()}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        choice = st.selectbox("Pin the committee view to", list(labels), key="co_pin_choice",
                              format_func=labels.get, index=None,
                              placeholder="Choose a snapshot")
        st.button("Pin", key="co_pin", icon=":material/push_pin:", on_click=_pin,
                  args=(choice,), disabled=choice is None,
                  help="e.g. the snapshot taken at the close of round 2; new refreshes are "
                  "stored but not shown until you unpin")
        st.button("Unpin (show the latest)", key="co_unpin", disabled=pinned is None,
                  on_click=_pin, args=(None,))
    with st.expander("Refresh attempts (newest first)"):
        st.dataframe(state["log"], hide_index=True, key="co_log", column_config={
            "attempted_at": st.column_config.DatetimeColumn("When", format="D MMM YYYY HH:mm:ss"),
            "source": "Source", "outcome": "Outcome",
            "snapshot_id": st.column_config.NumberColumn("Snapshot", format="%d"),
            "message": st.column_config.TextColumn("Message", width="large"),
            "duration_s": st.column_config.NumberColumn("Seconds", format="%.1f")})


def nonresponders(state: dict) -> None:
    """Invited panelists who have not answered, per round, by identity (latest snapshot)."""
    latest, missing, rates = state["latest"], state["missing"], state["rates"]
    if latest is None:
        return
    if not cfg.panel_tab or cfg.panel_tab not in state["seen"].get("tabs", [cfg.panel_tab]):
        st.caption(f"No '{ui.escape(cfg.panel_tab or 'Panel')}' tab listing the invited "
                   "panelists, so non-responders cannot be listed.")
        return
    counts = missing.groupby("round").size().reindex(rates["round"], fill_value=0)
    st.caption(" · ".join(f"Round {r}: {n} of {int(i)} not responded" for r, n, i in
                          zip(counts.index, counts, rates["invited"], strict=True))
               + f" (snapshot {latest}). Identities: coordinator only.")
    st.dataframe(missing, hide_index=True, key="co_nonresponders", column_config={
        "round": st.column_config.NumberColumn("Round", format="%d"), "panelist": "Pseudonym",
        "identity": "Identity", "name": "Name"})
    st.download_button("Download as CSV (for reminders)", safe_csv(missing),
                       file_name=f"nonresponders_snapshot_{latest}.csv", mime="text/csv",
                       key="co_nonresponders_csv", icon=":material/download:")


if not ui.at_least("coordinator"):  # app.py offers the page by role; this page shows identities
    st.error("This page is for the study coordinator: sign in first.", icon=":material/lock:")
    st.stop()

st.title("Coordinator")
state = read_state()
source_panel(state["seen"])

st.subheader("Refresh")
st.caption("Reads the source, checks every response and stores a new snapshot when anything "
           "changed. If any step fails, nothing changes. Everyone sees a new snapshot on their "
           "next click.")
if st.button("Refresh now", type="primary", icon=":material/refresh:", key="co_refresh",
             disabled=not cfg.source):
    run_refresh()
if "co_last" in st.session_state:
    last = st.session_state["co_last"]
    st.caption(f"Last refresh from this browser: {last['at']:%d %b %Y %H:%M:%S}")
    refresh_summary(last, state["current"])

st.subheader("Snapshots")
history(state)

st.subheader("Non-responders")
nonresponders(state)
