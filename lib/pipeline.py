"""A refresh, as one unit: fetch -> validate (ingest) -> compute metrics -> store the snapshot.

If any step fails, nothing is written but a line in ``refresh_log``: the last good snapshot stays
current.  Two refreshes cannot interleave: an exclusive lock file beside the database serialises
them (the second waits up to ``wait`` seconds, then is told a refresh is running).  This is the
only module that joins the stages: ``lib.store`` stores what it is given and computes nothing.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from lib import store
from lib.analysis import stakeholders
from lib.analysis.consensus import study_metrics
from lib.analysis.groups import BLANK
from lib.config import StudyConfig
from lib.ingest import IngestError, IngestResult, ingest
from lib.ingest.panel import PANEL_COLUMNS
from lib.sources import RawSource, SourceError, is_google_sheet, read_source
from lib.study_db import DEFAULT_DB, Mismatch, is_demo_source, mismatch, remember

__all__ = [
    "DEFAULT_DB",
    "RefreshBusy",
    "RefreshError",
    "RefreshResult",
    "StudyMismatch",
    "ensure_demo_db",
    "refresh",
    "refresh_lock",
]

Progress = Callable[[str], None]
_COUNTS = ("n_rounds", "n_invited", "n_respondents", "n_statements", "n_ratings", "n_problems")


class RefreshError(RuntimeError):
    """A refresh failed at ``step``; the last good snapshot is still current."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"{step} failed: {message}")
        self.step, self.reason = step, message


class RefreshBusy(RefreshError):
    """Another refresh holds the lock."""


class StudyMismatch(RefreshError):
    """The database holds another study (``lib.study_db``); nothing was read or written."""

    def __init__(self, found: Mismatch) -> None:
        super().__init__("study", found.message())
        self.mismatch = found


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


@dataclass
class _Run:
    """One refresh under way: what it reads, where it writes, whom it tells, how long it took."""

    cfg: StudyConfig
    db_path: str | Path
    source: str
    progress: Progress | None = None
    google: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    timings: dict[str, float] = field(default_factory=dict)

    def step(self, name: str, fn: Callable[[], Any]) -> Any:
        """Announce step ``name``, run ``fn`` and add its duration to ``timings[name]``."""
        if self.progress:
            self.progress(name)
        t0 = time.perf_counter()
        try:
            return fn()
        finally:
            self.timings[name] = time.perf_counter() - t0

    def elapsed(self) -> float:
        """Seconds since the refresh began."""
        return time.perf_counter() - self.started


