"""Shared fixtures: small studies built in code, temporary DuckDB files, the demo database."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from lib.config import config_from_dict, load_config
from lib.sources import RawSource

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
LABELS = {
    "Strongly disagree": 1,
    "Disagree": 2,
    "Neither agree nor disagree": 3,
    "Agree": 4,
    "Strongly agree": 5,
}

pytest_plugins = ["tests.conftest_gsheets"]


def tiny_config(**overrides):
    """A 5-point, two-round study configuration (≥ 75% agreement)."""
    base = {
        "title": "Tiny study",
        "source": "tiny.xlsx",
        "timezone": "Europe/London",
        "scale": {"min": 1, "max": 5, "labels": LABELS, "no_opinion": ["Unable to judge"]},
        "rounds": {"Round 1": 1, "Round 2": 2},
        "consensus": {"preset": "pct75"},
    }
    base.update(overrides)
    return config_from_dict(base)


def tiny_tabs() -> dict[str, list[list]]:
    """Two rounds, four panelists, three statements; one duplicate, one blank, one comment."""
    t = dt.datetime
    return {
        "Round 1": [
            [
                "Timestamp",
                "Email Address",
                "S01. Low doses work",
                "Comments (optional)",
                "S02. Peels are safe",
                "Any final remarks?",
            ],
            [t(2026, 9, 1, 9), "a@x.example", "Agree", "Sensible", "Disagree", ""],
            [t(2026, 9, 1, 10), "b@x.example", "Strongly agree", "", "Unable to judge"],
            [t(2026, 9, 2, 11), "c@x.example", "Agree", "", "Agree", "thanks"],
            [t(2026, 9, 2, 12), "d@x.example", "Disagree", "", ""],
            [t(2026, 9, 3, 8), " A@X.example ", "Strongly agree", "Changed my mind", "Disagree"],
        ],
        "Round 2": [
            ["Timestamp", "Email Address", "S02. Peels are safe", "Comments (optional)"],
            [t(2026, 10, 1, 9), "a@x.example", "Agree", ""],
            [t(2026, 10, 1, 10), "c@x.example", "Strongly agree", '=HYPERLINK("x")'],
            [t(2026, 10, 2, 9), "b@x.example", "Agree", ""],
        ],
        "Panel": [
            ["Email Address", "Name", "Country"],
            ["a@x.example", "Ann Alpha", "Italy"],
            ["b@x.example", "Bob Beta", "Spain"],
            ["c@x.example", "Cat Gamma", "Italy"],
            ["d@x.example", "Dan Delta", "Spain"],
        ],
    }


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
    from lib.pipeline import refresh

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    refresh(demo_cfg, path)
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
