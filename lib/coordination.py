"""The Coordinator page's data: the live state of the study database, and the tables and
sentences built from it.  No Streamlit: :mod:`lib.ui.loaders` caches ``read_state``.
Publishing (and the rule that refuses a publication) is :mod:`lib.publication`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lib import store
from lib.config import StudyConfig
from lib.textsafe import plural

__all__ = [
    "CoordinatorState",
    "read_state",
    "refresh_steps",
    "tabs_table",
    "history_view",
    "publication_caption",
    "snapshot_labels",
    "panel_tab_listed",
    "nonresponse_caption",
    "stored_message",
    "SheetSource",
    "sheet_source",
]


@dataclass(frozen=True)
class CoordinatorState:
    """Everything the Coordinator page reads from the database, in one connection."""

    seen: dict[str, Any]  # the source's title and tabs at the last refresh ({} if another source)
    snapshots: pd.DataFrame  # store.list_snapshots
    log: pd.DataFrame  # store.refresh_log
    published: int | None  # the snapshot observers see (None: nothing published yet)
    publications: pd.DataFrame  # store.publications, newest first
    latest: int | None
    missing: pd.DataFrame | None  # non-responders of the latest snapshot, with identities
    rates: pd.DataFrame | None  # response rates of the latest snapshot

    @property
    def closed_rounds(self) -> list[int]:
        """The rounds closed so far (by the latest publication or an earlier one)."""
        return (
            []
            if self.publications.empty
            else [int(r) for r in self.publications["closed_rounds"].iloc[0]]
        )


def read_state(db: str | Path, source: str | None) -> CoordinatorState:
    """The log, the snapshots, the publications and the latest snapshot's non-responders."""
    with store.connect(db, read_only=True) as con:
        latest = store.latest_snapshot_id(con)
        seen = store.setting(con, "source_seen") or {}
        return CoordinatorState(
            seen=seen if seen.get("source") == source else {},
            snapshots=store.list_snapshots(con),
            log=store.refresh_log(con),
            published=store.published_snapshot_id(con),
            publications=store.publications(con),
            latest=latest,
            missing=store.nonresponders(con, latest) if latest else None,
            rates=store.response_rates(con, latest) if latest else None,
        )


# --- publication ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetSource:
    """A Google Sheet source: its address and the service account to share it with, or why
    either is not known."""

    url: str | None
    url_error: str | None
    email: str | None
    email_error: str | None


def sheet_source(source: str, google: dict[str, Any]) -> SheetSource:
    """The sheet's address and the service account's e-mail (``google``: the credentials
    arguments of a refresh, e.g. ``{"credentials_info": {...}}``; {} reads the key file)."""
    from lib.sources.gsheets import GoogleSheetError, parse_sheet_key, service_account_email

    url = email = url_error = email_error = None
    try:
        url = f"https://docs.google.com/spreadsheets/d/{parse_sheet_key(source)}/edit"
    except GoogleSheetError as exc:
        url_error = str(exc)
    try:
        email = service_account_email(**google)
    except GoogleSheetError as exc:
        email_error = str(exc)
    return SheetSource(url, url_error, email, email_error)


def refresh_steps(sheet: bool) -> dict[str, str]:
    """What each step of a refresh is called while it runs (pipeline step -> words).

    >>> refresh_steps(False)["fetch"]
    'Reading the workbook'
    """
    return {
        "fetch": "Fetching from Google Sheets" if sheet else "Reading the workbook",
        "validate": "Validating the responses",
        "store and compute": "Storing the snapshot and computing consensus",
        "store": "Storing the snapshot",
        "lock": "Waiting for another refresh",
    }


