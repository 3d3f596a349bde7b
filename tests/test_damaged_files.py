"""Damaged or missing files: a corrupt database, a missing workbook, an unusable data folder.

Each gives a message that says what to do, never a traceback; a damaged demo database is moved
aside (kept, never deleted) and rebuilt from the bundled workbook.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from lib import coordination, publication, store
from lib.pipeline import RefreshError, ensure_demo_db, refresh
from tests.helpers import ROOT

APP = str(ROOT / "app.py")
SHEET_URL = "https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


def _garbage(path: Path) -> Path:
    path.write_bytes(b"this is not a database\n" * 500)
    return path


def _truncated(path: Path, demo_db: Path) -> Path:
    path.write_bytes(demo_db.read_bytes()[:5000])
    return path


def _damage_block(db: Path, table: str = "statements") -> Path:
    """Overwrite 512 bytes of the block that holds ``table``'s values: the file opens and answers
    every query that does not read that block (the snapshot ids do), and a query that does fails
    DuckDB's block checksum ("Corrupt database file")."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [n for (n,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        blocks = {
            name: con.execute(
                f"SELECT min(block_id) FROM pragma_storage_info('{name}') WHERE block_id >= 0"
            ).fetchone()[0]
            for name in names
        }
        size = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
    finally:
        con.close()
    # what opening the study reads must stay readable
    assert blocks[table] not in {blocks.get("snapshots"), blocks.get("publications")}, blocks
    with db.open("r+b") as f:
        f.seek(3 * 4096 + blocks[table] * size + 4096)  # three 4 KiB headers, then the blocks
        f.write(random.Random(7).randbytes(512))
    return db


def _study(tmp_path: Path, source: str) -> Path:
    """A copy of the demo study configuration that reads ``source``."""
    text = (ROOT / "data" / "demo" / "study.toml").read_text(encoding="utf-8")
    path = tmp_path / "study.toml"
    path.write_text(
        text.replace('source = "isotretinoin_delphi.xlsx"', f'source = "{source}"'),
        encoding="utf-8",
    )
    return path


def _not_a_folder(tmp_path: Path) -> Path:
    """A database path whose folder is a regular file: unwritable even for root."""
    (tmp_path / "data").write_text("a file where the data folder should be")
    return tmp_path / "data" / "delphi.duckdb"


# --- a damaged database file ---------------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated"])
def test_damaged_file_says_move_it_aside(damage, tmp_path, demo_db):
    db = tmp_path / "study.duckdb"
    {
        "garbage": _garbage,
        "empty": lambda p: (p.touch(), p)[1],
        "truncated": lambda p: _truncated(p, demo_db),
    }[damage](db)
    with pytest.raises(store.StoreCorrupt, match=r"cannot be opened .*Move it aside"):
        with store.connect(db):
            pass


@pytest.mark.parametrize("read_only", [False, True])
def test_damage_found_by_a_query_is_a_store_corrupt_not_a_duckdb_error(read_only, demo_db):
    """A bad block deep in the file may only show when a query reads it."""
    _damage_block(demo_db)
    with pytest.raises(store.StoreCorrupt, match="Move it aside"):  # not a raw duckdb.Error
        with store.connect(demo_db, read_only=read_only) as con:  # opens: the header is intact
            assert store.latest_snapshot_id(con) == 1
            store.statements_for(con, 1)


def test_check_readable_finds_a_bad_block_no_other_query_reads(demo_db):
    _damage_block(demo_db)
    with store.connect(demo_db, read_only=True) as con:
        assert store.current_snapshot_id(con) == 1  # what opening a study reads is intact
    with pytest.raises(store.StoreCorrupt):
        with store.connect(demo_db, read_only=True) as con:
            store.check_readable(con)


def test_ensure_demo_db_reading_all_rebuilds_a_file_damaged_in_a_block(demo_cfg, demo_db):
    _damage_block(demo_db)
    assert ensure_demo_db(demo_cfg, demo_db, rebuild_corrupt=True) == 1  # opens: looks fine
    assert list(demo_db.parent.glob("*.corrupt-*")) == []
    assert ensure_demo_db(demo_cfg, demo_db, rebuild_corrupt=True, read_all=True) == 1
    assert len([p for p in demo_db.parent.glob("demo.duckdb.corrupt-*")]) == 1
    with store.connect(demo_db, read_only=True) as con:
        store.check_readable(con)
        assert len(store.statements_for(con, 1)) > 0
        rebuilt = store.refresh_log(con).query("outcome == 'rebuilt'")["message"].iloc[0]
    assert "Corrupt database file" in rebuilt


