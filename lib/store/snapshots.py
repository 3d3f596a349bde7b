"""Writing a snapshot: its tables, with pseudonyms for identities, and its metrics, at once.

Nothing is ever updated in place: each refresh adds one snapshot in one transaction, so readers
never see half a snapshot.  Identities live only in ``identity_map``; every other table holds
pseudonyms (P01, P02, … by first appearance).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import pickle
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd

from lib.store.settings import log_refresh, set_setting, setting

if TYPE_CHECKING:  # storage imports no other stage at run time
    from lib.ingest import IngestResult

__all__ = ["HASH_SCHEME", "content_hash", "legacy_content_hash", "same_content", "write_snapshot"]

# The setting that says which snapshots carry a scheme-2 ``content_hash``: {"first_snapshot":
# the first stored with it, "rehashed": {snapshot id: scheme-2 hash} of scheme-1 snapshots
# compared since}.  Without it, every snapshot in the file was hashed by scheme 1.
HASH_SCHEME = "content_hash_scheme"

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


def content_hash(tabs: dict[str, list[list[Any]] | None], config: dict[str, Any]) -> str:
    """SHA-256 of the raw tab values and the study configuration (hash scheme 2).

    The tabs are serialised by ``pickle`` without its memo (``fast``), so the bytes depend on
    the values and their types only, never on which cells share one string object; a lone
    surrogate is written as it is ("surrogatepass").  Scheme 1 (``legacy_content_hash``)
    serialised every cell to JSON: 0.31 s of CPU at the L benchmark, this 0.1 s."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.fast = True
    pickler.dump(sorted(tabs.items(), key=lambda kv: kv[0]))
    digest = hashlib.sha256(out.getbuffer())
    digest.update(json.dumps(config, sort_keys=True, default=str).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def legacy_content_hash(tabs: dict[str, Any], config: dict[str, Any]) -> str:
    """The hash of snapshots stored before scheme 2: SHA-256 of JSON of tabs and config."""
    blob = json.dumps(
        {"tabs": tabs, "config": config}, sort_keys=True, default=str, ensure_ascii=False
    )
    # a Sheets cell cut mid-emoji holds half a surrogate pair: hash it rather than fail
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def same_content(
    con: duckdb.DuckDBPyConnection, sid: int, digest: str, legacy: Callable[[], str]
) -> tuple[bool, str | None]:
    """Whether snapshot ``sid`` holds the content whose ``content_hash`` is ``digest``, and a
    note when this was the first comparison with a snapshot hashed by scheme 1.

    A scheme-1 snapshot is compared once through ``legacy()`` (the scheme-1 hash of the current
    content); if the content is the same, its scheme-2 hash is kept in the settings, so the
    upgrade is not taken for new data and is not paid for again."""
    scheme = setting(con, HASH_SCHEME, {})
    if sid >= scheme.get("first_snapshot", math.inf):
        return _stored_hash(con, sid) == digest, None
    rehashed = scheme.get("rehashed", {})
    if str(sid) in rehashed:
        return rehashed[str(sid)] == digest, None
    if legacy() != _stored_hash(con, sid):
        return False, None
    set_setting(con, HASH_SCHEME, {**scheme, "rehashed": {**rehashed, str(sid): digest}})
    return True, (
        f"the content hash scheme changed (JSON, then pickle): snapshot {sid} was compared "
        "with the old scheme once and its new hash recorded"
    )


def _stored_hash(con: duckdb.DuckDBPyConnection, sid: int) -> str | None:
    row = con.execute("SELECT content_hash FROM snapshots WHERE snapshot_id = ?", [sid]).fetchone()
    return row[0] if row else None


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
    # One thread for the writes: DuckDB's compression of the 1.6 million ratings of the L
    # benchmark took 0.1 s more CPU and 30 MB more memory on two.
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    con.execute("SET threads = 1")
    con.execute("BEGIN TRANSACTION")
    try:
        sid = con.execute("SELECT coalesce(max(snapshot_id), 0) + 1 FROM snapshots").fetchone()[0]
        _insert_tables(con, result, sid)
        _insert(con, "metrics", metrics, sid, _METRIC_STORE_COLUMNS)
        scheme = setting(con, HASH_SCHEME, {})
        if "first_snapshot" not in scheme:
            set_setting(con, HASH_SCHEME, {**scheme, "first_snapshot": sid})
        duration = (time.perf_counter() - started) if started else None
        # the snapshot row last: a snapshot that exists always has all its tables
        con.execute(_INSERT_SNAPSHOT, [sid, *row, duration])
        # and its refresh-log line in the same commit: a kill cannot leave one without the other
        log_refresh(con, source, "new", sid, f"snapshot {sid} stored", duration or 0.0)
        con.execute("COMMIT")
    except BaseException as exc:
        _rollback(con, exc)
        raise
    finally:
        with contextlib.suppress(duckdb.Error):  # the error that ended the write goes first
            con.execute(f"SET threads = {int(threads)}")
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
    ratings = result.ratings.assign(panelist=_mapped(result.ratings["identity"], pseudo))
    respondents = result.respondents.assign(panelist=result.respondents["identity"].map(pseudo))
    _insert(
        con,
        "ratings",
        ratings,
        sid,
        ["round", "panelist", "statement_id", "rating", "no_opinion", "comment", "submitted_at"],
        arrow=True,
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


def _mapped(values: pd.Series, to: dict[str, str]) -> pd.Series:
    """``values.map(to)``, through the distinct values: a dict look-up per row took 0.15 s of
    CPU for the 1.6 million ratings of the L benchmark.  A categorical column stays one (its
    categories renamed) when ``to`` gives each category its own value."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        renamed = [to.get(c) for c in values.cat.categories]
        if None not in renamed and len(set(renamed)) == len(renamed):
            return values.cat.rename_categories(renamed)
    codes, distinct = pd.factorize(values)  # a missing value is coded -1: the last, None
    mapped = pd.Series([*(to.get(v) for v in distinct), None])
    return mapped.take(np.where(codes < 0, len(distinct), codes)).set_axis(values.index)


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
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pd.DataFrame,
    sid: int,
    columns: list[str],
    arrow: bool = False,
) -> None:
    """Append ``frame``'s ``columns`` to ``table`` as snapshot ``sid``.

    ``arrow``: hand DuckDB an Arrow table (for a frame of known types, the ratings): it scans
    pandas' Arrow-backed text columns at 0.1 s more CPU and twice the memory at L."""
    data = frame.reindex(columns=columns).assign(snapshot_id=sid)[["snapshot_id", *columns]]
    if arrow:
        import pyarrow as pa

        data = pa.Table.from_pandas(data, preserve_index=False)  # NaN is stored as NULL
    con.register("_incoming", data)
    cols = ", ".join(f'"{c}"' for c in ["snapshot_id", *columns])
    con.execute(f"INSERT INTO {table} ({cols}) SELECT * FROM _incoming")
    # not in a finally: after a failed INSERT the transaction is aborted, unregistering raises
    # "Current transaction is aborted" and that would replace the INSERT's own error
    con.unregister("_incoming")
