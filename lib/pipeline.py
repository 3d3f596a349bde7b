"""A refresh, as one unit: fetch -> validate -> store -> compute.

If any step fails, nothing is written but a line in ``refresh_log``: the last good snapshot stays
current.  Two refreshes cannot interleave: an exclusive lock file beside the database serialises
them (the second waits up to ``wait`` seconds, then is told a refresh is running).
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from lib import store
from lib.config import StudyConfig
from lib.ingest import IngestError, ingest
from lib.sources import RawSource, SourceError, is_google_sheet, read_source

__all__ = ["RefreshResult", "RefreshError", "RefreshBusy", "refresh", "refresh_lock",
           "ensure_demo_db", "DEFAULT_DB"]

DEFAULT_DB = Path(__file__).resolve().parent.parent / "data" / "delphi.duckdb"
Progress = Callable[[str], None]


class RefreshError(RuntimeError):
    """A refresh failed at ``step``; the last good snapshot is still current."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step} failed: {message}")
        self.step, self.reason = step, message


class RefreshBusy(RefreshError):
    """Another refresh holds the lock."""


@dataclass
class RefreshResult:
    """What a refresh did."""

    outcome: str  # "new" or "no_change"
    snapshot_id: int
    previous_id: int | None
    problems: pd.DataFrame
    changes: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)
    requests: int = 0
    counts: dict[str, Any] = field(default_factory=dict)
    source_title: str = ""
    source_tabs: list[str] = field(default_factory=list)  # every tab the source has

    @property
    def seconds(self) -> float:
        """Total time of the refresh."""
        return sum(self.timings.values())


