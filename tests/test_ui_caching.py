"""lib.ui's caches: the snapshot lookup follows the database file, figures are built once."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib.pipeline import refresh
from lib.sources import read_workbook
from lib.ui import loaders, snapshot

APP = str(Path(__file__).resolve().parent.parent / "app.py")
CALLS: list[int] = []


def _builder(frame: pd.DataFrame) -> dict:
    CALLS.append(len(frame))
    return {"rows": len(frame)}


def _caption(db: Path, monkeypatch) -> str:
    monkeypatch.setenv("DELPHI_DB", str(db))
    monkeypatch.delenv("DELPHI_STUDY", raising=False)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    return at.caption[0].value


def test_a_new_snapshot_shows_in_the_next_session_without_waiting(demo_db, demo_cfg, monkeypatch):
    assert _caption(demo_db, monkeypatch).startswith("Snapshot 1 ")
    raw = read_workbook(demo_cfg.source)
    raw.tabs["Panel"][1][2] = "Portugal"  # any edit of the sheet makes a new snapshot
    assert refresh(demo_cfg, demo_db, raw=raw).snapshot_id == 2
    assert _caption(demo_db, monkeypatch).startswith("Snapshot 2 ")  # the file changed: looked up


def test_database_signature_changes_when_the_file_is_written(tmp_path):
    db = tmp_path / "x.duckdb"
    before = snapshot._db_signature(str(db))
    db.write_bytes(b"1")
    assert before == (None, None) and snapshot._db_signature(str(db)) != before


def test_figure_is_built_once_per_snapshot_and_arguments():
    CALLS.clear()
    frame = pd.DataFrame({"x": [1, 2, 3]})
    builder = f"{__name__}._builder"
    figure = loaders._figure
    first = figure("db", 1, builder, _builder, frame)
    assert figure("db", 1, builder, _builder, frame.copy()) is first  # same content: no rebuild
    figure("db", 2, builder, _builder, frame)  # another snapshot
    figure("db", 1, builder, _builder, frame.head(2))  # other arguments
    assert CALLS == [3, 3, 2]


PAGES = ["overview", "statements", "trends", "panel", "reports", "next_round", "coordinator"]


def test_every_page_reads_the_database_read_only(app, monkeypatch):
    """Reading a snapshot never opens the file for writing (a read-only data folder serves it)."""
    from lib import store

    opened, connect = [], store.connect

    def spy(*args, **kwargs):
        opened.append(kwargs.get("read_only", False))
        return connect(*args, **kwargs)

    monkeypatch.setattr(store, "connect", spy)
    at = app.run()
    for page in PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, page
    assert opened and all(opened), f"{opened.count(False)} of {len(opened)} opened for writing"


def test_a_cached_query_hands_each_caller_its_own_frame(demo_db):
    """The frames are kept once (st.cache_resource, not pickled per read): a caller that changes
    its frame (a column written, a new column, a sort in place) changes no other caller's."""
    from lib import store

    db = str(demo_db)
    with store.connect(db, read_only=True) as con:
        sid = store.latest_snapshot_id(con)
        expected = store.ratings_for(con, sid)
    key = "lib.store.queries.ratings_for"
    mine = loaders._query(db, sid, key, store.ratings_for)
    mine["rating"] = -1.0
    mine["extra"] = 1
    mine.loc[0, "panelist"] = "someone else"
    with pytest.raises(ValueError, match="read-only"):
        mine["round"].to_numpy()[0] = 99  # a NumPy view of a shared column
    theirs = loaders._query(db, sid, key, store.ratings_for)
    pd.testing.assert_frame_equal(theirs, expected)
    info = loaders._query(db, sid, "lib.store.queries.snapshot_info", store.snapshot_info)
    info["rule"] = None  # a dict: deep-copied
    again = loaders._query(db, sid, "lib.store.queries.snapshot_info", store.snapshot_info)
    assert again["rule"] is not None


def test_one_connection_reads_every_missing_query_through_one(demo_db, monkeypatch):
    from lib import store

    monkeypatch.setenv("DELPHI_DB", str(demo_db))
    loaders.forget()
    opened, connect = [], store.connect

    def spy(*args, **kwargs):
        opened.append(kwargs.get("read_only", False))
        return connect(*args, **kwargs)

    monkeypatch.setattr(store, "connect", spy)
    with store.connect(demo_db, read_only=True) as con:
        sid = store.latest_snapshot_id(con)
    opened.clear()
    db, queries = str(demo_db), [store.metrics_for, store.ratings_for, store.respondents_for]
    with loaders.one_connection():
        frames = [loaders._query(db, sid, loaders._key(q), q) for q in queries]
    assert opened == [True] and all(len(f) for f in frames)
    loaders.forget()
    for q in queries:  # outside a block: one each
        loaders._query(db, sid, loaders._key(q), q)
    assert opened == [True] * 4
