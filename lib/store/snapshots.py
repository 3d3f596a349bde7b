"""Writing a snapshot: its tables, with pseudonyms for identities, and its metrics, at once.

Nothing is ever updated in place: each refresh adds one snapshot in one transaction, so readers
never see half a snapshot.  Identities live only in ``identity_map``; every other table holds
pseudonyms (P01, P02, … by first appearance).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import TYPE_CHECKING, Any

import duckdb
import pandas as pd

from lib.store.settings import log_refresh

if TYPE_CHECKING:  # storage imports no other stage at run time
    from lib.ingest import IngestResult

__all__ = ["content_hash", "write_snapshot"]

_METRIC_STORE_COLUMNS = [
    "round",
    "statement_id",
    "n",
    "n_no_opinion",
    "n_missing",
    "n_agree",
    "n_disagree",
    "pct_agree",
    "pct_neutral",
    "pct_disagree",
    "median",
    "q1",
    "q3",
    "iqr",
    "mean",
    "sd",
    "min",
    "max",
    "p30",
    "p70",
    "direction",
    "dispersion_ok",
    "status",
    "rule",
]
_INSERT_SNAPSHOT = """
INSERT INTO snapshots VALUES (?, now()::TIMESTAMP, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
# The panel frame's own columns; every other column is an attribute the configuration lists
# (lib.ingest.panel keeps no other), the only panel values stored outside identity_map but
# for the eligibility criteria's (below), which only the coordinator reads.
_PANEL_OWN = ("identity", "display", "name")
# eligibility: each panelist against each criterion (lib.ingest.eligibility), by pseudonym
_ELIGIBILITY_STORE_COLUMNS = [
    "panelist",
    "criterion",
    "attribute",
    "wording",
    "test",
    "value",
    "met",
]


def content_hash(tabs: dict[str, list[list[Any]]], config: dict[str, Any]) -> str:
    """SHA-256 of the raw tab values and the study configuration."""
    blob = json.dumps(
        {"tabs": tabs, "config": config}, sort_keys=True, default=str, ensure_ascii=False
    )
    # a Sheets cell cut mid-emoji holds half a surrogate pair: hash it rather than fail
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def write_snapshot(
    con: duckdb.DuckDBPyConnection,
    result: IngestResult,
    metrics: pd.DataFrame,
    *,
    rule: dict[str, Any],
    source: str,
    source_title: str,
    study_title: str,
    digest: str,
    config: dict[str, Any],
    started: float | None = None,
) -> int:
    """Store one snapshot, its precomputed metrics and its refresh-log line in one transaction;
    return its id.

    ``metrics`` holds one row per (round, statement) with the ``metrics`` table's columns (what
    ``lib.analysis.consensus.compute_metrics`` returns for ``result.ratings``); ``rule`` is the
    consensus rule as plain data (``Rule.as_dict()``), stored with the snapshot.
    """
    missing = [c for c in _METRIC_STORE_COLUMNS if c not in metrics.columns]
    if missing:
        raise ValueError(f"the metrics frame has no column {', '.join(missing)}")
    described = [source, source_title, study_title, digest, *_counts(result)]
    row = [*described, json.dumps(rule), json.dumps(config, default=str)]
    con.execute("BEGIN TRANSACTION")
    try:
        sid = con.execute("SELECT coalesce(max(snapshot_id), 0) + 1 FROM snapshots").fetchone()[0]
        _insert_tables(con, result, sid)
        _insert(con, "metrics", metrics, sid, _METRIC_STORE_COLUMNS)
        duration = (time.perf_counter() - started) if started else None
        # the snapshot row last: a snapshot that exists always has all its tables
        con.execute(_INSERT_SNAPSHOT, [sid, *row, duration])
        # and its refresh-log line in the same commit: a kill cannot leave one without the other
        log_refresh(con, source, "new", sid, f"snapshot {sid} stored", duration or 0.0)
        con.execute("COMMIT")
    except BaseException as exc:
        _rollback(con, exc)
        raise
    return sid


def _rollback(con: duckdb.DuckDBPyConnection, failure: BaseException) -> None:
    """Undo the open transaction; if that fails too, ``failure`` is still what is raised.

    A failed COMMIT (a full disk: "Could not write file ...wal: No space left on device") ends
    the transaction, and the ROLLBACK then fails with "no transaction is active", which used to
    replace the error that says what went wrong.
    """
    try:
        con.execute("ROLLBACK")
    except duckdb.Error as exc:
        failure.add_note(f"(the rollback failed as well: {exc})")
        exc.__context__ = None  # it was raised while handling ``failure``: no cycle
        failure.__context__ = exc


def _counts(result: IngestResult) -> list[int]:
    """n_rounds, n_invited, n_respondents, n_statements, n_ratings, n_problems."""
    invited = len(result.panel) or result.respondents["identity"].nunique()
    return [
        int(result.respondents["round"].nunique()),
        int(invited),
        int(result.respondents["identity"].nunique()),
        int(result.statements["statement_id"].nunique()),
        int(result.ratings["rating"].count()),
        len(result.problems),
    ]


def _insert_tables(con: duckdb.DuckDBPyConnection, result: IngestResult, sid: int) -> None:
    """The snapshot's tables from the ingest result, identities replaced by pseudonyms."""
    pseudo = _assign_pseudonyms(con, result, sid)
    ratings = result.ratings.assign(panelist=result.ratings["identity"].map(pseudo))
    respondents = result.respondents.assign(panelist=result.respondents["identity"].map(pseudo))
    _insert(
        con,
        "ratings",
        ratings,
        sid,
        ["round", "panelist", "statement_id", "rating", "no_opinion", "comment", "submitted_at"],
    )
    _insert(
        con, "respondents", respondents, sid, ["round", "panelist", "submitted_at", "tab", "row"]
    )
    _insert(
        con,
        "statements",
        result.statements,
        sid,
        ["round", "statement_id", "domain", "text", "revised_from"],
    )
    _insert(
        con, "panel", _panel_long(result.panel, pseudo), sid, ["panelist", "attribute", "value"]
    )
    _insert(
        con, "problems", result.problems, sid, ["tab", "row", "column", "header", "kind", "message"]
    )
    if not result.eligibility.empty:  # the values as written: read by the coordinator only
        results = result.eligibility.assign(panelist=result.eligibility["identity"].map(pseudo))
        _insert(con, "eligibility", results, sid, _ELIGIBILITY_STORE_COLUMNS)


def _assign_pseudonyms(
    con: duckdb.DuckDBPyConnection, result: IngestResult, sid: int
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
        frame = pd.DataFrame(
            new, columns=["identity_key", "panelist", "identity", "name", "first_snapshot"]
        ).astype({"name": object})
        con.register("_new_identities", frame)
        con.execute(
            "INSERT INTO identity_map SELECT identity_key, panelist, identity, "
            "CAST(name AS VARCHAR), first_snapshot FROM _new_identities"
        )
        con.unregister("_new_identities")  # not in a finally: see _insert
    return known


def _panel_names(panel: pd.DataFrame) -> dict[str, str]:
    if "name" not in panel.columns:
        return {}
    return {k: str(v) for k, v in zip(panel["identity"], panel["name"], strict=True) if v}


def _panel_long(panel: pd.DataFrame, pseudo: dict[str, str]) -> pd.DataFrame:
    attrs = [c for c in panel.columns if c not in _PANEL_OWN]
    values = [panel[a].tolist() for a in attrs]
    rows = [
        (pseudo[k], a, str(v[i]))
        for i, k in enumerate(panel["identity"])
        for a, v in zip(attrs, values, strict=True)
    ]
    rows += [(pseudo[k], None, None) for k in panel["identity"]] if not attrs else []
    return pd.DataFrame(rows, columns=["panelist", "attribute", "value"])


def _insert(
    con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame, sid: int, columns: list[str]
) -> None:
    data = frame.reindex(columns=columns).assign(snapshot_id=sid)[["snapshot_id", *columns]]
    con.register("_incoming", data)
    cols = ", ".join(f'"{c}"' for c in ["snapshot_id", *columns])
    con.execute(f"INSERT INTO {table} ({cols}) SELECT * FROM _incoming")
    # not in a finally: after a failed INSERT the transaction is aborted, unregistering raises
    # "Current transaction is aborted" and that would replace the INSERT's own error
    con.unregister("_incoming")
