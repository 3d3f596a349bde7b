"""DuckDB: schema, immutable snapshots, and the named queries the pages and reports use.

Each refresh writes one snapshot in one transaction; nothing is ever updated in place, so readers
never see half a snapshot and every earlier snapshot stays queryable.  Identities live only in
``identity_map``; every other table holds pseudonyms (P01, P02, … by first appearance).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from lib.consensus import Rule, compute_metrics
from lib.ingest import IngestResult

__all__ = [
    "SCHEMA", "StoreError", "StoreCorrupt", "connect", "move_aside", "content_hash",
    "write_snapshot", "latest_snapshot_id",
    "current_snapshot_id", "snapshot_info", "list_snapshots", "statements_for", "metrics_for",
    "distribution_for", "comments_for", "response_rates", "problems_for", "ratings_for",
    "panel_attributes", "nonresponders", "set_pin", "pinned_snapshot_id", "log_refresh",
    "refresh_log", "changes_between", "set_setting", "setting",
    "respondents_for", "feedback_recipients",
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
_METRIC_STORE_COLUMNS = [
    "round", "statement_id", "n", "n_no_opinion", "n_missing", "n_agree", "n_disagree",
    "pct_agree", "pct_neutral", "pct_disagree", "median", "q1", "q3", "iqr", "mean", "sd", "min",
    "max", "p30", "p70", "direction", "dispersion_ok", "status", "rule",
]
# Panel columns that identify a person never leave identity_map.
_IDENTIFYING = re.compile(r"(?i)\b(name|e-?mail|phone|mobile|address|contact)\b")
_LOCKED = ("Could not set lock", "Conflicting lock", "database is locked")
# DuckDB's words for a file that is not (or no longer) a readable database
_DAMAGED = ("not a valid DuckDB database", "Corrupt database file", "Could not read enough bytes")
_NO_FOLDER = ("No such file or directory", "Not a directory", "Permission denied",
              "Read-only file system", "Is a directory")


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
        return (f"The database file {path} cannot be created or opened ({first}): its folder "
                "must exist and be writable; set DELPHI_DB to another path")
    return (f"The database file {path} cannot be opened ({first}). "
            "Move it aside and refresh to rebuild it from the source")


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
        raise StoreError(f"The damaged database {p} cannot be moved aside ({exc.strerror}); "
                         "move or delete it by hand, then refresh") from exc
    return target


def content_hash(tabs: dict[str, list[list[Any]]], config: dict[str, Any]) -> str:
    """SHA-256 of the raw tab values and the study configuration."""
    blob = json.dumps({"tabs": tabs, "config": config}, sort_keys=True, default=str,
                      ensure_ascii=False)
    # a Sheets cell cut mid-emoji holds half a surrogate pair: hash it rather than fail
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def _assign_pseudonyms(con: duckdb.DuckDBPyConnection, result: IngestResult, sid: int
                       ) -> dict[str, str]:
    """Stable pseudonyms: existing ones kept, new identities numbered by first appearance."""
    known = dict(con.execute("SELECT identity_key, panelist FROM identity_map").fetchall())
    order = result.respondents.sort_values(["round", "submitted_at", "row"], na_position="last")
    keys = list(dict.fromkeys([*order["identity"], *result.panel["identity"]]))
    names = _panel_names(result.panel)
    next_no = 1 + max((int(p[1:]) for p in known.values()), default=0)
    new = []
    for key in keys:
        if key in known:
            continue
        known[key] = f"P{next_no:02d}"
        new.append((key, known[key], result.identities.get(key, key), names.get(key), sid))
        next_no += 1
    if new:  # one INSERT for all: a statement per panelist took seconds at 2,000 panelists
        frame = pd.DataFrame(new, columns=["identity_key", "panelist", "identity", "name",
                                           "first_snapshot"]).astype({"name": object})
        con.register("_new_identities", frame)
        try:
            con.execute("INSERT INTO identity_map SELECT identity_key, panelist, identity, "
                        "CAST(name AS VARCHAR), first_snapshot FROM _new_identities")
        finally:
            con.unregister("_new_identities")
    return known


def _panel_names(panel: pd.DataFrame) -> dict[str, str]:
    cols = [c for c in panel.columns if re.search(r"(?i)\bname\b", str(c))]
    if not cols:
        return {}
    return {k: str(v) for k, v in zip(panel["identity"], panel[cols[0]], strict=True) if v}


def _panel_long(panel: pd.DataFrame, pseudo: dict[str, str]) -> pd.DataFrame:
    attrs = [c for c in panel.columns if c not in ("identity", "display")
             and not _IDENTIFYING.search(str(c))
             and not panel[c].astype(str).str.contains("@").any()]
    values = [panel[a].tolist() for a in attrs]
    rows = [(pseudo[k], a, str(v[i])) for i, k in enumerate(panel["identity"])
            for a, v in zip(attrs, values, strict=True)]
    rows += [(pseudo[k], None, None) for k in panel["identity"]] if not attrs else []
    return pd.DataFrame(rows, columns=["panelist", "attribute", "value"])


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, sid: int,
            columns: list[str]) -> None:
    data = frame.reindex(columns=columns).assign(snapshot_id=sid)[["snapshot_id", *columns]]
    con.register("_incoming", data)
    try:
        cols = ", ".join(f'"{c}"' for c in ["snapshot_id", *columns])
        con.execute(f"INSERT INTO {table} ({cols}) SELECT * FROM _incoming")
    finally:
        con.unregister("_incoming")


def write_snapshot(con: duckdb.DuckDBPyConnection, result: IngestResult, rule: Rule, *,
                   source: str, source_title: str, study_title: str, digest: str,
                   config: dict[str, Any], denom_no_opinion: bool = False,
                   started: float | None = None) -> int:
    """Store one snapshot and its metrics in one transaction; return its id."""
    con.execute("BEGIN TRANSACTION")
    try:
        sid = con.execute("SELECT coalesce(max(snapshot_id), 0) + 1 FROM snapshots").fetchone()[0]
        pseudo = _assign_pseudonyms(con, result, sid)
        ratings = result.ratings.assign(panelist=result.ratings["identity"].map(pseudo))
        respondents = result.respondents.assign(
            panelist=result.respondents["identity"].map(pseudo))
        _insert(con, "ratings", ratings, sid, ["round", "panelist", "statement_id", "rating",
                                               "no_opinion", "comment", "submitted_at"])
        _insert(con, "respondents", respondents, sid,
                ["round", "panelist", "submitted_at", "tab", "row"])
        _insert(con, "statements", result.statements, sid,
                ["round", "statement_id", "domain", "text", "revised_from"])
        _insert(con, "panel", _panel_long(result.panel, pseudo), sid,
                ["panelist", "attribute", "value"])
        _insert(con, "problems", result.problems, sid,
                ["tab", "row", "column", "header", "kind", "message"])
        metrics = compute_metrics(con, sid, rule, denom_no_opinion)
        _insert(con, "metrics", metrics, sid, _METRIC_STORE_COLUMNS)
        _insert_snapshot_row(con, sid, result, rule, source, source_title, study_title, digest,
                             config, started)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return sid


def _insert_snapshot_row(con, sid, result, rule, source, source_title, study_title, digest,
                         config, started) -> None:
    invited = len(result.panel) or result.respondents["identity"].nunique()
    con.execute(
        "INSERT INTO snapshots VALUES (?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [sid, source, source_title, study_title, digest,
         int(result.respondents["round"].nunique()), int(invited),
         int(result.respondents["identity"].nunique()),
         int(result.statements["statement_id"].nunique()), int(result.ratings["rating"].count()),
         len(result.problems), json.dumps(rule.as_dict()), json.dumps(config, default=str),
         (time.perf_counter() - started) if started else None])


# --- named queries -----------------------------------------------------------------------------

def _df(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None
        ) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def latest_snapshot_id(con: duckdb.DuckDBPyConnection) -> int | None:
    """The newest snapshot, or None when the database is empty."""
    return con.execute("SELECT max(snapshot_id) FROM snapshots").fetchone()[0]


def current_snapshot_id(con: duckdb.DuckDBPyConnection) -> int | None:
    """The snapshot the committee sees: the pinned one if pinned and present, else the latest."""
    row = con.execute(
        """SELECT s.snapshot_id FROM settings p
           JOIN snapshots s ON s.snapshot_id = TRY_CAST(p.value AS INTEGER)
           WHERE p.key = 'pinned_snapshot'""").fetchone()
    return row[0] if row else latest_snapshot_id(con)


def pinned_snapshot_id(con: duckdb.DuckDBPyConnection) -> int | None:
    """The pinned snapshot id, or None."""
    row = con.execute("SELECT TRY_CAST(value AS INTEGER) FROM settings "
                      "WHERE key = 'pinned_snapshot'").fetchone()
    return row[0] if row else None


def set_pin(con: duckdb.DuckDBPyConnection, snapshot_id: int | None) -> None:
    """Pin the committee view to a snapshot (None unpins)."""
    con.execute("DELETE FROM settings WHERE key = 'pinned_snapshot'")
    if snapshot_id is not None:
        con.execute("INSERT INTO settings VALUES ('pinned_snapshot', ?)", [str(snapshot_id)])


def set_setting(con: duckdb.DuckDBPyConnection, key: str, value: Any) -> None:
    """Remember ``value`` (stored as JSON) under ``key``."""
    con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)",
                [key, json.dumps(value, default=str)])


def setting(con: duckdb.DuckDBPyConnection, key: str, default: Any = None) -> Any:
    """The value remembered under ``key`` (``default`` when there is none)."""
    row = con.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    try:
        return json.loads(row[0]) if row else default
    except ValueError:
        return default


def snapshot_info(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> dict[str, Any]:
    """One snapshot's row as a dict (rule and config parsed)."""
    frame = _df(con, "SELECT * FROM snapshots WHERE snapshot_id = ?", [snapshot_id])
    if frame.empty:
        raise StoreError(f"Snapshot {snapshot_id} does not exist")
    info = frame.iloc[0].to_dict()
    info["rule"] = json.loads(info.pop("rule_json"))
    info["config"] = json.loads(info.pop("config_json"))
    return info