def tabs_table(cfg: StudyConfig, found: list[str] | None) -> pd.DataFrame:
    """Each tab the study uses, what for, and whether the source has it (``found``: its tabs at
    the last refresh, None before any); then the source's tabs the study does not use."""
    roles = {tab: f"Round {n}" for tab, n in cfg.rounds.items()}
    roles |= {
        t: r
        for t, r in (
            (cfg.statements_tab, "Statements (optional)"),
            (cfg.panel_tab, "Panel (optional)"),
        )
        if t
    }
    rows = [
        {
            "tab": t,
            "used as": r,
            "in the source": "not read yet"
            if found is None
            else ("yes" if t in found else "missing"),
        }
        for t, r in roles.items()
    ]
    rows += [
        {"tab": t, "used as": "not used", "in the source": "yes"}
        for t in (found or [])
        if t not in roles
    ]
    return pd.DataFrame(rows)


def history_view(snapshots: pd.DataFrame, publications: pd.DataFrame) -> pd.DataFrame:
    """The snapshot history with a ``published`` column (the one observers see, those published
    before); without the content hash, and without the source when every snapshot has it."""
    shown = publications["snapshot_id"].iloc[0] if not publications.empty else None
    before = set(publications["snapshot_id"])
    view = snapshots.assign(
        published=[
            "◀ observers see this" if s == shown else ("published before" if s in before else "")
            for s in snapshots["snapshot_id"]
        ]
    )
    drop = ["content_hash"] + (["source"] if snapshots["source"].nunique() == 1 else [])
    return view.drop(columns=drop)


def publication_caption(state: CoordinatorState) -> str:
    """Who sees what: the published snapshot, when it was published, the closed rounds."""
    if state.published is None:
        return (
            "Nothing is published yet: observers read “No results have been published yet”, "
            "and so does the committee unless they pick a snapshot in the sidebar."
        )
    last = state.publications.iloc[0]
    closed = ", ".join(map(str, state.closed_rounds)) or "none"
    newer = (
        f" Snapshot {state.latest} is the latest: publish it when the rule below allows."
        if state.latest != state.published
        else ""
    )
    return (
        f"Observers see **snapshot {state.published}**, published {_when(last.published_at)} "
        f"(closed rounds: {closed}); so does the committee unless they pick another in the "
        f"sidebar.{newer}"
    )


def _when(value: Any) -> str:
    return f"{pd.Timestamp(value):%d %b %Y %H:%M}" if value is not None else "—"


def snapshot_labels(snapshots: pd.DataFrame) -> dict[int, str]:
    """Snapshot id -> "Snapshot 3 · 01 Oct 2026 09:00 · 14 respondents"."""
    return {
        int(r.snapshot_id): f"Snapshot {r.snapshot_id} · {_when(r.created_at)} · "
        f"{r.n_respondents} respondents"
        for r in snapshots.itertuples()
    }


def panel_tab_listed(cfg: StudyConfig, seen: dict[str, Any]) -> bool:
    """Whether a Panel tab lists the invited panelists (assumed so before the first read)."""
    return bool(cfg.panel_tab) and cfg.panel_tab in seen.get("tabs", [cfg.panel_tab])


def nonresponse_caption(missing: pd.DataFrame, rates: pd.DataFrame, latest: int) -> str:
    """ "Round 1: 0 of 15 not responded · ... (snapshot 3). Identities: coordinator only."""
    counts = missing.groupby("round").size().reindex(rates["round"], fill_value=0)
    return (
        " · ".join(
            f"Round {r}: {n} of {int(i)} not responded"
            for r, n, i in zip(counts.index, counts, rates["invited"], strict=True)
        )
        + f" (snapshot {latest}). Identities: coordinator only."
    )


def stored_message(snapshot_id: int, seconds: float, counts: dict[str, Any]) -> str:
    """What a refresh that stored a new snapshot says (``counts`` as in RefreshResult)."""
    c = counts
    return (
        f"Snapshot {snapshot_id} stored in {seconds:.1f} s: "
        f"{c['n_respondents']} respondents of {c['n_invited']} invited, "
        f"{c['n_ratings']} ratings, {plural(c['n_problems'], 'validation problem')}."
    )