def test_reading_all_never_moves_a_healthy_file_aside(demo_cfg, demo_db):
    assert ensure_demo_db(demo_cfg, demo_db, rebuild_corrupt=True, read_all=True) == 1
    assert list(demo_db.parent.glob("*.corrupt-*")) == []


def test_refresh_into_a_damaged_file_fails_at_store_and_keeps_it(tmp_path, demo_cfg):
    db = _garbage(tmp_path / "study.duckdb")
    before = db.read_bytes()
    with pytest.raises(RefreshError, match="store failed: The database file .* Move it aside"):
        refresh(demo_cfg, db)
    assert db.read_bytes() == before


def test_ensure_demo_db_refuses_a_damaged_file_unless_asked_to_rebuild(tmp_path, demo_cfg):
    db = _garbage(tmp_path / "study.duckdb")
    with pytest.raises(store.StoreCorrupt):
        ensure_demo_db(demo_cfg, db)
    assert list(tmp_path.glob("*.corrupt-*")) == []


def test_damaged_demo_db_is_moved_aside_and_rebuilt(tmp_path, demo_cfg, demo_db):
    db = _garbage(tmp_path / "study.duckdb")
    Path(f"{db}.wal").write_bytes(b"half a transaction")
    assert ensure_demo_db(demo_cfg, db, rebuild_corrupt=True) == 1
    kept = [p for p in tmp_path.glob("study.duckdb.corrupt-*") if p.suffix != ".wal"]
    assert len(kept) == 1 and kept[0].read_bytes() == b"this is not a database\n" * 500
    assert Path(f"{kept[0]}.wal").read_bytes() == b"half a transaction"
    with store.connect(db) as con, store.connect(demo_db) as ref:
        assert store.metrics_for(con, 1).equals(store.metrics_for(ref, 1))
        log = store.refresh_log(con)
    rebuilt = log[log["outcome"] == "rebuilt"]["message"].iloc[0]
    assert kept[0].name in rebuilt and "not a valid DuckDB database" in rebuilt


def test_a_healthy_database_is_never_moved_aside(tmp_path, demo_cfg, demo_db):
    assert ensure_demo_db(demo_cfg, demo_db, rebuild_corrupt=True) == 1
    assert list(demo_db.parent.glob("*.corrupt-*")) == []


def test_move_aside_never_overwrites_an_earlier_copy(tmp_path):
    db = tmp_path / "study.duckdb"
    names = set()
    for n in range(3):
        db.write_text(f"broken {n}")
        names.add(store.move_aside(db).name)
    assert len(names) == 3 and not db.exists()


# --- a missing workbook --------------------------------------------------------------------


def test_missing_workbook_names_the_path(tmp_path):
    cfg_path = _study(tmp_path, "gone.xlsx")
    from lib.config import load_config

    cfg = load_config(cfg_path)
    with pytest.raises(RefreshError, match=f"fetch failed: Workbook not found: {tmp_path}"):
        ensure_demo_db(cfg, tmp_path / "study.duckdb")


def test_rebuild_without_the_workbook_still_keeps_the_damaged_file(tmp_path):
    from lib.config import load_config

    cfg = load_config(_study(tmp_path, "gone.xlsx"))
    db = _garbage(tmp_path / "study.duckdb")
    with pytest.raises(RefreshError, match="Workbook not found"):
        ensure_demo_db(cfg, db, rebuild_corrupt=True)
    assert len(list(tmp_path.glob("study.duckdb.corrupt-*"))) == 1


# --- an unusable data folder ---------------------------------------------------------------


def test_folder_that_is_a_file_is_a_clear_store_error(tmp_path):
    db = _not_a_folder(tmp_path)
    with pytest.raises(store.StoreError, match="its folder must exist and be writable") as err:
        with store.connect(db):
            pass
    assert not isinstance(err.value, store.StoreCorrupt)  # nothing to move aside


def test_refresh_into_a_folder_that_is_a_file_fails_at_the_lock(tmp_path, demo_cfg):
    with pytest.raises(RefreshError, match="lock failed: cannot create the lock file .*writable"):
        refresh(demo_cfg, _not_a_folder(tmp_path))


def test_directory_where_the_database_should_be_is_not_moved_aside(tmp_path, demo_cfg):
    db = tmp_path / "study.duckdb"
    db.mkdir()
    with pytest.raises(store.StoreError, match="must exist and be writable"):
        ensure_demo_db(demo_cfg, db, rebuild_corrupt=True)
    assert db.is_dir() and list(tmp_path.glob("*.corrupt-*")) == []


# --- the app -------------------------------------------------------------------------------


def _run_app(monkeypatch, db: Path, study: Path | None) -> AppTest:
    monkeypatch.setenv("DELPHI_DB", str(db))
    if study is None:
        monkeypatch.delenv("DELPHI_STUDY", raising=False)
    else:
        monkeypatch.setenv("DELPHI_STUDY", str(study))
    return AppTest.from_file(APP, default_timeout=60).run()