def list_snapshots(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every snapshot, newest first, without the stored configuration."""
    return _df(con, """
        SELECT snapshot_id, created_at, source, n_rounds, n_respondents, n_statements, n_ratings,
               n_problems, duration_s, content_hash
        FROM snapshots ORDER BY snapshot_id DESC""")


def statements_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Statements of a snapshot, one row per statement per round."""
    return _df(con, """
        SELECT round, statement_id, domain, text, revised_from FROM statements
        WHERE snapshot_id = ? ORDER BY round, statement_id""", [snapshot_id])


def metrics_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Stored metrics joined with each statement's domain and wording."""
    return _df(con, """
        SELECT m.* EXCLUDE (snapshot_id), s.domain, s.text, s.revised_from
        FROM metrics m LEFT JOIN statements s USING (snapshot_id, round, statement_id)
        WHERE m.snapshot_id = ? ORDER BY m.round, m.statement_id""", [snapshot_id])


def distribution_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Counts per (round, statement, answer): a rating, 'no_opinion' or 'missing'. No identities."""
    return _df(con, """
        SELECT round, statement_id,
               CASE WHEN rating IS NOT NULL THEN CAST(CAST(rating AS INTEGER) AS VARCHAR)
                    WHEN no_opinion THEN 'no_opinion' ELSE 'missing' END AS answer,
               count(*) AS count
        FROM ratings WHERE snapshot_id = ?
        GROUP BY ALL ORDER BY round, statement_id, answer""", [snapshot_id])


def comments_for(con: duckdb.DuckDBPyConnection, snapshot_id: int,
                 statement_id: str | None = None) -> pd.DataFrame:
    """Comments (round, statement, text) in a stable but non-identifying order."""
    return _df(con, """
        SELECT round, statement_id, comment FROM ratings
        WHERE snapshot_id = $sid AND comment IS NOT NULL
          AND ($stmt IS NULL OR statement_id = $stmt)
        ORDER BY round, statement_id, md5(comment)""",
               {"sid": snapshot_id, "stmt": statement_id})


def response_rates(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Invited and responding panelists per round."""
    return _df(con, """
        WITH invited AS (
            SELECT count(DISTINCT panelist) AS n FROM panel WHERE snapshot_id = $sid
        ), everyone AS (
            SELECT count(DISTINCT panelist) AS n FROM respondents WHERE snapshot_id = $sid
        ), rounds AS (
            SELECT DISTINCT round FROM statements WHERE snapshot_id = $sid
        )
        SELECT r.round,
               CASE WHEN i.n > 0 THEN i.n ELSE e.n END AS invited,
               count(DISTINCT p.panelist) AS responded,
               100.0 * count(DISTINCT p.panelist)
                   / nullif(CASE WHEN i.n > 0 THEN i.n ELSE e.n END, 0) AS response_rate
        FROM rounds r CROSS JOIN invited i CROSS JOIN everyone e
        LEFT JOIN respondents p ON p.snapshot_id = $sid AND p.round = r.round
        GROUP BY r.round, i.n, e.n ORDER BY r.round""", {"sid": snapshot_id})


def problems_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """The validation report of a snapshot (tab, row, column, problem)."""
    return _df(con, """
        SELECT tab, "row", "column", header, kind, message FROM problems
        WHERE snapshot_id = ? ORDER BY tab, "row", "column" """, [snapshot_id])


def ratings_for(con: duckdb.DuckDBPyConnection, snapshot_id: int, round_: int | None = None
                ) -> pd.DataFrame:
    """Pseudonymised ratings (round, panelist, statement_id, rating, no_opinion), of every
    round or of ``round_`` only."""
    return _df(con, """
        SELECT round, panelist, statement_id, rating, no_opinion FROM ratings
        WHERE snapshot_id = $sid AND ($rnd IS NULL OR round = $rnd)
        ORDER BY round, statement_id, panelist""", {"sid": snapshot_id, "rnd": round_})


def panel_attributes(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Non-identifying panel attributes, one row per panelist × attribute."""
    return _df(con, """
        SELECT panelist, attribute, value FROM panel
        WHERE snapshot_id = ? AND attribute IS NOT NULL ORDER BY panelist, attribute""",
               [snapshot_id])


def nonresponders(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Invited panelists who did not respond, per round, with identity (coordinator only)."""
    return _df(con, """
        WITH invited AS (SELECT DISTINCT panelist FROM panel WHERE snapshot_id = $sid),
        rounds AS (SELECT DISTINCT round FROM statements WHERE snapshot_id = $sid)
        SELECT r.round, i.panelist, m.identity, m.name
        FROM rounds r CROSS JOIN invited i
        JOIN identity_map m ON m.panelist = i.panelist
        WHERE NOT EXISTS (SELECT 1 FROM respondents p WHERE p.snapshot_id = $sid
                          AND p.round = r.round AND p.panelist = i.panelist)
        ORDER BY r.round, i.panelist""", {"sid": snapshot_id})


def respondents_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Who responded in which round, by pseudonym only (round, panelist)."""
    return _df(con, """
        SELECT DISTINCT round, panelist FROM respondents WHERE snapshot_id = ?
        ORDER BY round, panelist""", [snapshot_id])


def feedback_recipients(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Pseudonym, identity and name of each panelist (coordinator only: feedback mail-merge)."""
    return _df(con, """
        WITH people AS (
            SELECT panelist FROM panel WHERE snapshot_id = $sid
            UNION SELECT panelist FROM respondents WHERE snapshot_id = $sid
        )
        SELECT p.panelist, m.identity, m.name FROM people p
        JOIN identity_map m ON m.panelist = p.panelist ORDER BY p.panelist""",
               {"sid": snapshot_id})


def changes_between(con: duckdb.DuckDBPyConnection, old: int | None, new: int) -> pd.DataFrame:
    """New, changed and removed responses per round from snapshot ``old`` to ``new``."""
    return _df(con, """
        WITH o AS (SELECT round, panelist, submitted_at FROM respondents WHERE snapshot_id = $old),
             n AS (SELECT round, panelist, submitted_at FROM respondents WHERE snapshot_id = $new)
        SELECT coalesce(n.round, o.round) AS round,
               count(*) FILTER (WHERE o.panelist IS NULL) AS new_responses,
               count(*) FILTER (WHERE o.panelist IS NOT NULL AND n.panelist IS NOT NULL
                                AND o.submitted_at IS DISTINCT FROM n.submitted_at)
                   AS changed_responses,
               count(*) FILTER (WHERE n.panelist IS NULL) AS removed_responses,
               count(n.panelist) AS respondents
        FROM n FULL JOIN o ON o.round = n.round AND o.panelist = n.panelist
        GROUP BY ALL ORDER BY round""", {"old": old, "new": new})


def log_refresh(con: duckdb.DuckDBPyConnection, source: str, outcome: str,
                snapshot_id: int | None, message: str, duration_s: float) -> None:
    """Record one refresh attempt (new, no_change or failed)."""
    con.execute("INSERT INTO refresh_log VALUES (now()::TIMESTAMP, ?, ?, ?, ?, ?)",
                [source, outcome, snapshot_id, message[:2000], duration_s])


def refresh_log(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pd.DataFrame:
    """The latest refresh attempts, newest first."""
    return _df(con, "SELECT * FROM refresh_log ORDER BY attempted_at DESC LIMIT ?", [limit])
