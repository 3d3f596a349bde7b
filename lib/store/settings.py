"""What the database keeps besides snapshots: publications, settings, the refresh log.

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
