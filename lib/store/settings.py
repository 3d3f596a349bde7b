"""What the database keeps besides snapshots: publications, settings (the study it holds among
them), the refresh log.

A publication makes one snapshot the one observers see (and the committee, unless they pick
another); publications are only ever added, so the history of what was shown stays readable.
``lib.publication.publish`` decides whether a snapshot may be published; this module stores.
"""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd

from lib.store.database import read_frame

__all__ = [
    "HISTORY_UNKNOWN",
    "published_snapshot_id",
    "publications",
    "add_publication",
    "set_setting",
    "setting",
    "STUDY",
    "study_record",
    "record_study",
    "log_refresh",
    "refresh_log",
]


def published_snapshot_id(con: duckdb.DuckDBPyConnection) -> int | None:
    """The snapshot of the latest publication (None before the first one)."""
    try:
        row = con.execute(
            """SELECT p.snapshot_id FROM publications p
               JOIN snapshots s USING (snapshot_id)
               ORDER BY p.publication_id DESC LIMIT 1"""
        ).fetchone()
    except duckdb.CatalogException:  # a file from before publications, opened read-only
        return None
    return row[0] if row else None


def publications(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every publication, newest first: publication_id, snapshot_id, published_at and the
    rounds closed as of it (``closed_rounds``, a list)."""
    try:
        return read_frame(con, "SELECT * FROM publications ORDER BY publication_id DESC")
    except duckdb.CatalogException:
        return pd.DataFrame(
            columns=["publication_id", "snapshot_id", "published_at", "closed_rounds"]
        )


def add_publication(
    con: duckdb.DuckDBPyConnection, snapshot_id: int, closed_rounds: list[int]
) -> int:
    """Record that ``snapshot_id`` is published, with every round closed so far; return the
    publication's id.  Checks nothing: the caller decides whether it may be published."""
    pid = con.execute("SELECT coalesce(max(publication_id), 0) + 1 FROM publications").fetchone()[0]
    con.execute(
        "INSERT INTO publications VALUES (?, ?, now()::TIMESTAMP, ?)",
        [pid, snapshot_id, sorted({int(r) for r in closed_rounds})],
    )
    return pid


# Set when the app itself built the database (a first view, a host that lost its disk, a damaged
# file rebuilt): earlier publications may have existed elsewhere, so lib.publication treats the
# first one here as if observers had seen results before.
HISTORY_UNKNOWN = "publication_history_unknown"


def set_setting(con: duckdb.DuckDBPyConnection, key: str, value: Any) -> None:
    """Remember ``value`` (stored as JSON) under ``key``."""
    con.execute(
        "INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, json.dumps(value, default=str)]
    )


def setting(con: duckdb.DuckDBPyConnection, key: str, default: Any = None) -> Any:
    """The value remembered under ``key`` (``default`` when there is none)."""
    row = con.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    try:
        return json.loads(row[0]) if row else default
    except ValueError:
        return default


# The study a database belongs to: {"source": ..., "title": ...} (lib.study_db decides what
# identifies a study; this module only keeps the record).
STUDY = "study"


def study_record(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    """The study this database holds: its source and title as recorded with its snapshots.

    A database from before the record adopts its latest snapshot's source and study title
    (``"adopted": True``); None when it holds no snapshot (any study may use it).
    """
    try:
        recorded = setting(con, STUDY)
        if isinstance(recorded, dict) and recorded.get("source") is not None:
            return recorded
        row = con.execute(
            "SELECT source, study_title, config_json FROM snapshots "
            "ORDER BY snapshot_id DESC LIMIT 1"
        ).fetchone()
    except duckdb.CatalogException:  # a file from before these tables, opened read-only
        return None
    if row is None:
        return None
    # the study's configured source (a refresh may have read another copy with --source)
    try:
        configured = json.loads(row[2] or "{}").get("source")
    except (ValueError, AttributeError):
        configured = None
    source = configured if isinstance(configured, str) and configured.strip() else row[0]
    return {"source": source, "title": row[1] or "", "adopted": True}


def record_study(con: duckdb.DuckDBPyConnection, source: str, title: str) -> None:
    """Remember that this database holds the study reading ``source``, called ``title``."""
    set_setting(con, STUDY, {"source": source, "title": title})


def log_refresh(
    con: duckdb.DuckDBPyConnection,
    source: str,
    outcome: str,
    snapshot_id: int | None,
    message: str,
    duration_s: float,
) -> None:
    """Record one refresh attempt (new, no_change or failed)."""
    con.execute(
        "INSERT INTO refresh_log VALUES (now()::TIMESTAMP, ?, ?, ?, ?, ?)",
        [source, outcome, snapshot_id, message[:2000], duration_s],
    )


def refresh_log(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pd.DataFrame:
    """The latest refresh attempts, newest first."""
    return read_frame(con, "SELECT * FROM refresh_log ORDER BY attempted_at DESC LIMIT ?", [limit])
