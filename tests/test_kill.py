"""A refresh killed with SIGKILL at any point loses nothing: the last good snapshot stays current.

tests/kill_helper.py runs a refresh of the demo workbook in a subprocess against a database that
already holds a good snapshot (the demo minus one response, so the workbook is news), printing a
marker at each point; the test kills it there (the helper sleeps after the marker, so the point is
exact), or after a seeded random delay.  DuckDB's write-ahead log makes a transaction all or
nothing; flock makes the refresh lock die with the process.  A snapshot and its refresh-log line
are one transaction, so no kill leaves a snapshot the log does not account for.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from lib import store
from lib.pipeline import refresh
from lib.sources import RawSource, read_workbook
from tests.helpers import ROOT

SNAPSHOT_TABLES = [
    "statements",
    "ratings",
    "respondents",
    "panel",
    "problems",
    "metrics",
    "eligibility",
]
HOLD_POINTS = [
    "fetch",  # (a) reading the workbook, refresh lock held
    "validate",  # (a) ingesting
    "store and compute",  # (b) about to compute the metrics and write
    "insert ratings",  # (b) inside the transaction: the first table written
    "insert metrics",  # (b) inside the transaction: every table but the snapshot row written
    "refresh log",  # (c) the snapshot row written, its refresh-log line next
    "committed",  # (d) right after COMMIT
]
_RNG = random.Random(20261126)
DELAYS = sorted(round(_RNG.uniform(0.0, 0.4), 3) for _ in range(4))


def _snapshot(db: Path, sid: int) -> tuple[int | None, pd.DataFrame]:
    with store.connect(db) as con:
        return store.current_snapshot_id(con), store.metrics_for(con, sid)


@pytest.fixture(scope="module")
def before(tmp_path_factory, demo_cfg) -> Path:
    """A database whose one good snapshot is the demo without its last Round 3 response."""
    raw = read_workbook(demo_cfg.source, demo_cfg.tabs())
    tabs = {name: [list(r) for r in rows] for name, rows in raw.tabs.items()}
    tabs["Round 3"].pop()
    path = tmp_path_factory.mktemp("kill") / "before.duckdb"
    refresh(
        demo_cfg,
        path,
        raw=RawSource(tabs=tabs, source=raw.source, title=raw.title, all_tabs=raw.all_tabs),
    )
    return path


@pytest.fixture(scope="module")
def after(before, tmp_path_factory, demo_cfg) -> pd.DataFrame:
    """Metrics of snapshot 2 when the helper's refresh runs to the end undisturbed."""
    path = tmp_path_factory.mktemp("kill") / "after.duckdb"
    shutil.copy(before, path)
    assert refresh(demo_cfg, path).snapshot_id == 2
    return _snapshot(path, 2)[1]


def _kill_helper(db: Path, marker: str, hold: bool, delay: float = 0.0) -> list[str]:
    """Start the helper, wait for ``marker``, wait ``delay`` s, SIGKILL it; markers it printed."""
    cmd = [sys.executable, "-m", "tests.kill_helper", str(db)] + (["--hold", marker] * hold)
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen: list[str] = []
    try:
        for line in proc.stdout:
            seen.append(line.strip())
            if seen[-1] == marker:
                break
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL or "done" in rest.splitlines()
    assert marker in seen, f"helper stopped before {marker!r}: {seen}\n{err[-2000:]}"
    return seen + rest.splitlines()


def _no_orphans(db: Path) -> None:
    """No row of any snapshot table belongs to a snapshot that was never committed, and every
    snapshot has the refresh-log line that says it was stored."""
    with store.connect(db) as con:
        unlogged = con.execute(
            "SELECT list(snapshot_id) FROM snapshots WHERE snapshot_id NOT IN "
            "(SELECT snapshot_id FROM refresh_log WHERE outcome = 'new')"
        ).fetchone()[0]
        assert not unlogged, f"snapshots without their refresh-log line: {unlogged}"
        for table in SNAPSHOT_TABLES:
            orphans = con.execute(
                f"SELECT count(*) FROM {table} WHERE snapshot_id NOT IN "
                "(SELECT snapshot_id FROM snapshots)"
            ).fetchone()[0]
            assert orphans == 0, table
        stray = con.execute(
            "SELECT count(*) FROM identity_map WHERE first_snapshot NOT IN "
            "(SELECT snapshot_id FROM snapshots)"
        ).fetchone()[0]
        assert stray == 0


def _check_survivor(db: Path, before: Path, after: pd.DataFrame, demo_cfg, committed: bool) -> None:
    current, metrics = _snapshot(db, 2 if committed else 1)
    expected = after if committed else _snapshot(before, 1)[1]
    assert current == (2 if committed else 1)
    pd.testing.assert_frame_equal(metrics, expected)
    _no_orphans(db)
    again = refresh(demo_cfg, db, wait=0)  # wait=0: a lock left behind would raise RefreshBusy
    assert (again.outcome, again.snapshot_id) == ("no_change" if committed else "new", 2)
    pd.testing.assert_frame_equal(_snapshot(db, 2)[1], after)


@pytest.mark.parametrize("point", HOLD_POINTS)
def test_kill_at_a_marked_point_keeps_the_last_good_snapshot(
    point, before, after, demo_cfg, tmp_path
):
    db = tmp_path / "study.duckdb"
    shutil.copy(before, db)
    _kill_helper(db, point, hold=True)
    _check_survivor(db, before, after, demo_cfg, committed=point == "committed")


@pytest.mark.parametrize("delay", DELAYS)
def test_kill_after_a_random_delay_keeps_a_whole_snapshot(delay, before, after, demo_cfg, tmp_path):
    db = tmp_path / "study.duckdb"
    shutil.copy(before, db)
    seen = _kill_helper(db, "ready", hold=False, delay=delay)
    with store.connect(db) as con:
        committed = store.latest_snapshot_id(con) == 2
    assert committed or "done" not in seen
    _check_survivor(db, before, after, demo_cfg, committed=committed)
