"""lib.auth.SignInThrottle: per-role failures, exponential lock-out, atomic, persisted.

Before issue 12 one global counter let five wrong guesses by anyone lock the coordinator out, let
concurrent guesses race past the check, and let a committee sign-in reset the coordinator's count.
"""

from __future__ import annotations

import json
import threading

import pytest

from lib.auth import SignInThrottle, hash_password, lockout_seconds, throttle_path

ACCESS = {
    "coordinator_password_hash": hash_password("boss", iterations=1000),
    "committee_password_hash": hash_password("team", iterations=1000),
}


class Clock:
    """A settable clock (seconds)."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def throttle(tmp_path, clock):
    return SignInThrottle(throttle_path(tmp_path / "study.duckdb"), limit=3, clock=clock)


def _fail(t: SignInThrottle, role: str | None, times: int) -> None:
    for _ in range(times):
        assert t.attempt("guess", ACCESS, role).outcome == "wrong"


def test_failures_count_only_against_the_role_attempted(throttle):
    _fail(throttle, "committee", 3)
    assert throttle.wait_seconds("committee") == 60
    assert throttle.wait_seconds("coordinator") == 0
    assert throttle.attempt("boss", ACCESS, "coordinator").role == "coordinator"


def test_committee_success_does_not_reset_coordinator_failures(throttle):
    _fail(throttle, "coordinator", 2)
    assert throttle.attempt("team", ACCESS, "committee").role == "committee"
    _fail(throttle, "coordinator", 1)
    assert throttle.wait_seconds("coordinator") == 60


def test_success_resets_only_its_own_role(throttle):
    _fail(throttle, "coordinator", 2)
    _fail(throttle, "committee", 2)
    assert throttle.attempt("boss", ACCESS, "coordinator").outcome == "granted"
    _fail(throttle, "committee", 1)
    assert throttle.wait_seconds("committee") == 60 and throttle.wait_seconds("coordinator") == 0


def test_without_a_role_a_wrong_password_counts_against_every_role_tried(throttle):
    _fail(throttle, None, 3)
    assert throttle.wait_seconds("coordinator") == throttle.wait_seconds("committee") == 60


def test_without_a_role_a_locked_role_is_skipped_and_others_still_checked(throttle):
    _fail(throttle, "coordinator", 3)
    result = throttle.attempt("team", ACCESS)
    assert (result.outcome, result.role, result.locked) == (
        "granted",
        "committee",
        ("coordinator",),
    )


def test_a_locked_role_is_not_checked_even_with_the_right_password(throttle, clock):
    _fail(throttle, "coordinator", 3)
    assert throttle.attempt("boss", ACCESS, "coordinator").outcome == "locked"
    clock.now += 61
    assert throttle.attempt("boss", ACCESS, "coordinator").outcome == "granted"


def test_refused_attempts_neither_count_nor_extend_the_lockout(throttle, clock):
    _fail(throttle, "coordinator", 3)
    for _ in range(50):
        assert throttle.attempt("guess", ACCESS, "coordinator").outcome == "locked"
    clock.now += 30
    assert throttle.wait_seconds("coordinator") == 30


def test_lockout_doubles_with_each_further_failure_up_to_the_cap(throttle, clock):
    _fail(throttle, "coordinator", 3)
    waits = [throttle.wait_seconds("coordinator")]
    for _ in range(8):
        clock.now += waits[-1]
        _fail(throttle, "coordinator", 1)
        waits.append(throttle.wait_seconds("coordinator"))
    assert waits == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]


def test_lockout_seconds_grow_exponentially_and_stop_at_the_cap():
    assert [lockout_seconds(n, limit=5) for n in range(4, 12)] == [
        0,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
    ]
    assert lockout_seconds(10_000) == 3600


def test_a_quiet_day_forgets_the_count(throttle, clock):
    _fail(throttle, "coordinator", 2)
    clock.now += 86_400
    _fail(throttle, "coordinator", 2)
    assert throttle.wait_seconds("coordinator") == 0


def test_a_lockout_survives_a_restart_of_the_server(tmp_path, throttle, clock):
    _fail(throttle, "coordinator", 3)
    again = SignInThrottle(throttle.path, limit=3, clock=clock)
    assert again.wait_seconds("coordinator") == 60


def test_a_tampered_lock_never_lasts_beyond_the_cap(throttle, clock):
    entry = {"failures": 9, "last_failure": clock.now, "locked_until": 1e18}
    throttle.path.write_text(json.dumps({"roles": {"coordinator": entry}}), encoding="utf-8")
    assert throttle.wait_seconds("coordinator") == 3600


def test_a_damaged_file_starts_afresh(throttle):
    throttle.path.write_text("{not json", encoding="utf-8")
    assert throttle.attempt("boss", ACCESS, "coordinator").outcome == "granted"


def test_without_a_writable_folder_failures_still_count_in_memory(tmp_path, clock):
    t = SignInThrottle(tmp_path / "missing" / "db.signin.json", limit=3, clock=clock)
    _fail(t, "coordinator", 3)
    assert t.attempt("boss", ACCESS, "coordinator").outcome == "locked"


def _race(throttles: list[SignInThrottle], threads: int) -> list[str]:
    """``threads`` wrong guesses at the coordinator, released together; their outcomes."""
    start, outcomes = threading.Barrier(threads), []

    def guess(t: SignInThrottle) -> None:
        start.wait(timeout=10)
        outcomes.append(t.attempt("guess", ACCESS, "coordinator").outcome)

    workers = [
        threading.Thread(target=guess, args=(throttles[i % len(throttles)],))
        for i in range(threads)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert not any(w.is_alive() for w in workers)
    return outcomes


def test_concurrent_guesses_cannot_exceed_the_allowed_attempts(throttle):
    outcomes = _race([throttle], 24)
    assert outcomes.count("wrong") == 3 and outcomes.count("locked") == 21


def test_concurrent_guesses_through_two_throttles_share_the_file_lock(throttle, clock):
    other = SignInThrottle(throttle.path, limit=3, clock=clock)
    outcomes = _race([throttle, other], 24)
    assert outcomes.count("wrong") == 3 and outcomes.count("locked") == 21