@contextmanager
def refresh_lock(db_path: str | Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the exclusive refresh lock of ``db_path`` (raise RefreshBusy after ``wait`` s)."""
    lock_path = Path(f"{db_path}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # a read-only data folder, or a file where the folder should be
        raise RefreshError("lock", f"cannot create the lock file {lock_path} ({exc.strerror}): "
                           "the database folder must be writable; set DELPHI_DB to another "
                           "path") from exc
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RefreshBusy("lock", "a refresh is already running; try again when it "
                                      "has finished") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _step(name: str, progress: Progress | None, timings: dict[str, float],
          fn: Callable[[], Any]) -> Any:
    if progress:
        progress(name)
    t0 = time.perf_counter()
    try:
        return fn()
    finally:
        timings[name] = time.perf_counter() - t0


def refresh(cfg: StudyConfig, db_path: str | Path = DEFAULT_DB, *, source: str | None = None,
            raw: RawSource | None = None, progress: Progress | None = None, wait: float = 0.0,
            google: dict[str, Any] | None = None) -> RefreshResult:
    """Fetch the source, validate it and store a new snapshot with its metrics."""
    src = source or cfg.source
    t_start = time.perf_counter()
    with refresh_lock(db_path, wait):
        try:
            return _refresh_locked(cfg, db_path, src, raw, progress, google or {}, t_start)
        except RefreshError as exc:
            _log_failure(db_path, src, exc, t_start)
            raise


def _refresh_locked(cfg, db_path, src, raw, progress, google, t_start) -> RefreshResult:
    timings: dict[str, float] = {}
    if raw is None:
        raw = _guard("fetch", lambda: _step(
            "fetch", progress, timings, lambda: _fetch(cfg, src, google)))
    result = _guard("validate", lambda: _step("validate", progress, timings,
                                              lambda: ingest(raw, cfg)))
    digest = _guard("store", lambda: store.content_hash(
        {t: raw.tabs.get(t) for t in cfg.tabs()}, cfg.raw))
    return _guard("store", lambda: _store(cfg, db_path, src, raw, result, digest, progress,
                                          timings, t_start))


def _fetch(cfg: StudyConfig, src: str, google: dict[str, Any]) -> RawSource:
    """Read the round tabs (which must exist) and the Statements and Panel tabs if present."""
    if not is_google_sheet(src):
        return read_source(src, cfg.tabs())  # a workbook simply lacks absent tabs
    optional = [t for t in (cfg.statements_tab, cfg.panel_tab) if t]
    return read_source(src, list(cfg.rounds), optional_tabs=optional, **google)


def _store(cfg, db_path, src, raw, result, digest, progress, timings, t_start) -> RefreshResult:
    with store.connect(db_path) as con:
        prev = store.latest_snapshot_id(con)
        seen = {"source": src, "title": raw.title, "tabs": list(raw.all_tabs or raw.tabs)}
        store.set_setting(con, "source_seen", seen)
        same = con.execute("SELECT snapshot_id FROM snapshots WHERE snapshot_id = ? AND "
                           "content_hash = ?", [prev, digest]).fetchone()
        if same:
            store.log_refresh(con, src, "no_change", prev, "nothing new since the last snapshot",
                              time.perf_counter() - t_start)
            return RefreshResult("no_change", prev, prev, store.problems_for(con, prev),
                                 store.changes_between(con, prev, prev), timings, raw.requests,
                                 source_title=raw.title, source_tabs=seen["tabs"])
        sid = _step("store and compute", progress, timings, lambda: store.write_snapshot(
            con, result, cfg.rule, source=src, source_title=raw.title, study_title=cfg.title,
            digest=digest, config=cfg.raw, denom_no_opinion=cfg.no_opinion_in_denominator,
            started=t_start))
        store.log_refresh(con, src, "new", sid, f"snapshot {sid} stored",
                          time.perf_counter() - t_start)
        info = store.snapshot_info(con, sid)
        return RefreshResult("new", sid, prev, store.problems_for(con, sid),
                             store.changes_between(con, prev, sid), timings, raw.requests,
                             {k: info[k] for k in ("n_rounds", "n_invited", "n_respondents",
                                                   "n_statements", "n_ratings", "n_problems")},
                             raw.title, seen["tabs"])


def _guard(step: str, fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except RefreshError:
        raise
    except (SourceError, IngestError, store.StoreError) as exc:
        raise RefreshError(step, str(exc)) from exc
    except Exception as exc:  # anything else: still a clear, step-named failure
        raise RefreshError(step, f"{type(exc).__name__}: {exc}") from exc


def _log_failure(db_path, src: str, exc: RefreshError, t_start: float) -> None:
    try:
        with store.connect(db_path, wait=2) as con:
            store.log_refresh(con, src, "failed", store.latest_snapshot_id(con), str(exc),
                              time.perf_counter() - t_start)
    except Exception:  # the failure itself is what the caller needs to see
        pass


def ensure_demo_db(cfg: StudyConfig, db_path: str | Path = DEFAULT_DB,
                   progress: Progress | None = None, google: dict[str, Any] | None = None, *,
                   rebuild_corrupt: bool = False) -> int:
    """Build the database from the configured source if it has no snapshot yet; return current.

    ``google`` (credentials) is passed to the Google Sheets reader, as in :func:`refresh`.
    With ``rebuild_corrupt``, a damaged database file is renamed ``<name>.corrupt-<time>`` (kept,
    never deleted) and a new one built; the new one's refresh log says where the old one went.
    """
    current = _current(db_path, rebuild_corrupt)
    if current is not None:
        return current
    with refresh_lock(db_path, wait=60):
        current = _current(db_path, rebuild_corrupt, move_aside=True)  # did another process win?
        if current is not None:
            return current
        return _refresh_locked(cfg, db_path, cfg.source, None, progress, google or {},
                               time.perf_counter()).snapshot_id


def _current(db_path: str | Path, tolerate_corrupt: bool, move_aside: bool = False) -> int | None:
    """The current snapshot; None for a new (or, when tolerated, a damaged) database file."""
    try:
        with store.connect(db_path) as con:
            return store.current_snapshot_id(con)
    except store.StoreCorrupt as exc:
        if not tolerate_corrupt:
            raise
        if move_aside:  # only under the refresh lock: nobody else is moving or building it
            kept = store.move_aside(db_path)
            with store.connect(db_path) as con:
                store.log_refresh(con, str(db_path), "rebuilt", None, f"{exc} The damaged file "
                                  f"was kept as {kept.name}; a new database was built", 0.0)
        return None