@contextmanager
def refresh_lock(db_path: str | Path, wait: float = 0.0) -> Iterator[None]:
    """Hold the exclusive refresh lock of ``db_path`` (raise RefreshBusy after ``wait`` s)."""
    lock_path = Path(f"{db_path}.lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # a read-only data folder, or a file where the folder should be
        raise RefreshError(
            "lock",
            f"cannot create the lock file {lock_path} ({exc.strerror}): the database folder "
            "must be writable; set DELPHI_DB to another path",
        ) from exc
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RefreshBusy(
                        "lock", "a refresh is already running; try again when it has finished"
                    ) from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def refresh(
    cfg: StudyConfig,
    db_path: str | Path = DEFAULT_DB,
    *,
    source: str | None = None,
    raw: RawSource | None = None,
    progress: Progress | None = None,
    wait: float = 0.0,
    google: dict[str, Any] | None = None,
) -> RefreshResult:
    """Fetch the source, validate it and store a new snapshot with its metrics."""
    run = _Run(cfg, db_path, source or cfg.source, progress, google or {})
    with refresh_lock(db_path, wait):
        try:
            _check_study(run)
            return _refresh_locked(run, raw)
        except StudyMismatch:
            raise  # not this study's database: not even its refresh log is written
        except RefreshError as exc:
            _log_failure(run, exc)
            raise


def _study_source(run: _Run) -> str:
    """The source that identifies the study: its configured one (``--source`` reads another
    copy of the same study, e.g. a downloaded workbook), else the one read."""
    return run.cfg.source or run.source


def _check_study(run: _Run) -> None:
    """Refuse, before the source is read, a database that holds another study.  A missing
    file holds none (opening it read-only would create it first: 0.04 s of CPU, twice a
    check of an existing file)."""
    if not Path(run.db_path).exists():
        return

    def found() -> Any:
        with store.connect(run.db_path, read_only=True) as con:
            source, title = _study_source(run), run.cfg.title
            return mismatch(con, source, title, db=run.db_path, study=run.cfg.path)

    other = _guard("store", found)
    if other is not None:
        raise StudyMismatch(other)


def _refresh_locked(run: _Run, raw: RawSource | None) -> RefreshResult:
    """The refresh itself, under the lock; ``raw`` skips the fetch."""
    cfg = run.cfg
    if raw is None:
        raw = _guard(
            "fetch", lambda: run.step("fetch", lambda: _fetch(cfg, run.source, run.google))
        )
    result = _guard("validate", lambda: run.step("validate", lambda: ingest(raw, cfg)))
    digest = _guard("store", lambda: store.content_hash(_hashed_tabs(raw, cfg), cfg.raw))
    return _guard("store", lambda: _store(run, raw, result, digest))


def _hashed_tabs(raw: RawSource, cfg: StudyConfig) -> dict[str, list[list[Any]] | None]:
    """The tabs the study reads (None for an absent optional one): what "no change" compares."""
    return {t: raw.tabs.get(t) for t in cfg.tabs()}


def _fetch(cfg: StudyConfig, src: str, google: dict[str, Any]) -> RawSource:
    """Read the round tabs (which must exist) and the Statements and Panel tabs if present."""
    if not is_google_sheet(src):
        return read_source(src, cfg.tabs())  # a workbook simply lacks absent tabs
    optional = [t for t in (cfg.statements_tab, cfg.panel_tab) if t]
    return read_source(src, list(cfg.rounds), optional_tabs=optional, **google)


def _store(run: _Run, raw: RawSource, result: IngestResult, digest: str) -> RefreshResult:
    """A new snapshot with its metrics, or "no change" when the content is the latest one's.

    One connection for the whole step (a DuckDB open costs 10-20 ms, most of a small refresh);
    the metrics are computed only for new content, inside it.
    """
    tabs = list(raw.all_tabs or raw.tabs)
    seen = {"source": run.source, "title": raw.title, "tabs": tabs}
    with store.connect(run.db_path) as con:
        store.set_setting(con, "source_seen", seen)
        prev = store.latest_snapshot_id(con)
        same, note = False, None
        if prev is not None:
            # computed only if the last snapshot was hashed by the previous scheme
            legacy = partial(store.legacy_content_hash, _hashed_tabs(raw, run.cfg), run.cfg.raw)
            same, note = store.same_content(con, prev, digest, legacy)
        if same:
            message = "nothing new since the last snapshot" + (f"; {note}" if note else "")
            store.log_refresh(con, run.source, "no_change", prev, message, run.elapsed())
            problems, changes = (
                store.problems_for(con, prev),
                store.changes_between(con, prev, prev),
            )
            outcome, sid, counts = "no_change", prev, {}
        else:
            sid, problems, changes, counts = run.step(
                "store and compute", lambda: _write(con, run, raw, result, digest, prev)
            )
            outcome = "new"
        remember(
            con, _study_source(run), run.cfg.title
        )  # with its first snapshot, and each one after
    return RefreshResult(
        outcome, sid, prev, problems, changes, run.timings, raw.requests, counts, raw.title, tabs
    )


def _write(
    con: Any,
    run: _Run,
    raw: RawSource,
    result: IngestResult,
    digest: str,
    prev: int | None,
) -> tuple[int, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Compute the snapshot's metrics, then store both (with its refresh-log line) at once;
    return its id, problems, changes since ``prev`` and counts."""
    cfg = run.cfg
    metrics = _study_verdict(study_metrics(result.ratings, cfg.scale_map), result, cfg)
    sid = store.write_snapshot(
        con,
        result,
        metrics,
        rule=cfg.rule.as_dict(),
        source=run.source,
        source_title=raw.title,
        study_title=cfg.title,
        digest=digest,
        config=cfg.raw,
        started=run.started,
    )
    info = store.snapshot_info(con, sid)
    problems, changes = store.problems_for(con, sid), store.changes_between(con, prev, sid)
    return sid, problems, changes, {k: info[k] for k in _COUNTS}


def _study_verdict(metrics: pd.DataFrame, result: IngestResult, cfg: StudyConfig) -> pd.DataFrame:
    """The stored status is the study's verdict: under ``[groups] consensus`` other than
    "panel", the rule must hold within every group (or a majority of them), computed on the
    true groups; the panel's own verdict is recomputed where the groups are shown."""
    choice = cfg.groups
    if choice is None or choice.consensus == "panel":
        return metrics
    found = {str(c).casefold(): c for c in result.panel.columns[len(PANEL_COLUMNS) :]}
    column = found.get(choice.attribute.casefold())
    if column is None:  # reported at ingest ("attribute not found"): no group, no consensus
        why = (
            f"groups.attribute {choice.attribute!r} is not a column of the Panel tab, so no "
            f"statement can reach consensus {VERDICT_WORDS[choice.consensus]}"
        )
        extra = pd.DataFrame(
            [[cfg.panel_tab or "", None, None, choice.attribute, "no groups", why]],
            columns=result.problems.columns,
        )
        result.problems = pd.concat([result.problems, extra], ignore_index=True)
        return metrics.assign(
            status="no_consensus", rule=metrics["rule"] + VERDICT_SUFFIX[choice.consensus]
        )
    long = pd.DataFrame(
        {
            "identity": result.panel["identity"],
            "attribute": choice.attribute,
            "value": result.panel[column],
        }
    )
    groups = stakeholders.panel_groups(long, choice.attribute, by="identity")
    by_group = stakeholders.group_metrics(result.ratings, groups, cfg.scale_map, by="identity")
    _warn_small_groups(by_group, result, cfg)
    verdict = stakeholders.study_status(metrics, by_group, choice.consensus, choice.min_groups)
    return metrics.assign(
        status=verdict["status_study"].to_numpy(),
        rule=metrics["rule"] + VERDICT_SUFFIX[choice.consensus],
    )


def _warn_small_groups(by_group: pd.DataFrame, result: IngestResult, cfg: StudyConfig) -> None:
    """A group smaller than privacy.min_group_size decides the study's verdict, which everyone
    sees: the verdict can then tell observers how that group (its few members) answered. Said
    once per round, as a problem the coordinator reads; the verdict itself is the study's."""
    sizes = by_group[by_group["group"] != BLANK].drop_duplicates(["round", "group"])
    small = sizes[sizes["n_panelists"] < cfg.min_group_size]
    rows = []
    for rnd, part in small.groupby("round", sort=True):
        names = ", ".join(
            f"{g!r} ({n})" for g, n in zip(part["group"], part["n_panelists"], strict=True)
        )
        why = (
            f"round {rnd}: group{'s' if len(part) > 1 else ''} {names} "
            f"{'have' if len(part) > 1 else 'has'} fewer respondents than privacy.min_group_size "
            f"({cfg.min_group_size}) but decide{'' if len(part) > 1 else 's'} consensus "
            f"{VERDICT_WORDS[cfg.groups.consensus]}: the study's verdict, which observers see, "
            "can reveal how so few panelists answered; merge small groups on the Panel tab"
        )
        rows.append([cfg.panel_tab or "", None, None, cfg.groups.attribute, "small group", why])
    if rows:
        extra = pd.DataFrame(rows, columns=result.problems.columns)
        result.problems = pd.concat([result.problems, extra], ignore_index=True)


VERDICT_WORDS = {"every_group": "in every group", "majority": "in a majority of groups"}
VERDICT_SUFFIX = {k: f" ({v})" for k, v in VERDICT_WORDS.items()}


def _guard(step: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn``; any failure becomes a RefreshError naming ``step``."""
    try:
        return fn()
    except RefreshError:
        raise
    except (SourceError, IngestError, store.StoreError) as exc:
        raise RefreshError(step, str(exc)) from exc
    except Exception as exc:  # anything else: still a clear, step-named failure
        raise RefreshError(step, f"{type(exc).__name__}: {exc}") from exc


def _log_failure(run: _Run, exc: RefreshError) -> None:
    """Record the failed attempt, if the database can be opened at all."""
    try:
        with store.connect(run.db_path, wait=2) as con:
            store.log_refresh(
                con, run.source, "failed", store.latest_snapshot_id(con), str(exc), run.elapsed()
            )
    except Exception:  # the failure itself is what the caller needs to see
        pass


def ensure_demo_db(
    cfg: StudyConfig,
    db_path: str | Path = DEFAULT_DB,
    progress: Progress | None = None,
    google: dict[str, Any] | None = None,
    *,
    rebuild_corrupt: bool = False,
    read_all: bool = False,
) -> int:
    """Build the database from the configured source if it has no snapshot yet; return current.

    The bundled demo's first snapshot is published with every round closed; any other study's
    is not published until the coordinator publishes it (``lib.publication.publish``).

    ``google`` (credentials) is passed to the Google Sheets reader, as in :func:`refresh`.
    With ``rebuild_corrupt``, a damaged database file is renamed ``<name>.corrupt-<time>`` (kept,
    never deleted) and a new one built; the new one's refresh log says where the old one went.
    With ``read_all`` (a query met a damaged block), every value in the file is read first, so a
    file that opens but is damaged deeper inside is rebuilt too; under the refresh lock it is read
    again, so a file another session has just rebuilt is kept.
    """
    current = _current(db_path, rebuild_corrupt, read_all=read_all)
    if current is not None:
        return current
    with refresh_lock(db_path, wait=60):
        # did another process win?
        current = _current(db_path, rebuild_corrupt, move_aside=True, read_all=read_all)
        if current is not None:
            return current
        run = _Run(cfg, db_path, cfg.source, progress, google or {})
        sid = _refresh_locked(run, None).snapshot_id
        with store.connect(db_path) as con:
            if _bundled_demo(cfg):  # a finished, made-up study: its shared link shows the data
                store.add_publication(con, sid, sorted(set(cfg.rounds.values())))
            else:  # built by the app: observers may have seen an earlier database's results
                store.set_setting(con, store.HISTORY_UNKNOWN, True)
        return sid


def _bundled_demo(cfg: StudyConfig) -> bool:
    """Whether ``cfg`` is a bundled demo study reading its own workbook (whose rounds are all
    closed); a demo's study file pointed at another source is a real study."""
    return cfg.path is not None and is_demo_source(cfg.path, cfg.source)


def _current(
    db_path: str | Path, tolerate_corrupt: bool, move_aside: bool = False, read_all: bool = False
) -> int | None:
    """The current snapshot; None for a new (or, when tolerated, a damaged) database file."""
    try:
        with store.connect(db_path, read_only=True) as con:
            if read_all:
                store.check_readable(con)
            return store.current_snapshot_id(con)
    except store.StoreCorrupt as exc:
        if not tolerate_corrupt:
            raise
        if move_aside:  # only under the refresh lock: nobody else is moving or building it
            kept = store.move_aside(db_path)
            with store.connect(db_path) as con:
                store.log_refresh(
                    con,
                    str(db_path),
                    "rebuilt",
                    None,
                    f"{exc} The damaged file was kept as {kept.name}; a new database was built",
                    0.0,
                )
        return None
