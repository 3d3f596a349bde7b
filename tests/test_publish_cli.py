"""``python -m lib publish``: refused with the round and the count, allowed on closing the round.

The database: the demo with round 3 cut to 8 answers (published), then refreshed with 9.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from lib import store
from lib.__main__ import main
from lib.pipeline import refresh
from lib.sources import read_workbook

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def db(demo_cfg, fresh_db) -> Path:
    """Snapshot 1 (round 3: 8 answers) published by the CLI; snapshot 2 (9 answers) not."""
    raw = read_workbook(demo_cfg.source)
    answers = raw.tabs["Round 3"]
    raw.tabs["Round 3"] = answers[:9]
    refresh(demo_cfg, fresh_db, raw=raw)
    assert main(["publish", "--db", str(fresh_db)]) == 0
    raw.tabs["Round 3"] = answers[:10]
    assert refresh(demo_cfg, fresh_db, raw=raw).snapshot_id == 2
    return fresh_db


def _published(db: Path) -> int | None:
    with store.connect(db) as con:
        return store.published_snapshot_id(con)


def test_publish_refuses_one_more_respondent_with_the_round_and_count(db, capsys):
    capsys.readouterr()
    assert main(["publish", "--db", str(db)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(
        "error: snapshot 2 cannot be published: round 3: 1 respondent differs from snapshot 1"
    )
    assert "fewer than privacy.min_group_size = 5" in err and "close round 3" in err
    assert _published(db) == 1


def test_publish_closing_the_round_says_what_it_published(db, capsys):
    capsys.readouterr()
    assert main(["publish", "--db", str(db), "--close-round", "3"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Published snapshot 2, closing round 3: observers see it")
    assert "  round 3: 9 respondents; since snapshot 1: 1 added, 0 changed, 0 removed" in out
    assert "note: Closing round 3 publishes a change of 1 respondent" in out
    assert _published(db) == 2
    assert main(["publish", "--db", str(db)]) == 0
    assert "Snapshot 2 is already published; nothing changed." in capsys.readouterr().out


def test_publish_takes_several_rounds_and_an_earlier_snapshot(db, capsys):
    argv = ["publish", "--db", str(db), "--snapshot", "1", "--close-round", "1", "2"]
    assert main([*argv, "--close-round", "3"]) == 0
    assert "closing round 1, 2, 3" in capsys.readouterr().out
    with store.connect(db) as con:
        assert list(store.publications(con)["closed_rounds"].iloc[0]) == [1, 2, 3]


def test_publish_of_a_missing_snapshot_or_database_fails(db, tmp_path, capsys):
    assert main(["publish", "--db", str(db), "--snapshot", "9"]) == 1
    assert "snapshot 9 does not exist" in capsys.readouterr().err
    assert main(["publish", "--db", str(tmp_path / "none.duckdb")]) == 1
    assert "not found; run 'python -m lib refresh'" in capsys.readouterr().err


def test_publish_runs_as_a_process(db):
    run = subprocess.run(
        [sys.executable, "-m", "lib", "publish", "--db", str(db), "--close-round", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("Published snapshot 2")
