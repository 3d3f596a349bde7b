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
    "SCHEMA", "StoreError", "connect", "content_hash", "write_snapshot", "latest_snapshot_id",
    "current_snapshot_id", "snapshot_info", "list_snapshots", "statements_for", "metrics_for",
    "distribution_for", "comments_for", "response_rates", "problems_for", "ratings_for",
    "panel_attributes", "nonresponders", "set_pin", "pinned_snapshot_id", "log_refresh",
    "refresh_log", "changes_between",
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


class StoreError(RuntimeError):
    """The database cannot be used; the message says what to do."""


@contextmanager
def connect(path: str | Path, wait: float = 15.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived connection with the schema in place; waits while another process writes."""
    deadline = time.monotonic() + wait
    while True:
        try:
            con = duckdb.connect(str(path))
            break
        except duckdb.IOException as exc:
            if not any(s in str(exc) for s in _LOCKED) or time.monotonic() > deadline:
                raise StoreError(_explain(path, exc)) from exc
            time.sleep(0.05)
        except duckdb.Error as exc:
            raise StoreError(_explain(path, exc)) from exc
    try:
        try:
            con.execute(SCHEMA)
        except duckdb.Error as exc:
            raise StoreError(_explain(path, exc)) from exc
        yield con
    finally:
        con.close()


def _explain(path: str | Path, exc: Exception) -> str:
    if any(s in str(exc) for s in _LOCKED):
        return f"The database {path} is busy (another refresh is writing); try again shortly"
    return (f"The database file {path} cannot be opened ({str(exc).splitlines()[0][:160]}). "
            "Move it aside and refresh to rebuild it from the source")


def content_hash(tabs: dict[str, list[list[Any]]], config: dict[str, Any]) -> str:
    """SHA-256 of the raw tab values and the study configuration."""
    blob = json.dumps({"tabs": tabs, "config": config}, sort_keys=True, default=str,
                      ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _assign_pseudonyms(con: duckdb.DuckDBPyConnection, result: IngestResult, sid: int
                       ) -> dict[str, str]:
    """Stable pseudonyms: existing ones kept, new identities numbered by first appearance."""
    known = dict(con.execute("SELECT identity_key, panelist FROM identity_map").fetchall())
    order = result.respondents.sort_values(["round", "submitted_at", "row"], na_position="last")
    keys = list(dict.fromkeys([*order["identity"], *result.panel["identity"]]))
    names = _panel_names(result.panel)
    next_no = 1 + max((int(p[1:]) for p in known.values()), default=0)
    for key in keys:
        if key in known:
            continue
        known[key] = f"P{next_no:02d}"
        con.execute("INSERT INTO identity_map VALUES (?, ?, ?, ?, ?)",
                    [key, known[key], result.identities.get(key, key), names.get(key), sid])
        next_no += 1
    return known


def _panel_names(panel: pd.DataFrame) -> dict[str, str]:
    cols = [c for c in panel.columns if re.search(r"(?i)\bname\b", str(c))]
    if not cols:
        return {}
    return {r["identity"]: str(r[cols[0]]) for _, r in panel.iterrows() if r[cols[0]]}


def _panel_long(panel: pd.DataFrame, pseudo: dict[str, str]) -> pd.DataFrame:
    attrs = [c for c in panel.columns if c not in ("identity", "display")
             and not _IDENTIFYING.search(str(c))
             and not panel[c].astype(str).str.contains("@").any()]
    rows = [(pseudo[r["identity"]], a, str(r[a])) for _, r in panel.iterrows() for a in attrs]
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


def ratings_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Pseudonymised ratings (round, panelist, statement_id, rating, no_opinion)."""
    return _df(con, """
        SELECT round, panelist, statement_id, rating, no_opinion FROM ratings
        WHERE snapshot_id = ? ORDER BY round, statement_id, panelist""", [snapshot_id])


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


def changes_between(con: duckdb.DuckDBPyConnection, old: int | None, new: int) -> pd.DataFrame:
    """New and changed responses per round from snapshot ``old`` to ``new``."""
    return _df(con, """
        SELECT n.round,
               count(*) FILTER (WHERE o.panelist IS NULL) AS new_responses,
               count(*) FILTER (WHERE o.panelist IS NOT NULL
                                AND o.submitted_at IS DISTINCT FROM n.submitted_at)
                   AS changed_responses,
               count(*) AS respondents
        FROM respondents n
        LEFT JOIN respondents o ON o.snapshot_id = $old AND o.round = n.round
             AND o.panelist = n.panelist
        WHERE n.snapshot_id = $new GROUP BY n.round ORDER BY n.round""",
               {"old": old, "new": new})


def log_refresh(con: duckdb.DuckDBPyConnection, source: str, outcome: str,
                snapshot_id: int | None, message: str, duration_s: float) -> None:
    """Record one refresh attempt (new, no_change or failed)."""
    con.execute("INSERT INTO refresh_log VALUES (now()::TIMESTAMP, ?, ?, ?, ?, ?)",
                [source, outcome, snapshot_id, message[:2000], duration_s])


def refresh_log(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pd.DataFrame:
    """The latest refresh attempts, newest first."""
    return _df(con, "SELECT * FROM refresh_log ORDER BY attempted_at DESC LIMIT ?", [limit])
