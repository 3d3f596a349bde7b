"""The database file: its schema, short-lived connections, and what to do when it is damaged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

__all__ = ["SCHEMA", "StoreCorrupt", "StoreError", "connect", "move_aside", "read_frame"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    snapshot_id INTEGER PRIMARY KEY, created_at TIMESTAMP NOT NULL, source VARCHAR NOT NULL,
    source_title VARCHAR, study_title VARCHAR, content_hash VARCHAR NOT NULL,
    n_rounds INTEGER, n_invited INTEGER, n_respondents INTEGER, n_statements INTEGER,
    n_ratings INTEGER, n_problems INTEGER, rule_json VARCHAR, config_json VARCHAR,
    duration_s DOUBLE
);
CREATE TABLE IF NOT EXISTS statements (
    snapshot_id INTEGER, round INTEGER, statement_id VARCHAR, domain VARCHAR, text VARCHAR,
    revised_from VARCHAR
);
CREATE TABLE IF NOT EXISTS ratings (
    snapshot_id INTEGER, round INTEGER, panelist VARCHAR, statement_id VARCHAR, rating DOUBLE,
    no_opinion BOOLEAN, comment VARCHAR, submitted_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS respondents (
    snapshot_id INTEGER, round INTEGER, panelist VARCHAR, submitted_at TIMESTAMP, tab VARCHAR,
    "row" INTEGER
);
CREATE TABLE IF NOT EXISTS panel (
    snapshot_id INTEGER, panelist VARCHAR, attribute VARCHAR, value VARCHAR
);
CREATE TABLE IF NOT EXISTS problems (
    snapshot_id INTEGER, tab VARCHAR, "row" INTEGER, "column" VARCHAR, header VARCHAR,
    kind VARCHAR, message VARCHAR
);
CREATE TABLE IF NOT EXISTS metrics (
    snapshot_id INTEGER, round INTEGER, statement_id VARCHAR, n INTEGER, n_no_opinion INTEGER,
    n_missing INTEGER, n_agree INTEGER, n_disagree INTEGER, pct_agree DOUBLE,
    pct_neutral DOUBLE, pct_disagree DOUBLE, median DOUBLE, q1 DOUBLE, q3 DOUBLE, iqr DOUBLE,
    mean DOUBLE, sd DOUBLE, min DOUBLE, max DOUBLE, p30 DOUBLE, p70 DOUBLE, direction VARCHAR,
    dispersion_ok BOOLEAN, status VARCHAR, rule VARCHAR
);
CREATE TABLE IF NOT EXISTS identity_map (
    identity_key VARCHAR PRIMARY KEY, panelist VARCHAR UNIQUE, identity VARCHAR, name VARCHAR,
    first_snapshot INTEGER
);
CREATE TABLE IF NOT EXISTS refresh_log (
    attempted_at TIMESTAMP, source VARCHAR, outcome VARCHAR, snapshot_id INTEGER, message VARCHAR,
    duration_s DOUBLE
);
CREATE TABLE IF NOT EXISTS settings (key VARCHAR PRIMARY KEY, value VARCHAR);
"""
_LOCKED = ("Could not set lock", "Conflicting lock", "database is locked")
# DuckDB's words for a file that is not (or no longer) a readable database
_DAMAGED = ("not a valid DuckDB database", "Corrupt database file", "Could not read enough bytes")
_NO_FOLDER = (
    "No such file or directory",
    "Not a directory",
    "Permission denied",
    "Read-only file system",
    "Is a directory",
)


class StoreError(RuntimeError):
    """The database cannot be used; the message says what to do."""


class StoreCorrupt(StoreError):
    """The database file is damaged or not a DuckDB database: moving it aside loses nothing."""


@contextmanager
def connect(path: str | Path, wait: float = 15.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection with the schema in place; waits while another process writes."""
    con = _open(path, wait)
    try:
        try:
            con.execute(SCHEMA)
        except duckdb.Error as exc:
            raise _error(path, exc) from exc
        yield con
    except duckdb.Error as exc:
        if any(s in str(exc) for s in _DAMAGED):  # a bad block shows only when a query reads it
            raise _error(path, exc) from exc
        raise
    finally:
        con.close()


def _open(path: str | Path, wait: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.Error as exc:
            if not any(s in str(exc) for s in _LOCKED) or time.monotonic() > deadline:
                raise _error(path, exc) from exc
            time.sleep(0.05)


def _error(path: str | Path, exc: Exception) -> StoreError:
    damaged = any(s in str(exc) for s in _DAMAGED)
    return (StoreCorrupt if damaged else StoreError)(_explain(path, exc))


def _explain(path: str | Path, exc: Exception) -> str:
    first = str(exc).splitlines()[0][:160]
    if any(s in str(exc) for s in _LOCKED):
        return f"The database {path} is busy (another refresh is writing); try again shortly"
    if any(s in str(exc) for s in _NO_FOLDER):
        return (
            f"The database file {path} cannot be created or opened ({first}): its folder "
            "must exist and be writable; set DELPHI_DB to another path"
        )
    return (
        f"The database file {path} cannot be opened ({first}). "
        "Move it aside and refresh to rebuild it from the source"
    )


def move_aside(path: str | Path) -> Path:
    """Rename a damaged database file (and its WAL) to ``<name>.corrupt-<UTC time>``; return it."""
    p = Path(path)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target, n = p.with_name(f"{p.name}.corrupt-{stamp}"), 1
    while target.exists():
        target, n = p.with_name(f"{p.name}.corrupt-{stamp}-{n}"), n + 1
    try:
        p.rename(target)
        if Path(f"{p}.wal").exists():
            Path(f"{p}.wal").rename(f"{target}.wal")
    except OSError as exc:
        raise StoreError(
            f"The damaged database {p} cannot be moved aside ({exc.strerror}); "
            "move or delete it by hand, then refresh"
        ) from exc
    return target


def read_frame(
    con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None
) -> pd.DataFrame:
    """The result of one query as a frame; values are always bound parameters."""
    return con.execute(sql, params or []).df()
