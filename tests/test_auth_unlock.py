"""``python -m lib unlock``: clears a sign-in lock-out recorded beside the database."""

from __future__ import annotations

import subprocess
import sys

from lib.auth import SignInThrottle, hash_password, throttle_path
from tests.helpers import ROOT

ACCESS = {
    "coordinator_password_hash": hash_password("boss", iterations=1000),
    "committee_password_hash": hash_password("team", iterations=1000),
}


def _unlock(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "lib", "unlock", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _lock_both(db) -> SignInThrottle:
    t = SignInThrottle(throttle_path(db), limit=2)
    for _ in range(2):
        t.attempt("guess", ACCESS)
    assert t.wait_seconds("coordinator") and t.wait_seconds("committee")
    return t


def test_unlock_clears_the_role_given_only(tmp_path):
    db = tmp_path / "study.duckdb"
    t = _lock_both(db)
    done = _unlock("--role", "coordinator", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert "coordinator" in done.stdout
    assert t.wait_seconds("coordinator") == 0 and t.wait_seconds("committee") > 0
    assert t.attempt("boss", ACCESS, "coordinator").outcome == "granted"


def test_unlock_without_a_role_clears_every_role(tmp_path):
    db = tmp_path / "study.duckdb"
    t = _lock_both(db)
    assert _unlock("--db", str(db)).returncode == 0
    assert t.wait_seconds("coordinator") == t.wait_seconds("committee") == 0


def test_unlock_with_nothing_recorded_says_so(tmp_path):
    done = _unlock("--db", str(tmp_path / "study.duckdb"))
    assert done.returncode == 0 and "nothing to clear" in done.stdout
