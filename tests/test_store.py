"""lib.store: snapshots, pseudonyms and the named queries, on a real DuckDB file."""

from __future__ import annotations

import contextlib

import duckdb
import pytest

from lib import store
from lib.pipeline import refresh
from lib.sources import RawSource
from tests.helpers import tiny_tabs


def _snap(cfg, db, tabs=None):
    tabs = tabs or tiny_tabs()
    return refresh(cfg, db, raw=RawSource(tabs=tabs, source="tiny", all_tabs=list(tabs)))


def test_snapshot_holds_pseudonyms_not_identities(tiny_cfg, fresh_db):
    sid = _snap(tiny_cfg, fresh_db).snapshot_id
    with store.connect(fresh_db) as con:
        for table in ("ratings", "respondents", "panel", "metrics", "statements", "problems"):
            text = con.execute(f"SELECT * FROM {table} WHERE snapshot_id = ?", [sid]).df()
            assert not text.astype(str).apply(lambda c: c.str.contains("@")).any().any(), table
        assert set(store.ratings_for(con, sid)["panelist"]) == {"P01", "P02", "P03", "P04"}


def test_pseudonyms_follow_first_appearance_and_stay_stable(tiny_cfg, fresh_db):
    _snap(tiny_cfg, fresh_db)
    tabs = tiny_tabs()
    tabs["Round 2"].append(["", "d@x.example", "Agree"])
    _snap(tiny_cfg, fresh_db, tabs)
    with store.connect(fresh_db) as con:
        got = dict(con.execute("SELECT identity_key, panelist FROM identity_map").fetchall())
    # Round 1 by the kept submissions' timestamps: b, c, d, then a (its latest is 3 Sept)
    assert got == {
        "b@x.example": "P01",
        "c@x.example": "P02",
        "d@x.example": "P03",
        "a@x.example": "P04",
    }


def test_identifying_panel_columns_are_not_stored_as_attributes(tiny_cfg, fresh_db):
    sid = _snap(tiny_cfg, fresh_db).snapshot_id
    with store.connect(fresh_db) as con:
        attrs = store.panel_attributes(con, sid)
    assert set(attrs["attribute"]) == {"Country"}
    assert "Ann Alpha" not in attrs.to_string()


def test_earlier_snapshots_stay_queryable(tiny_cfg, fresh_db):
    first = _snap(tiny_cfg, fresh_db).snapshot_id
    tabs = tiny_tabs()
    tabs["Round 2"][1][2] = "Strongly disagree"
    second = _snap(tiny_cfg, fresh_db, tabs).snapshot_id
    with store.connect(fresh_db) as con:
        assert store.latest_snapshot_id(con) == second == first + 1
        m1 = store.metrics_for(con, first).set_index(["round", "statement_id"])
        m2 = store.metrics_for(con, second).set_index(["round", "statement_id"])
    assert m1.loc[(2, "S02"), "pct_agree"] == 100.0
    assert m2.loc[(2, "S02"), "pct_agree"] == pytest.approx(200 / 3)


def test_published_snapshot_is_the_last_publication_and_current_the_latest(tiny_cfg, fresh_db):
    first = _snap(tiny_cfg, fresh_db).snapshot_id
    tabs = tiny_tabs()
    tabs["Round 2"][1][2] = "Disagree"
    second = _snap(tiny_cfg, fresh_db, tabs).snapshot_id
    with store.connect(fresh_db) as con:
        assert store.published_snapshot_id(con) is None
        assert store.add_publication(con, first, [2, 1, 2]) == 1
        assert store.published_snapshot_id(con) == first
        assert store.current_snapshot_id(con) == second  # the coordinator's: the latest
        store.add_publication(con, second, [1, 2])
        pubs = store.publications(con)
    assert pubs["snapshot_id"].tolist() == [second, first]
    assert [list(r) for r in pubs["closed_rounds"]] == [[1, 2], [1, 2]]


def test_response_rates_use_the_panel_as_invited(tiny_cfg, fresh_db):
    sid = _snap(tiny_cfg, fresh_db).snapshot_id
    with store.connect(fresh_db) as con:
        rates = store.response_rates(con, sid)
        missing = store.nonresponders(con, sid)
    assert rates[["round", "invited", "responded"]].values.tolist() == [[1, 4, 4], [2, 4, 3]]
    assert missing[["round", "identity", "name"]].values.tolist() == [
        [2, "d@x.example", "Dan Delta"]
    ]


def test_distribution_counts_answers_without_identities(tiny_cfg, fresh_db):
    sid = _snap(tiny_cfg, fresh_db).snapshot_id
    with store.connect(fresh_db) as con:
        dist = store.distribution_for(con, sid)
    s2 = dist[(dist["round"] == 1) & (dist["statement_id"] == "S02")]
    assert dict(zip(s2["answer"], s2["count"], strict=True)) == {
        "2": 1,
        "4": 1,
        "missing": 1,
        "no_opinion": 1,
    }


