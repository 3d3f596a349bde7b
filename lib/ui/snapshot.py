"""The snapshot of this run: found, built or rebuilt, published or chosen; storage errors; a
database of another study refused (nothing of it is shown).

Every rerun resolves the snapshot once (``resolve_snapshot`` in app.py); every loader in
:mod:`lib.ui.loaders` takes that id as part of its cache key, so a session shows the new data on
its next rerun after a refresh and never mixes two snapshots within one run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import NoReturn

import pandas as pd
import streamlit as st

from lib import store
from lib.config import StudyConfig
from lib.pipeline import RefreshError, ensure_demo_db
from lib.sources import is_google_sheet
from lib.study_db import Mismatch, mismatch
from lib.ui.access import at_least
from lib.ui.messages import error_detail
from lib.ui.session import config, db_path, google_credentials, study_path

__all__ = ["db_signature", "resolve_snapshot", "snapshot_id", "storage_failed"]

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
    what is read live rather than per snapshot (the refresh log, the publications).  Stops the
    run, as ``resolve_snapshot`` does, when the database holds another study."""
    db = db_path()
    signature = _db_signature(db)
    try:
        *_, other = _snapshot_ids(db, signature, _study())
    except store.StoreError as exc:
        storage_failed(exc)
    if other is not None:
        _another_study(other)
    return signature


Ids = tuple[int | None, int | None, Mismatch | None]


def _study() -> tuple[str, str, str | None]:
    """The configured study as ``lib.study_db.mismatch`` compares it: source, title, file."""
    cfg = config()
    return cfg.source, cfg.title, study_path()


@st.cache_data(ttl=5, max_entries=16, show_spinner=False)
def _snapshot_ids(db: str, signature: tuple, study: tuple[str, str, str | None]) -> Ids:
    """(latest, published) snapshot ids, and how the database holds another study than
    ``study`` (None when it does not), looked up again only when the files changed (or after
    5 s: a write within the file system's timestamp granularity could leave the signature as it
    was).  A DuckDB connection costs 25 ms of CPU, a quarter of a rerun's budget."""
    return _read_snapshot_ids(db, study)


def _read_snapshot_ids(db: str, study: tuple[str, str, str | None]) -> Ids:
    source, title, path = study
    with store.connect(db, read_only=True) as con:
        other = mismatch(con, source, title, db=db, study=path)
        return store.latest_snapshot_id(con), store.published_snapshot_id(con), other


def _another_study(found: Mismatch) -> NoReturn:
    """Stop this run: the database holds another study, of which nothing is shown (the titles
    for everyone; sheet keys and server paths for the coordinator only)."""
    coordinator = at_least("coordinator")
    text = error_detail(found.message(detail=coordinator), coordinator=coordinator)
    st.error(
        f"**This database belongs to another study.** {text[:1].upper()}{text[1:]}",
        icon=":material/block:",
    )
    st.stop()


def resolve_snapshot() -> int | None:
    """Find (or, for a local workbook, build) the snapshot this session sees; remember it for
    this run.  Observers see the published snapshot, the committee too unless they pick another
    in the sidebar, the coordinator the latest."""
    cfg, db, study = config(), db_path(), _study()
    latest = published = other = None
    try:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
        latest, published, other = _snapshot_ids(db, _db_signature(db), study)
        if latest is None and cfg.source:
            _build_first_snapshot(cfg, db)
            latest, published, other = _read_snapshot_ids(db, study)
    except store.StoreCorrupt as exc:
        if _rebuild_damaged(cfg, db, exc) is not None:
            latest, published, other = _read_snapshot_ids(db, study)
    except (store.StoreError, RefreshError) as exc:
        _unavailable(exc)
    except OSError as exc:  # the folder cannot be made: read-only, or a file in the way
        _unavailable(
            f"its folder {Path(db).parent} cannot be created ({exc.strerror})",
            "; set DELPHI_DB to a file in a writable folder",
        )
    if other is not None:  # fail closed: not one of its snapshots is offered or shown
        st.session_state.pop("snapshot_id", None)
        _another_study(other)
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
    from lib.ui import loaders  # which imports this module

    loaders.forget()
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
