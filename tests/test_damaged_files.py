"""Damaged or missing files: a corrupt database, a missing workbook, an unusable data folder.

Each gives a message that says what to do, never a traceback; a damaged demo database is moved
aside (kept, never deleted) and rebuilt from the bundled workbook.
"""

from __future__ import annotations

import random
import uuid
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib import store
from lib.pipeline import RefreshError, ensure_demo_db, refresh
from tests.conftest import ROOT

APP = str(ROOT / "app.py")
SHEET_URL = "https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms"


def _garbage(path: Path) -> Path:
    path.write_bytes(b"this is not a database\n" * 500)
    return path


def _truncated(path: Path, demo_db: Path) -> Path:
    path.write_bytes(demo_db.read_bytes()[:5000])
    return path


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


def test_damage_found_by_a_query_is_a_store_corrupt_not_a_duckdb_error(demo_db):
    """A bad block deep in the file may only show when a query reads it."""
    data, rng = bytearray(demo_db.read_bytes()), random.Random(7)
    for start in range(len(data) - 200_000, len(data) - 2_000, 8_192):
        data[start : start + 512] = rng.randbytes(512)
    demo_db.write_bytes(bytes(data))
    with pytest.raises(store.StoreCorrupt, match="Move it aside"):  # not a raw duckdb.Error
        with store.connect(demo_db) as con:  # opens: the header blocks are intact
            for table in ("ratings", "metrics", "statements", "problems", "respondents"):
                con.execute(f"SELECT * FROM {table}").fetchall()


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


def test_read_only_folder_is_a_clear_refresh_error(tmp_path, demo_cfg):
    folder = tmp_path / "data"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        probe = folder / f"probe-{uuid.uuid4().hex}"
        try:
            probe.touch()
        except PermissionError:
            pass
        else:
            probe.unlink()
            pytest.skip(
                "running as root: chmod 0o500 does not stop writes "
                "(the folder-is-a-file tests cover this case)"
            )
        with pytest.raises(RefreshError, match="cannot create the lock file .*writable"):
            refresh(demo_cfg, folder / "delphi.duckdb")
    finally:
        folder.chmod(0o700)


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
