"""The database file: its schema, short-lived connections, and what to do when it is damaged."""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

__all__ = [
    "SCHEMA",
    "StoreCorrupt",
    "StoreError",
    "check_readable",
    "connect",
    "move_aside",
    "read_frame",
]

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
CREATE TABLE IF NOT EXISTS eligibility (
    snapshot_id INTEGER, panelist VARCHAR, criterion INTEGER, attribute VARCHAR, wording VARCHAR,
    test VARCHAR, value VARCHAR, met BOOLEAN
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
CREATE TABLE IF NOT EXISTS publications (
    publication_id INTEGER PRIMARY KEY, snapshot_id INTEGER NOT NULL,
    published_at TIMESTAMP NOT NULL, closed_rounds INTEGER[] NOT NULL
);
"""
_TABLES = re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", SCHEMA)
# DuckDB's words for a file another process (or, in another mode, this one) has open
_SAME_PROCESS = "different configuration than existing connections"
_LOCKED = ("Could not set lock", "Conflicting lock", "database is locked", _SAME_PROCESS)
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
def connect(
    path: str | Path, wait: float = 15.0, *, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection with the schema in place; waits while another process writes.

    ``read_only=True`` is for reading: it writes nothing, so a read-only data folder (or a full
    disk) still serves the snapshots the file holds, and any number of processes read at once.
    A missing file, or one from before a table was added, is given the schema first when its
    folder allows.  DuckDB lets one process write *or* any number read: a reader waits while a
    refresh in another process writes, and a writer waits for the readers there are, while new
    ones wait for it (see ``_turn``).
    """
    con = _open_reader(path, wait) if read_only else _open_writer(path, wait)
    try:
        yield con
    except duckdb.Error as exc:
        if any(s in str(exc) for s in _DAMAGED):  # a bad block shows only when a query reads it
            raise _error(path, exc) from exc
        raise
    finally:
        con.close()


def _open_writer(path: str | Path, wait: float) -> duckdb.DuckDBPyConnection:
    with _turn(path, wait, writer=True):
        con = _retry(lambda: duckdb.connect(str(path)), path, wait)
    try:
        con.execute(SCHEMA)
    except duckdb.Error as exc:
        con.close()
        raise _error(path, exc) from exc
    return con


def _open_reader(path: str | Path, wait: float) -> duckdb.DuckDBPyConnection:
    if not Path(path).exists():  # DuckDB opens no missing file read-only: create it
        _open_writer(path, wait).close()
    with _turn(path, wait, writer=False):
        pass  # a writer waiting for the file goes first
    con = _retry(lambda: _connect_reader(path), path, wait)
    try:
        missing = _missing_tables(con)
    except duckdb.Error as exc:
        con.close()
        raise _error(path, exc) from exc
    if missing:
        con.close()
        try:
            _open_writer(path, wait).close()
        except StoreError:
            pass  # a read-only folder: read what the file holds (queries of the rest fail)
        con = _retry(lambda: _connect_reader(path), path, wait)
    return con


@contextmanager
def _turn(path: str | Path, wait: float, *, writer: bool) -> Iterator[None]:
    """Writers first: a writer holds ``<db>.writer.lock`` exclusively until DuckDB lets it in;
    a reader takes it shared for a moment before opening the file.

    DuckDB locks the file for one writer or any number of readers and queues nobody: readers
    whose connections overlap (app sessions, each holding the file for milliseconds) kept a
    refresh in another process out until it gave up ("busy" after 15 s with eight threads
    reading without pause).  Without the lock file (a read-only folder no writer has used) a
    reader goes on without waiting.
    """
    gate = f"{path}.writer.lock"
    try:
        fd = os.open(gate, os.O_RDWR | os.O_CREAT, 0o644) if writer else os.open(gate, os.O_RDONLY)
    except OSError:  # DuckDB will say what is wrong with the folder, if anything
        yield
        return
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, (fcntl.LOCK_EX if writer else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(_explain(path, Exception(_LOCKED[0]))) from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # releases the lock


def _connect_reader(path: str | Path) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.ConnectionException as exc:
        if _SAME_PROCESS not in str(exc):
            raise
        # this process has the file open for writing (a refresh or a publication in a session):
        # DuckDB then opens it only with the same settings; reading through that instance waits
        # for nobody and sees the last commit
        return duckdb.connect(str(path))


def _missing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    found = con.execute(
        "SELECT table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = 'main'"
    ).fetchall()
    return set(_TABLES) - {name for (name,) in found}


def _retry(
    opener: Callable[[], duckdb.DuckDBPyConnection], path: str | Path, wait: float
) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait
    while True:
        try:
            return opener()
        except duckdb.Error as exc:
            if not any(s in str(exc) for s in _LOCKED) or time.monotonic() > deadline:
                raise _error(path, exc) from exc
            time.sleep(0.05)


def check_readable(con: duckdb.DuckDBPyConnection) -> None:
    """Read every value of every table: a damaged block raises (as StoreCorrupt in ``connect``).

    A file can open, and answer some queries, with a bad block deep inside that only the query
    reading it finds; this reads them all (a fraction of a second for a study's database).
    """
    for table in _TABLES:
        con.execute(f'SELECT count(*), max(hash("{table}")) FROM "{table}"').fetchall()


def _error(path: str | Path, exc: Exception) -> StoreError:
    damaged = any(s in str(exc) for s in _DAMAGED)
    return (StoreCorrupt if damaged else StoreError)(_explain(path, exc))


def _explain(path: str | Path, exc: Exception) -> str:
    first = str(exc).splitlines()[0][:160]
    if any(s in str(exc) for s in _LOCKED):
        return f"The database {path} is busy (another process is using it); try again shortly"
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
