"""Shared fixtures: small studies built in code, temporary DuckDB files, the demo database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lib.config import load_config
from lib.sources import RawSource
from tests.helpers import ROOT, tiny_config, tiny_tabs

pytest_plugins = ["tests.conftest_gsheets"]


@pytest.fixture
def tiny_cfg():
    return tiny_config(statements_tab="")


@pytest.fixture
def tiny_raw() -> RawSource:
    tabs = tiny_tabs()
    return RawSource(tabs=tabs, source="tiny", title="Tiny", all_tabs=list(tabs))


@pytest.fixture
def fresh_db(tmp_path) -> Path:
    return tmp_path / "study.duckdb"


@pytest.fixture(scope="session")
def demo_cfg():
    return load_config()


@pytest.fixture(scope="session")
def demo_db_master(tmp_path_factory, demo_cfg) -> Path:
    """The demo database as the app builds it: snapshot 1, published with every round closed."""
    from lib.pipeline import ensure_demo_db

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    ensure_demo_db(demo_cfg, path)
    return path


@pytest.fixture
def demo_db(demo_db_master, tmp_path) -> Path:
    """A private copy of the demo database (tests may write to it)."""
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_master, path)
    return path


@pytest.fixture
def app(demo_db, monkeypatch):
    """AppTest of app.py on a private copy of the demo database (demo mode until a test sets
    ``[access]`` secrets)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DELPHI_DB", str(demo_db))
    monkeypatch.delenv("DELPHI_STUDY", raising=False)
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
