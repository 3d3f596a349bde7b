"""Named queries: what a snapshot holds, each read by a function named for what it returns."""

from __future__ import annotations

import json
from typing import Any

import duckdb
import pandas as pd

from lib.store.database import StoreError, read_frame

__all__ = [
    "latest_snapshot_id",
    "current_snapshot_id",
    "snapshot_hash",
    "snapshot_info",
    "list_snapshots",
    "snapshot_sources",
    "statements_for",
    "metrics_for",
    "distribution_for",
    "comments_for",
    "panelist_comments_for",
    "response_rates",
    "problems_for",
    "ratings_for",
    "panel_attributes",
    "eligibility_for",
    "nonresponders",
    "respondents_for",
    "feedback_recipients",
    "changes_between",
    "respondent_differences",
]


def latest_snapshot_id(con: duckdb.DuckDBPyConnection) -> int | None:
    """The newest snapshot, or None when the database is empty."""
    return con.execute("SELECT max(snapshot_id) FROM snapshots").fetchone()[0]


def current_snapshot_id(con: duckdb.DuckDBPyConnection) -> int | None:
    """The coordinator's snapshot: the newest one.  Observers see the published one instead
    (``lib.store.settings.published_snapshot_id``)."""
    return latest_snapshot_id(con)


def snapshot_hash(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> str | None:
    """The content hash a snapshot was stored with (None when there is no such snapshot)."""
    row = con.execute(
        "SELECT content_hash FROM snapshots WHERE snapshot_id = ?", [snapshot_id]
    ).fetchone()
    return row[0] if row else None


def snapshot_info(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> dict[str, Any]:
    """One snapshot's row as a dict (rule and config parsed)."""
    frame = read_frame(con, "SELECT * FROM snapshots WHERE snapshot_id = ?", [snapshot_id])
    if frame.empty:
        raise StoreError(f"Snapshot {snapshot_id} does not exist")
    info = frame.iloc[0].to_dict()
    info["rule"] = json.loads(info.pop("rule_json"))
    info["config"] = json.loads(info.pop("config_json"))
    return info


def snapshot_sources(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every source a stored snapshot was read from (a workbook path or a sheet's address)."""
    rows = con.execute("SELECT DISTINCT source FROM snapshots WHERE source IS NOT NULL").fetchall()
    return [r[0] for r in rows]


def list_snapshots(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every snapshot, newest first, without the stored configuration."""
    return read_frame(
        con,
        """
        SELECT snapshot_id, created_at, source, n_rounds, n_respondents, n_statements, n_ratings,
               n_problems, duration_s, content_hash
        FROM snapshots ORDER BY snapshot_id DESC""",
    )


def statements_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Statements of a snapshot, one row per statement per round."""
    return read_frame(
        con,
        """
        SELECT round, statement_id, domain, text, revised_from FROM statements
        WHERE snapshot_id = ? ORDER BY round, statement_id""",
        [snapshot_id],
    )


def metrics_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Stored metrics joined with each statement's domain and wording."""
    return read_frame(
        con,
        """
        SELECT m.* EXCLUDE (snapshot_id), s.domain, s.text, s.revised_from
        FROM metrics m LEFT JOIN statements s USING (snapshot_id, round, statement_id)
        WHERE m.snapshot_id = ? ORDER BY m.round, m.statement_id""",
        [snapshot_id],
    )


def distribution_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Counts per (round, statement, answer): a rating, 'no_opinion' or 'missing'. No identities."""
    return read_frame(
        con,
        """
        SELECT round, statement_id,
               CASE WHEN rating IS NOT NULL THEN CAST(CAST(rating AS INTEGER) AS VARCHAR)
                    WHEN no_opinion THEN 'no_opinion' ELSE 'missing' END AS answer,
               count(*) AS count
        FROM ratings WHERE snapshot_id = ?
        GROUP BY ALL ORDER BY round, statement_id, answer""",
        [snapshot_id],
    )


def panelist_comments_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Each comment with its panelist's pseudonym (round, panelist, statement_id, comment): for
    the committee's table of rating changes, never for observers."""
    return read_frame(
        con,
        """
        SELECT round, panelist, statement_id, comment FROM ratings
        WHERE snapshot_id = ? AND comment IS NOT NULL
        ORDER BY round, statement_id, panelist""",
        [snapshot_id],
    )


def comments_for(
    con: duckdb.DuckDBPyConnection, snapshot_id: int, statement_id: str | None = None
) -> pd.DataFrame:
    """Comments (round, statement, text) in a stable but non-identifying order."""
    return read_frame(
        con,
        """
        SELECT round, statement_id, comment FROM ratings
        WHERE snapshot_id = $sid AND comment IS NOT NULL
          AND ($stmt IS NULL OR statement_id = $stmt)
        ORDER BY round, statement_id, md5(comment)""",
        {"sid": snapshot_id, "stmt": statement_id},
    )


def response_rates(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Invited and responding panelists per round."""
    return read_frame(
        con,
        """
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
        GROUP BY r.round, i.n, e.n ORDER BY r.round""",
        {"sid": snapshot_id},
    )


def problems_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """The validation report of a snapshot (tab, row, column, problem)."""
    return read_frame(
        con,
        """
        SELECT tab, "row", "column", header, kind, message FROM problems
        WHERE snapshot_id = ? ORDER BY tab, "row", "column" """,
        [snapshot_id],
    )


def _read_large(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> pd.DataFrame:
    """``read_frame`` for a result of millions of rows, in half its time: through Arrow, whose
    conversion to pandas gives the same frame (dtypes, NaN for a blank rating) as DuckDB's
    ``.df()`` unless the result is empty or holds a NULL outside a floating-point column; then
    DuckDB converts the Arrow table as ``.df()`` would have (``tests/test_store_queries``)."""
    import pyarrow as pa

    cursor = con.cursor()  # a result pending on ``con`` (a fetchone) would refuse ``con.sql``
    try:
        table = cursor.sql(sql, params=params).to_arrow_table()
    finally:
        cursor.close()
    plain = table.num_rows > 0 and all(
        column.null_count == 0 or pa.types.is_floating(column.type) for column in table.columns
    )
    return table.to_pandas() if plain else con.from_arrow(table).df()


def ratings_for(
    con: duckdb.DuckDBPyConnection, snapshot_id: int, round_: int | None = None
) -> pd.DataFrame:
    """Pseudonymised ratings (round, panelist, statement_id, rating, no_opinion), of every
    round or of ``round_`` only."""
    return _read_large(
        con,
        """
        SELECT round, panelist, statement_id, rating, no_opinion FROM ratings
        WHERE snapshot_id = $sid AND ($rnd IS NULL OR round = $rnd)
        ORDER BY round, statement_id, panelist""",
        {"sid": snapshot_id, "rnd": round_},
    )


def panel_attributes(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Panel attributes the configuration lists, one row per panelist × attribute.

    A snapshot written before ``panel_attributes`` existed kept every column a header-word
    filter let through (surnames, phones): its configuration has no such key, and none of its
    attributes are returned.
    """
    return read_frame(
        con,
        """
        SELECT p.panelist, p.attribute, p.value FROM panel p
        JOIN snapshots s ON s.snapshot_id = p.snapshot_id
        WHERE p.snapshot_id = ? AND p.attribute IS NOT NULL
          AND json_exists(s.config_json, '$.panel_attributes')
        ORDER BY p.panelist, p.attribute""",
        [snapshot_id],
    )


def eligibility_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Each panelist (pseudonym) against each pre-registered eligibility criterion: panelist,
    criterion (its number in the study file), attribute, wording, test, value (as written on the
    Panel tab: for the coordinator only) and met (True, False, or missing: <NA>).  Empty for a
    snapshot without criteria, or written before they were checked."""
    frame = read_frame(
        con,
        """
        SELECT panelist, criterion, attribute, wording, test, value, met FROM eligibility
        WHERE snapshot_id = ? ORDER BY criterion, panelist""",
        [snapshot_id],
    )
    return frame.astype({"criterion": "int64", "met": "boolean"})


def nonresponders(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Invited panelists who did not respond, per round, with identity (coordinator only)."""
    return read_frame(
        con,
        """
        WITH invited AS (SELECT DISTINCT panelist FROM panel WHERE snapshot_id = $sid),
        rounds AS (SELECT DISTINCT round FROM statements WHERE snapshot_id = $sid)
        SELECT r.round, i.panelist, m.identity, m.name
        FROM rounds r CROSS JOIN invited i
        JOIN identity_map m ON m.panelist = i.panelist
        WHERE NOT EXISTS (SELECT 1 FROM respondents p WHERE p.snapshot_id = $sid
                          AND p.round = r.round AND p.panelist = i.panelist)
        ORDER BY r.round, i.panelist""",
        {"sid": snapshot_id},
    )


def respondents_for(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Who responded in which round, by pseudonym only (round, panelist)."""
    return read_frame(
        con,
        """
        SELECT DISTINCT round, panelist FROM respondents WHERE snapshot_id = ?
        ORDER BY round, panelist""",
        [snapshot_id],
    )


def feedback_recipients(con: duckdb.DuckDBPyConnection, snapshot_id: int) -> pd.DataFrame:
    """Pseudonym, identity and name of each panelist (coordinator only: feedback mail-merge)."""
    return read_frame(
        con,
        """
        WITH people AS (
            SELECT panelist FROM panel WHERE snapshot_id = $sid
            UNION SELECT panelist FROM respondents WHERE snapshot_id = $sid
        )
        SELECT p.panelist, m.identity, m.name FROM people p
        JOIN identity_map m ON m.panelist = p.panelist ORDER BY p.panelist""",
        {"sid": snapshot_id},
    )


def changes_between(con: duckdb.DuckDBPyConnection, old: int | None, new: int) -> pd.DataFrame:
    """New, changed and removed responses per round from snapshot ``old`` to ``new``."""
    return read_frame(
        con,
        """
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
        GROUP BY ALL ORDER BY round""",
        {"old": old, "new": new},
    )


def respondent_differences(
    con: duckdb.DuckDBPyConnection, old: int | None, new: int
) -> pd.DataFrame:
    """Per round, the respondents of snapshot ``new`` and how many differ from snapshot ``old``
    (None: an empty one): ``added``, ``removed``, and ``changed`` (any answer, comment,
    submission time or panel attribute), by pseudonym.  What observers comparing the two could
    learn about individuals is bounded by these counts."""
    return read_frame(
        con,
        """
        WITH answers AS (
            SELECT snapshot_id, round, panelist,
                   list((statement_id, rating, no_opinion, comment)
                        ORDER BY statement_id, rating, no_opinion, comment) AS answers
            FROM ratings WHERE snapshot_id IN ($old, $new) GROUP BY ALL
        ), attributes AS (
            SELECT snapshot_id, panelist,
                   list((attribute, value) ORDER BY attribute, value) AS attributes
            FROM panel WHERE snapshot_id IN ($old, $new) AND attribute IS NOT NULL GROUP BY ALL
        ), people AS (
            SELECT r.snapshot_id, r.round, r.panelist, max(r.submitted_at) AS submitted_at,
                   any_value(a.answers) AS answers, any_value(p.attributes) AS attributes
            FROM respondents r
            LEFT JOIN answers a USING (snapshot_id, round, panelist)
            LEFT JOIN attributes p USING (snapshot_id, panelist)
            WHERE r.snapshot_id IN ($old, $new) GROUP BY ALL
        ), o AS (SELECT * FROM people WHERE snapshot_id = $old),
           n AS (SELECT * FROM people WHERE snapshot_id = $new)
        SELECT coalesce(n.round, o.round) AS round,
               count(n.panelist) AS respondents,
               count(*) FILTER (WHERE o.panelist IS NULL) AS added,
               count(*) FILTER (WHERE n.panelist IS NULL) AS removed,
               count(*) FILTER (WHERE o.panelist IS NOT NULL AND n.panelist IS NOT NULL
                   AND (o.submitted_at, o.answers, o.attributes)
                       IS DISTINCT FROM (n.submitted_at, n.answers, n.attributes)) AS changed
        FROM n FULL JOIN o ON o.round = n.round AND o.panelist = n.panelist
        GROUP BY ALL ORDER BY round""",
        {"old": old, "new": new},
    )
