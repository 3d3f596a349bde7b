"""lib.pipeline: a refresh is atomic, honest about no change, and never interleaves."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

from lib import store
from lib.analysis.consensus import compute_metrics
from lib.pipeline import RefreshBusy, RefreshError, refresh, refresh_lock
from lib.sources import RawSource, read_workbook
from lib.store import snapshots
from tests.helpers import ROOT, tiny_tabs


def _raw(tabs=None):
    tabs = tabs or tiny_tabs()
    return RawSource(tabs=tabs, source="tiny", all_tabs=list(tabs))


def _state(db):
    with store.connect(db) as con:
        sid = store.current_snapshot_id(con)
        return (
            sid,
            store.metrics_for(con, sid),
            con.execute("SELECT count(*) FROM ratings").fetchone()[0],
        )


def test_refresh_reports_steps_and_counts(tiny_cfg, fresh_db):
    steps = []
    res = refresh(tiny_cfg, fresh_db, raw=_raw(), progress=steps.append)
    assert res.outcome == "new" and res.snapshot_id == 1
    assert steps == ["validate", "store and compute"]
    assert res.counts["n_respondents"] == 4 and res.counts["n_invited"] == 4
    assert res.changes[["round", "new_responses", "respondents"]].values.tolist() == [
        [1, 4, 4],
        [2, 3, 3],
    ]


def test_stored_metrics_are_those_of_the_stored_ratings(demo_cfg, fresh_db):
    # the pipeline computes metrics from the ingested frame before storing; recomputing them
    # from the stored (pseudonymised) ratings gives the same numbers
    sid = refresh(demo_cfg, fresh_db).snapshot_id
    with store.connect(fresh_db) as con:
        stored = store.metrics_for(con, sid)
        again = compute_metrics(
            store.ratings_for(con, sid), demo_cfg.rule, demo_cfg.no_opinion_in_denominator
        )
    cols = [c for c in again.columns if c in stored.columns and c != "round"]
    assert stored["round"].tolist() == again["round"].tolist()
    # sd only to the last bits: DuckDB's parallel sums are not bit-reproducible run to run
    pd.testing.assert_frame_equal(stored[cols], again[cols], check_dtype=False, rtol=1e-12)


def test_same_content_records_no_change(tiny_cfg, fresh_db):
    refresh(tiny_cfg, fresh_db, raw=_raw())
    again = refresh(tiny_cfg, fresh_db, raw=_raw())
    assert again.outcome == "no_change" and again.snapshot_id == 1
    with store.connect(fresh_db) as con:
        assert con.execute("SELECT count(*) FROM snapshots").fetchone()[0] == 1
        assert store.refresh_log(con)["outcome"].tolist() == ["no_change", "new"]


def _as_before_hash_scheme_2(db, cfg, tabs) -> None:
    """Make ``db`` what the code before hash scheme 2 left: JSON hashes, no scheme setting."""
    old = snapshots.legacy_content_hash({t: tabs.get(t) for t in cfg.tabs()}, cfg.raw)
    with store.connect(db) as con:
        con.execute("UPDATE snapshots SET content_hash = ?", [old])
        con.execute("DELETE FROM settings WHERE key = ?", [snapshots.HASH_SCHEME])


def test_first_refresh_after_the_hash_scheme_changed_is_not_new_data(tiny_cfg, fresh_db):
    refresh(tiny_cfg, fresh_db, raw=_raw())
    _as_before_hash_scheme_2(fresh_db, tiny_cfg, tiny_tabs())
    first, second = (refresh(tiny_cfg, fresh_db, raw=_raw()) for _ in range(2))
    assert (first.outcome, second.outcome) == ("no_change", "no_change")
    with store.connect(fresh_db) as con:
        log = store.refresh_log(con)
        rehashed = store.setting(con, snapshots.HASH_SCHEME)["rehashed"]
    notes = log["message"].str.contains("hash scheme changed").tolist()
    assert log["outcome"].tolist() == ["no_change", "no_change", "new"]
    assert notes == [False, True, False]  # recorded once, on the first refresh after
    want = store.content_hash({t: tiny_tabs().get(t) for t in tiny_cfg.tabs()}, tiny_cfg.raw)
    assert rehashed == {"1": want}  # so the old scheme is not computed again


def test_after_the_hash_scheme_changed_new_content_is_new(tiny_cfg, fresh_db):
    refresh(tiny_cfg, fresh_db, raw=_raw())
    _as_before_hash_scheme_2(fresh_db, tiny_cfg, tiny_tabs())
    tabs = tiny_tabs()
    tabs["Round 2"][1][2] = "Disagree"
    res = refresh(tiny_cfg, fresh_db, raw=_raw(tabs))
    assert res.outcome == "new" and res.snapshot_id == 2
    with store.connect(fresh_db) as con:
        assert store.setting(con, snapshots.HASH_SCHEME) == {"first_snapshot": 2}
    assert refresh(tiny_cfg, fresh_db, raw=_raw(tabs)).outcome == "no_change"


def test_content_hash_depends_on_values_and_types_not_on_shared_objects():
    one = "Agree"
    shared = {"Round 1": [[one, one], [one, 1]]}
    copies = {"Round 1": [["".join("Agree"), "".join(["Ag", "ree"])], ["Agree", 1]]}
    assert store.content_hash(shared, {}) == store.content_hash(copies, {})
    for other in (1.0, True, "1", None):
        changed = {"Round 1": [["Agree", "Agree"], ["Agree", other]]}
        assert store.content_hash(changed, {}) != store.content_hash(shared, {})
    assert store.content_hash(shared, {"title": "a"}) != store.content_hash(shared, {"title": "b"})


def test_changed_response_is_counted(tiny_cfg, fresh_db):
    refresh(tiny_cfg, fresh_db, raw=_raw())
    tabs = tiny_tabs()
    tabs["Round 2"][1][0] = tabs["Round 2"][1][0].replace(hour=20)
    tabs["Round 2"][1][2] = "Disagree"
    res = refresh(tiny_cfg, fresh_db, raw=_raw(tabs))
    r2 = res.changes.set_index("round").loc[2]
    assert (r2["new_responses"], r2["changed_responses"]) == (0, 1)


def test_uninterpretable_source_stores_nothing_and_keeps_last_snapshot(tiny_cfg, fresh_db):
    refresh(tiny_cfg, fresh_db, raw=_raw())
    before = _state(fresh_db)
    tabs = tiny_tabs()
    tabs["Round 2"][0][1] = "Name"  # identity column gone
    with pytest.raises(RefreshError, match="validate failed: Tab 'Round 2' has no identity"):
        refresh(tiny_cfg, fresh_db, raw=_raw(tabs))
    after = _state(fresh_db)
    assert before[0] == after[0] and before[2] == after[2]
    assert before[1].equals(after[1])
    with store.connect(fresh_db) as con:
        log = store.refresh_log(con)
    assert log["outcome"].tolist()[0] == "failed" and "identity" in log["message"].iloc[0]


def test_failure_while_storing_rolls_back(tiny_cfg, fresh_db, monkeypatch):
    refresh(tiny_cfg, fresh_db, raw=_raw())
    before = _state(fresh_db)

    insert = snapshots._insert

    def boom(con, table, *a, **k):
        if table == "metrics":
            raise RuntimeError("disk full")
        return insert(con, table, *a, **k)

    monkeypatch.setattr(snapshots, "_insert", boom)  # fail mid-transaction
    tabs = tiny_tabs()
    tabs["Round 2"][1][2] = "Disagree"
    with pytest.raises(RefreshError, match="store failed: RuntimeError: disk full"):
        refresh(tiny_cfg, fresh_db, raw=_raw(tabs))
    after = _state(fresh_db)
    assert (before[0], before[2]) == (after[0], after[2])
    with store.connect(fresh_db) as con:
        assert con.execute("SELECT count(*) FROM statements").fetchone()[0] == 3


def test_missing_workbook_is_a_fetch_failure(tiny_cfg, fresh_db, tmp_path):
    with pytest.raises(RefreshError, match="fetch failed: Workbook not found"):
        refresh(tiny_cfg, fresh_db, source=str(tmp_path / "gone.xlsx"))


def test_second_refresh_is_told_one_is_running(tiny_cfg, fresh_db):
    held, release = threading.Event(), threading.Event()

    def hold():
        with refresh_lock(fresh_db):
            held.set()
            release.wait(5)

    t = threading.Thread(target=hold)
    t.start()
    held.wait(5)
    try:
        with pytest.raises(RefreshBusy, match="already running"):
            refresh(tiny_cfg, fresh_db, raw=_raw(), wait=0.2)
    finally:
        release.set()
        t.join()
    assert refresh(tiny_cfg, fresh_db, raw=_raw(), wait=1).outcome == "new"


# --- readers and a writer in another process ---------------------------------------------------


@contextlib.contextmanager
def _readers(db, n: int = 8):
    """``n`` threads reading ``db`` read-only without pause (uncached, as sessions of the app on a
    cache miss); yields the (snapshot id or error) of every read."""
    stop, seen = threading.Event(), []

    def read():
        while not stop.is_set():
            try:
                with store.connect(db, read_only=True) as con:
                    sid = store.latest_snapshot_id(con)
                    store.metrics_for(con, sid)
                seen.append(sid)
            except store.StoreError as exc:
                seen.append(str(exc))

    threads = [threading.Thread(target=read) for _ in range(n)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    try:
        yield seen
    finally:
        stop.set()
        for t in threads:
            t.join()


_OPEN_FOR_WRITING = """
import sys, time
from lib import store
for i in range(5):
    t0 = time.perf_counter()
    with store.connect(sys.argv[1], wait=10) as con:
        print(round(time.perf_counter() - t0, 3), flush=True)
        store.set_setting(con, "probe", i)
    time.sleep(0.1)