def test_app_shows_an_error_for_a_damaged_database_of_a_live_sheet(tmp_path, monkeypatch):
    db = _garbage(tmp_path / "study.duckdb")
    at = _run_app(monkeypatch, db, _study(tmp_path, SHEET_URL))
    assert not at.exception
    assert any("cannot be opened" in e.value and "Move it aside" in e.value for e in at.error)
    assert db.read_bytes() == b"this is not a database\n" * 500  # left for the coordinator


def test_app_rebuilds_a_damaged_demo_database(tmp_path, monkeypatch):
    db = _garbage(tmp_path / "delphi.duckdb")
    at = _run_app(monkeypatch, db, None)
    assert not at.exception and not at.error
    kept = next(tmp_path.glob("delphi.duckdb.corrupt-*"))
    assert any("rebuilt from the workbook" in w.value and kept.name in w.value for w in at.warning)
    assert at.metric[0].value == "15 experts"


def test_app_shows_an_error_when_the_data_folder_is_a_file(tmp_path, monkeypatch):
    at = _run_app(monkeypatch, _not_a_folder(tmp_path), None)
    assert not at.exception
    assert any("cannot be created" in e.value and "set DELPHI_DB" in e.value for e in at.error)


def test_app_rebuilds_a_demo_database_damaged_in_a_block_only_queries_read(demo_db, monkeypatch):
    """The file opens and names its snapshots; the Overview's first query meets the bad block."""
    _damage_block(demo_db)
    at = _run_app(monkeypatch, demo_db, None)
    assert not at.exception and not at.error
    kept = next(demo_db.parent.glob("demo.duckdb.corrupt-*"))
    assert any("could not be read" in w.value and kept.name in w.value for w in at.warning)
    assert at.metric[0].value == "15 experts"


def _busy(*_args, **_kwargs):
    raise store.StoreError("The database study.duckdb is busy (another process is using it)")


@pytest.mark.parametrize(
    "page, module, name, first",
    [
        ("pages/trends.py", store, "statements_for", False),  # a statistic's input (ui.stat)
        ("pages/coordinator.py", coordination, "read_state", False),  # the live state
        ("pages/coordinator.py", publication, "check_publication", False),  # Publish panel
        ("pages/overview.py", store, "list_snapshots", True),  # the sidebar's snapshot picker
    ],
)
def test_a_storage_error_on_any_page_is_a_plain_message(
    page, module, name, first, app, monkeypatch
):
    if first:  # read when the app resolves the snapshot, before the page
        monkeypatch.setattr(module, name, _busy)
    at = app.run()
    if not first:
        monkeypatch.setattr(module, name, _busy)
        at.switch_page(page).run()
    assert not at.exception
    shown = [e.value.replace("\\", "") for e in at.error]  # markdown-escaped
    assert any("is busy (another process is using it)" in text for text in shown), shown


# --- a read-only data folder ---------------------------------------------------------------

# Each prints a JSON line; run by _without_write_access in a process that cannot write $DELPHI_DB's
# folder.  _PROBE says whether it really cannot.
_PROBE = """
import json, os, sys
folder = os.path.dirname(os.environ["DELPHI_DB"])
try:
    open(os.path.join(folder, "probe"), "w").close()
    shown = {"writable": True}
except OSError:
    shown = {"writable": False}
"""
_RENDER = """
from streamlit.testing.v1 import AppTest
at = AppTest.from_file("app.py", default_timeout=90).run()
shown["exception"] = [str(e.value) for e in at.exception]
shown["error"] = [e.value for e in at.error]
shown["metric"] = [m.value for m in at.metric]
print(json.dumps(shown))
"""
_REFRESH = """
from lib.config import load_config
from lib.pipeline import RefreshError, refresh
try:
    refresh(load_config(), os.environ["DELPHI_DB"])
except RefreshError as exc:
    shown["error"] = str(exc)
print(json.dumps(shown))
"""
WAYS = ["read-only mount", "another user"]


