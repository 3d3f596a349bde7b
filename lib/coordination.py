"""The Coordinator page's data: the live state of the study database, publication, and the
tables and sentences built from them.  No Streamlit: :mod:`lib.ui.loaders` caches ``read_state``.

Publication is what stops observers from de-anonymising a panelist by comparing two views:
observers see only published snapshots, and :func:`publish` refuses a snapshot that differs
from any earlier published one by fewer than ``privacy.min_group_size`` respondents in a round,
unless that publication closes the round.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from lib import store
from lib.config import StudyConfig

__all__ = [
    "CoordinatorState",
    "read_state",
    "PublishRefused",
    "PublicationCheck",
    "check_publication",
    "publish",
    "refresh_steps",
    "tabs_table",
    "history_view",
    "publication_caption",
    "snapshot_labels",
    "panel_tab_listed",
    "nonresponse_caption",
    "stored_message",
    "plural",
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


class PublishRefused(ValueError):
    """The snapshot may not be published; the message names each round, its count, and what
    would allow it."""


@dataclass(frozen=True)
class PublicationCheck:
    """Whether ``snapshot_id`` may be published now, round by round."""

    snapshot_id: int
    published: int | None  # what observers see now
    min_group_size: int
    closing: tuple[int, ...]  # rounds this publication closes
    closed: tuple[int, ...]  # rounds closed by earlier publications
    rounds: pd.DataFrame  # round, respondents, added, changed, removed (vs published), verdict
    refusals: tuple[str, ...]  # one sentence per round that blocks publication
    warnings: tuple[str, ...]  # closing rounds that reveal a small change, said plainly

    @property
    def allowed(self) -> bool:
        """No round blocks publication."""
        return not self.refusals

    @property
    def changes_nothing(self) -> bool:
        """Already published, and closes no round that was open."""
        return self.snapshot_id == self.published and set(self.closing) <= set(self.closed)


def check_publication(
    db: str | Path,
    snapshot_id: int,
    *,
    min_group_size: int | None = None,
    close_rounds: tuple[int, ...] | list[int] = (),
) -> PublicationCheck:
    """Whether publishing ``snapshot_id`` (closing ``close_rounds``) would be allowed, and why
    not; writes nothing.  See :func:`publish` for the rule."""
    with store.connect(db, read_only=True) as con:
        return _check(con, snapshot_id, min_group_size, close_rounds)


def publish(
    db: str | Path,
    snapshot_id: int | None = None,
    *,
    min_group_size: int | None = None,
    close_rounds: tuple[int, ...] | list[int] = (),
) -> PublicationCheck:
    """Publish ``snapshot_id`` (default: the latest) to observers, closing ``close_rounds``.

    Refused (:class:`PublishRefused`) when, in a round it does not close, the snapshot differs
    by 1 to ``min_group_size - 1`` respondents (added, removed or changed) from any snapshot
    published before -- or, for the first publication, has that few respondents.  A snapshot
    published before may be published again (observers hold it already).  The group
    size is the stricter of ``min_group_size`` and the one the snapshot was stored under.
    The check and the record are one transaction: two coordinators publishing at once cannot
    both pass against the same earlier publication.
    """
    with store.connect(db) as con:
        sid = snapshot_id if snapshot_id is not None else store.latest_snapshot_id(con)
        if sid is None:
            raise PublishRefused("there is no snapshot to publish yet: refresh first")
        con.execute("BEGIN TRANSACTION")
        try:
            check = _check(con, sid, min_group_size, close_rounds)
            if check.refusals:
                raise PublishRefused(
                    f"snapshot {sid} cannot be published: " + "; ".join(check.refusals)
                )
            if not check.changes_nothing:
                store.add_publication(con, sid, sorted({*check.closed, *check.closing}))
            con.execute("COMMIT")
        except BaseException as exc:
            _rollback(con)
            # the other's commit, seen at our insert or our commit
            if isinstance(exc, (duckdb.TransactionException, duckdb.ConstraintException)):
                raise PublishRefused(
                    "another publication was recorded at the same moment: look at what is "
                    "published now and try again"
                ) from exc
            raise
    return check


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("ROLLBACK")
    except duckdb.Error:  # a failed COMMIT has already ended the transaction
        pass


def _check(
    con: duckdb.DuckDBPyConnection,
    sid: int,
    min_group_size: int | None,
    close_rounds: tuple[int, ...] | list[int],
) -> PublicationCheck:
    try:
        info = store.snapshot_info(con, sid)
    except store.StoreError:
        raise PublishRefused(f"snapshot {sid} does not exist") from None
    k = max(min_group_size or 1, _stored_group_size(info["config"]))
    rounds = sorted(set(store.statements_for(con, sid)["round"]))
    closing = tuple(sorted({int(r) for r in close_rounds}))
    unknown = [r for r in closing if r not in rounds]
    if unknown:
        raise PublishRefused(
            f"round {', '.join(map(str, unknown))} is not a round of snapshot {sid} "
            f"(its rounds: {', '.join(map(str, rounds)) or 'none'})"
        )
    pubs = store.publications(con)
    published = store.published_snapshot_id(con)
    closed = tuple(int(r) for r in pubs["closed_rounds"].iloc[0]) if not pubs.empty else ()
    # every snapshot published so far, not just the last: observers may have kept any of them
    baselines = list(dict.fromkeys(pubs["snapshot_id"])) or [None]
    diffs = {b: _differing(store.respondent_differences(con, b, sid)) for b in baselines}
    refusals, warnings, refused = [], [], set()
    # published before: observers hold it already, and it was checked against the others then
    for r in [] if sid in baselines else rounds:
        small = sorted(
            (int(d.loc[r, "differing"]), b)
            for b, d in diffs.items()
            if r in d.index and 0 < d.loc[r, "differing"] < k
        )
        if small and r in closing:
            warnings.append(_closing_warning(r, *small[0]))
        elif small:
            refusals.append(_refusal(r, *small[0], diffs[small[0][1]], k))
            refused.add(r)
    table = _verdicts(
        rounds, diffs[published if published in diffs else baselines[0]], closing, refused, k
    )
    return PublicationCheck(
        sid, published, k, closing, closed, table, tuple(refusals), tuple(warnings)
    )


def _stored_group_size(config: dict[str, Any]) -> int:
    """``privacy.min_group_size`` of the configuration a snapshot was stored with."""
    value = (config.get("privacy") or {}).get("min_group_size", StudyConfig.min_group_size)
    return value if isinstance(value, int) and value > 0 else StudyConfig.min_group_size


def _differing(changes: pd.DataFrame) -> pd.DataFrame:
    out = changes.set_index("round")
    return out.assign(differing=out["added"] + out["removed"] + out["changed"])


def _refusal(r: int, n: int, baseline: int | None, diff: pd.DataFrame, k: int) -> str:
    if baseline is None:
        return (
            f"round {r}: only {plural(n, 'respondent')}, fewer than privacy.min_group_size = "
            f"{k}; publish once {k - n} more have answered, or close round {r}"
        )
    row = diff.loc[r]
    detail = ", ".join(f"{int(row[c])} {c}" for c in ("added", "changed", "removed") if int(row[c]))
    return (
        f"round {r}: {plural(n, 'respondent')} {'differs' if n == 1 else 'differ'} from "
        f"snapshot {baseline}, published "
        f"before ({detail}), fewer than privacy.min_group_size = {k}, so comparing the two "
        f"would reveal their answers; publish once {k - n} more differ, or close round {r}"
    )


def _closing_warning(r: int, n: int, baseline: int | None) -> str:
    if baseline is None:
        return f"Round {r} is published with only {plural(n, 'respondent')} because it closes."
    return (
        f"Closing round {r} publishes a change of {plural(n, 'respondent')} since snapshot "
        f"{baseline}: anyone who compares the two can read their answers to round {r}."
    )


def _verdicts(
    rounds: list[int], diff: pd.DataFrame, closing: tuple[int, ...], refused: set[int], k: int
) -> pd.DataFrame:
    """One row per round: respondents, added, changed, removed, and what publication does."""
    table = diff.reindex(rounds, fill_value=0).rename_axis("round").reset_index()
    table["verdict"] = [
        f"refused: 1 to {k - 1} differ"
        if r in refused
        else "closes: published as it is"
        if r in closing
        else "ok"
        if n
        else "unchanged"
        for r, n in zip(table["round"], table["differing"], strict=True)
    ]
    return table[["round", "respondents", "added", "changed", "removed", "verdict"]]


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


def plural(n: int, noun: str) -> str:
    """``plural(1, "problem")`` is "1 problem", ``plural(2, "problem")`` "2 problems"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def stored_message(snapshot_id: int, seconds: float, counts: dict[str, Any]) -> str:
    """What a refresh that stored a new snapshot says (``counts`` as in RefreshResult)."""
    c = counts
    return (
        f"Snapshot {snapshot_id} stored in {seconds:.1f} s: "
        f"{c['n_respondents']} respondents of {c['n_invited']} invited, "
        f"{c['n_ratings']} ratings, {plural(c['n_problems'], 'validation problem')}."
    )
