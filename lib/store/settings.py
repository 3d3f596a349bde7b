"""What the database keeps besides snapshots: the pinned snapshot, settings, the refresh log."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd

from lib.store.database import read_frame

__all__ = [
    "pinned_snapshot_id",
    "set_pin",
    "set_setting",
    "setting",
    "log_refresh",
    "refresh_log",
]


def pinned_snapshot_id(con: duckdb.DuckDBPyConnection) -> int | None:
    """The pinned snapshot id, or None."""
    row = con.execute(
        "SELECT TRY_CAST(value AS INTEGER) FROM settings WHERE key = 'pinned_snapshot'"
    ).fetchone()
    return row[0] if row else None


def set_pin(con: duckdb.DuckDBPyConnection, snapshot_id: int | None) -> None:
    """Pin the committee view to a snapshot (None unpins)."""
    con.execute("DELETE FROM settings WHERE key = 'pinned_snapshot'")
    if snapshot_id is not None:
        con.execute("INSERT INTO settings VALUES ('pinned_snapshot', ?)", [str(snapshot_id)])


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