def _without_write_access(how: str, db: Path, script: str) -> dict:
    """Run ``script`` on ``db`` in a process unable to write ``db``'s folder: through a read-only
    bind mount in a private mount namespace (root cannot write there either), or as a user other
    than the folder's owner (root ignores chmod, and the tests run as root)."""
    folder = db.parent
    folder.chmod(0o755)  # readable by all, writable by its owner only
    if db.exists():
        db.chmod(0o644)
    if how == "read-only mount":
        mount = f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}"'
        prefix = ["unshare", "-m", "--propagation", "private"]
    else:
        mount, prefix = "true", ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    cmd = [*prefix, "sh", "-c", f'{mount} && echo ready && exec "$@"', "-"]
    env = {**os.environ, "DELPHI_DB": str(db), "PYTHONPATH": str(ROOT), "HOME": str(folder)}
    env.pop("DELPHI_STUDY", None)
    try:
        done = subprocess.run(
            [*cmd, sys.executable, "-c", _PROBE + script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    except FileNotFoundError as exc:
        pytest.skip(f"{how}: {exc}")
    if not done.stdout.startswith("ready"):
        pytest.skip(f"{how} is not available here: {done.stderr.strip()[-300:]}")
    assert done.returncode == 0, done.stderr[-2000:]
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    assert not shown["writable"], "the folder was writable: this test tests nothing"
    return shown


@pytest.fixture
def world_readable_folder() -> Iterator[Path]:
    """A new folder in /tmp (pytest's own are private to root: another user cannot reach them)."""
    folder = Path(tempfile.mkdtemp(prefix="delphi-ro-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder)


@pytest.mark.parametrize("how", WAYS)
def test_a_read_only_data_folder_still_serves_the_last_snapshot(
    how, demo_db, world_readable_folder
):
    db = world_readable_folder / "delphi.duckdb"
    shutil.copy(demo_db, db)
    shown = _without_write_access(how, db, _RENDER)
    assert not shown["exception"] and not shown["error"], shown
    assert shown["metric"][0] == "15 experts"
    assert [p.name for p in world_readable_folder.iterdir()] == ["delphi.duckdb"]  # no writes


@pytest.mark.parametrize("how", WAYS)
def test_a_refresh_into_a_read_only_folder_is_a_clear_error(how, demo_db, world_readable_folder):
    db = world_readable_folder / "delphi.duckdb"
    shutil.copy(demo_db, db)
    shown = _without_write_access(how, db, _REFRESH)
    assert re.search(
        r"lock failed: cannot create the lock file .* must be writable", shown["error"]
    )


# --- a full disk ---------------------------------------------------------------------------

_REFRESH_NEWS = """
import json, sys
from lib import store
from lib.config import load_config
from lib.pipeline import RefreshError, refresh
from lib.sources import read_workbook
cfg, db = load_config(), sys.argv[1]
raw = read_workbook(cfg.source, cfg.tabs())
raw.tabs["Panel"][1][2] = "Portugal"  # any edit makes a new snapshot
out = {}
try:
    out["stored"] = refresh(cfg, db, raw=raw).snapshot_id
except RefreshError as exc:
    out["error"] = str(exc)
with store.connect(db, read_only=True) as con:
    store.check_readable(con)
    out["latest"] = store.latest_snapshot_id(con)
print(json.dumps(out))
"""


def test_a_full_disk_reports_itself_and_keeps_the_last_snapshot(demo_db):
    """The database on a file system with 16 KiB to spare: the refresh's commit cannot write
    its WAL.  DuckDB then has no transaction to roll back; the error said so ("cannot rollback -
    no transaction is active") instead of what happened."""
    folder = Path(tempfile.mkdtemp(prefix="delphi-full-", dir="/tmp"))
    try:
        size = demo_db.stat().st_size // 1024 + 16
        script = (
            f'mount -t tmpfs -o size={size}k tmpfs "{folder}" && '
            f'cp "{demo_db}" "{folder}/d.duckdb" && echo mounted && exec "$@"'
        )
        cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "-"]
        cmd += [sys.executable, "-c", _REFRESH_NEWS, str(folder / "d.duckdb")]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        try:
            done = subprocess.run(
                cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
            )
        except FileNotFoundError as exc:
            pytest.skip(f"no unshare: {exc}")
        if not done.stdout.startswith("mounted"):
            pytest.skip(f"a small file system cannot be mounted here: {done.stderr[-300:]}")
        assert done.returncode == 0, done.stderr[-2000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder)
    assert "No space left on device" in out["error"] and "rollback" not in out["error"], out
    assert out["latest"] == 1  # the last good snapshot, whole (every block read)


def test_damage_a_full_read_cannot_find_is_reported_not_rebuilt_again_and_again(
    demo_db, monkeypatch
):
    """A query says "damaged", yet every table reads: the file stays, the page says why (and
    does not rerun into the same error for ever)."""

    def damaged(*_args, **_kwargs):
        raise store.StoreCorrupt("The database file study.duckdb cannot be opened (Corrupt)")

    monkeypatch.setattr(store, "metrics_for", damaged)
    at = _run_app(monkeypatch, demo_db, None)
    assert not at.exception and not at.warning[1:]  # the demo banner only
    assert any("cannot be opened" in e.value for e in at.error)
    assert list(demo_db.parent.glob("*.corrupt-*")) == []