def test_comments_come_without_panelists(tiny_cfg, fresh_db):
    sid = _snap(tiny_cfg, fresh_db).snapshot_id
    with store.connect(fresh_db) as con:
        com = store.comments_for(con, sid, "S01")
    assert list(com.columns) == ["round", "statement_id", "comment"]
    assert com["comment"].tolist() == ["Changed my mind"]


def test_corrupt_database_file_gives_a_clear_message(tmp_path):
    bad = tmp_path / "bad.duckdb"
    bad.write_bytes(b"this is not a duckdb file" * 100)
    with pytest.raises(store.StoreError, match="cannot be opened.*Move it aside"):
        with store.connect(bad):
            pass


def test_schema_is_created_on_a_fresh_file(fresh_db):
    with store.connect(fresh_db) as con:
        assert store.latest_snapshot_id(con) is None
    assert duckdb.connect(str(fresh_db)).execute("SELECT count(*) FROM snapshots").fetchone() == (
        0,
    )


# --- faults while writing ------------------------------------------------------------------


class _DiskFullConnection:
    """A real connection whose ``INSERT INTO metrics`` fails as on a full disk, and whose
    ROLLBACK then fails as DuckDB's does after a failed COMMIT ("no transaction is active")."""

    def __init__(self, con) -> None:
        self._con = con

    def execute(self, sql: str, *args):
        if sql.lstrip().startswith("INSERT INTO metrics"):
            raise duckdb.IOException('Could not write file "study.duckdb.wal": No space left')
        if sql == "ROLLBACK":
            self._con.execute("ROLLBACK")  # really undone; only the report fails
            raise duckdb.TransactionException("cannot rollback - no transaction is active")
        return self._con.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self._con, name)


def test_a_failed_rollback_still_reports_the_original_error(tiny_cfg, tiny_raw, fresh_db):
    from lib.analysis.consensus import compute_metrics
    from lib.ingest import ingest

    result = ingest(tiny_raw, tiny_cfg)
    metrics = compute_metrics(result.ratings, tiny_cfg.rule, False)
    args = {"rule": {}, "source": "tiny", "source_title": "", "study_title": "", "digest": "x"}
    with store.connect(fresh_db) as con:
        with pytest.raises(duckdb.IOException, match="No space left") as err:
            store.write_snapshot(_DiskFullConnection(con), result, metrics, config={}, **args)
        assert "no transaction is active" in str(err.value.__context__)
        assert store.latest_snapshot_id(con) is None  # nothing of it was kept
        assert store.refresh_log(con).empty


def test_a_failed_insert_is_reported_not_the_aborted_transaction(tiny_cfg, tiny_raw, fresh_db):
    """After a failed INSERT DuckDB refuses every statement but ROLLBACK; the clean-up of the
    INSERT's registered frame used to raise "Current transaction is aborted" over its error."""
    from lib.analysis.consensus import compute_metrics
    from lib.ingest import ingest

    result = ingest(tiny_raw, tiny_cfg)
    metrics = compute_metrics(result.ratings, tiny_cfg.rule, False)
    metrics["n"] = "many"  # an INTEGER column given text: DuckDB's own conversion error
    args = {"rule": {}, "source": "tiny", "source_title": "", "study_title": "", "digest": "x"}
    with store.connect(fresh_db) as con:
        with pytest.raises(duckdb.ConversionException, match="many"):
            store.write_snapshot(con, result, metrics, config={}, **args)
        assert store.latest_snapshot_id(con) is None


@pytest.mark.parametrize("fails", [False, True])
def test_writing_a_snapshot_leaves_the_connections_threads_as_they_were(
    tiny_cfg, tiny_raw, fresh_db, fails
):
    """The snapshot's writes run on one thread (less CPU and memory at L); the connection's own
    setting is back afterwards, whether the write succeeded or not."""
    from lib.analysis.consensus import compute_metrics
    from lib.ingest import ingest

    result = ingest(tiny_raw, tiny_cfg)
    metrics = compute_metrics(result.ratings, tiny_cfg.rule, False)
    if fails:
        metrics["n"] = "many"
    args = {"rule": {}, "source": "tiny", "source_title": "", "study_title": "", "digest": "x"}
    with store.connect(fresh_db) as con:
        con.execute("SET threads = 3")
        with pytest.raises(duckdb.ConversionException) if fails else contextlib.nullcontext():
            store.write_snapshot(con, result, metrics, config={}, **args)
        assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 3