"""


def test_readers_do_not_keep_a_writer_out(demo_db):
    """Eight threads reading without pause, and another process opening the file for writing
    five times.  Without writers-first (lib.store.database._turn) DuckDB's lock queues nobody:
    six of ten such opens gave up after 15 s; with it, each took 23-154 ms (this host, 2 cores).
    """
    cmd = [sys.executable, "-c", _OPEN_FOR_WRITING, str(demo_db)]
    with _readers(demo_db) as seen:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]
    waits = [float(x) for x in done.stdout.split()]
    assert len(waits) == 5 and max(waits) < 3.0, waits
    assert seen and set(seen) == {1}  # every read answered, none "busy"


def test_a_refresh_from_the_command_line_gets_through_while_pages_read(demo_cfg, tmp_path):
    """The app reads (read-only) while ``python -m lib refresh`` writes from another process:
    the refresh stores its snapshot, the readers wait while it writes and then see it."""
    db = tmp_path / "study.duckdb"
    raw = read_workbook(demo_cfg.source, demo_cfg.tabs())
    raw.tabs["Round 3"].pop()  # the workbook will be news
    refresh(demo_cfg, db, raw=raw)
    cmd = [sys.executable, "-m", "lib", "refresh", "--db", str(db)]
    with _readers(db) as seen:
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
        time.sleep(0.3)
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-1000:]
    assert set(seen) == {1, 2} and seen[-1] == 2  # no read failed; the new snapshot is seen
