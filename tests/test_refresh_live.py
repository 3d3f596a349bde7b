"""A refresh through lib.pipeline against the fake Google Sheets API (real gspread + google-auth).

Google's hosts are mapped to the fake with ``DELPHI_SHEETS_API_BASE``, exactly as in a local demo;
the service account's ``token_uri`` is the fake's ``/token``.  Nothing contacts Google.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from lib import store
from lib.__main__ import main as cli
from lib.config import load_config
from lib.pipeline import RefreshBusy, RefreshError, refresh
from tests.fake_sheets import DEFAULT_KEY, generate_service_account
from tests.helpers import ROOT, tiny_config, tiny_tabs

TOML = f"""
title = "Live tiny study"
source = "{DEFAULT_KEY}"
timezone = "Europe/London"
[scale]
min = 1
max = 5
no_opinion = ["Unable to judge"]
[scale.labels]
"Strongly disagree" = 1
"Disagree" = 2
"Neither agree nor disagree" = 3
"Agree" = 4
"Strongly agree" = 5
[rounds]
"Round 1" = 1
"Round 2" = 2
"""


@pytest.fixture
def live(fake_sheets, rsa_service_account, monkeypatch):
    """The fake serving the tiny study; Google's hosts mapped to it through the environment."""
    monkeypatch.setenv("DELPHI_SHEETS_API_BASE", fake_sheets.url)
    for name in ("DELPHI_GOOGLE_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    fake_sheets.tabs = tiny_tabs()
    return fake_sheets


@pytest.fixture
def google(rsa_service_account):
    """``google=`` for pipeline.refresh: the throwaway key, no real sleeping between retries."""
    return {"credentials_info": rsa_service_account, "sleep": lambda s: None}


@pytest.fixture
def cfg():
    return tiny_config(source=DEFAULT_KEY)  # Statements tab configured but absent: optional


def _state(db):
    """Current snapshot id, its metrics, the snapshot count and the last refresh_log outcome."""
    with store.connect(db) as con:
        sid = store.current_snapshot_id(con)
        count = con.execute("SELECT count(*) FROM snapshots").fetchone()[0]
        log = store.refresh_log(con)
        return sid, store.metrics_for(con, sid), count, log["outcome"].iloc[0]


def _ranges(fake) -> list[str]:
    """The ranges of the last batchGet the fake received."""
    return [e for e in fake.log if e["endpoint"] == "batchGet"][-1]["query"]["ranges"]


# --- the happy path --------------------------------------------------------------------------


def test_refresh_from_the_live_sheet_stores_a_snapshot(live, cfg, google, fresh_db):
    steps = []
    res = refresh(cfg, fresh_db, progress=steps.append, google=google)
    assert res.outcome == "new" and res.snapshot_id == 1
    assert steps == ["fetch", "validate", "store and compute"]
    assert res.counts["n_respondents"] == 4 and res.counts["n_invited"] == 4
    assert res.source_title == "Isotretinoin Delphi (responses)"
    assert res.source_tabs == ["Round 1", "Round 2", "Panel"]


def test_only_round_tabs_and_present_optional_tabs_are_requested(live, cfg, google, fresh_db):
    refresh(cfg, fresh_db, google=google)
    assert _ranges(live) == ["'Round 1'", "'Round 2'", "'Panel'"]  # no Statements tab: skipped


def test_statements_tab_is_read_when_the_sheet_has_it(live, cfg, google, fresh_db):
    live.tabs["Statements"] = [
        ["statement_id", "round", "domain", "text"],
        ["S01", 1, "Dosing", "Low doses work"],
        ["S02", 1, "Safety", "Peels are safe"],
        ["S02", 2, "Safety", "Peels are safe"],
    ]
    res = refresh(cfg, fresh_db, google=google)
    assert _ranges(live) == ["'Round 1'", "'Round 2'", "'Statements'", "'Panel'"]
    with store.connect(fresh_db) as con:
        domains = set(store.statements_for(con, res.snapshot_id)["domain"])
    assert domains == {"Dosing", "Safety"}


@pytest.mark.parametrize("n_rounds", [1, 3, 10])
def test_three_requests_per_refresh_whatever_the_number_of_rounds(live, google, fresh_db, n_rounds):
    header = ["Timestamp", "Email Address", "S01. Low doses work"]
    live.tabs = {
        f"Round {i}": [
            header,
            [46266 + i, "a@x.example", "Agree"],
            [46266.5 + i, "b@x.example", "Disagree"],
        ]
        for i in range(1, n_rounds + 1)
    }
    cfg = tiny_config(source=DEFAULT_KEY, rounds={f"Round {i}": i for i in range(1, n_rounds + 1)})
    res = refresh(cfg, fresh_db, google=google)
    # token + spreadsheet metadata + one values:batchGet for every tab (lib/sources/gsheets.py)
    assert res.requests == 3 and live.count() == 3
    assert [live.count(e) for e in ("token", "metadata", "batchGet")] == [1, 1, 1]
    assert len(_ranges(live)) == n_rounds and res.counts["n_rounds"] == n_rounds


def test_unchanged_sheet_records_no_change(live, cfg, google, fresh_db):
    refresh(cfg, fresh_db, google=google)
    again = refresh(cfg, fresh_db, google=google)
    assert again.outcome == "no_change" and again.snapshot_id == 1 and again.requests == 3
    sid, _, count, outcome = _state(fresh_db)
    assert (sid, count, outcome) == (1, 1, "no_change")


def test_edited_sheet_gives_a_new_snapshot_with_its_changes(live, cfg, google, fresh_db):
    refresh(cfg, fresh_db, google=google)
    live.tabs["Round 2"].append([46300.5, "d@x.example", "Agree"])
    res = refresh(cfg, fresh_db, google=google)
    assert res.outcome == "new" and res.previous_id == 1 and res.snapshot_id == 2
    r2 = res.changes.set_index("round").loc[2]
    assert (r2["new_responses"], r2["changed_responses"], r2["respondents"]) == (1, 0, 4)


def test_deleted_response_is_counted_as_removed(live, cfg, google, fresh_db):
    refresh(cfg, fresh_db, google=google)
    del live.tabs["Round 2"][-1]  # b@x.example's round 2 answer deleted from the sheet
    res = refresh(cfg, fresh_db, google=google)
    r2 = res.changes.set_index("round").loc[2]
    assert (r2["new_responses"], r2["removed_responses"], r2["respondents"]) == (0, 1, 2)


def test_429_twice_then_success_is_retried_within_the_refresh(live, cfg, google, fresh_db):
    live.fault("429", times=2, endpoint="batchGet")
    res = refresh(cfg, fresh_db, google=google)
    assert res.outcome == "new" and res.requests == 5 and live.count("batchGet") == 3


# --- every fault: the right message, and the last good snapshot untouched ----------------------

FAULTS = [  # (fault, times, endpoint, extra read_sheet kwargs, expected message fragment)
    ("429", None, None, {}, "quota exceeded; try again in a minute"),
    ("500", None, "batchGet", {}, "not responding (HTTP 500)"),
    ("403", 1, "metadata", {}, "share the sheet with dashboard@delphi-fake"),
    ("404", 1, "metadata", {}, "Spreadsheet not found: check the URL or key"),
    ("slow", None, "batchGet", {"timeout": 0.2, "max_tries": 2}, "did not answer within 0.2 s"),
    ("truncated", 1, "batchGet", {}, "Unexpected response from Google Sheets (values)"),
    ("not_json", 1, "metadata", {}, "Unexpected response from Google Sheets (metadata)"),
    ("invalid_grant", 1, "token", {}, "service account key was rejected by Google"),
]


@pytest.mark.parametrize("kind,times,endpoint,kwargs,message", FAULTS, ids=[f[0] for f in FAULTS])
def test_fault_fails_the_fetch_and_keeps_the_last_snapshot(
    live, cfg, google, fresh_db, kind, times, endpoint, kwargs, message
):
    refresh(cfg, fresh_db, google=google)
    sid, metrics, count, _ = _state(fresh_db)
    live.tabs["Round 2"].append([46300.5, "d@x.example", "Agree"])  # there is news to store
    live.fault(kind, times=times, endpoint=endpoint, delay=0.5)
    with pytest.raises(RefreshError) as info:
        refresh(cfg, fresh_db, google={**google, **kwargs})
    assert info.value.step == "fetch" and message in info.value.reason
    after = _state(fresh_db)
    assert after[0] == sid and after[2] == count and after[3] == "failed"
    assert after[1].equals(metrics)


def test_missing_round_tab_names_the_tabs_the_sheet_has(live, google, fresh_db):
    cfg = tiny_config(source=DEFAULT_KEY, rounds={"Round 1": 1, "Round 2": 2, "Round 3": 3})
    with pytest.raises(RefreshError, match="fetch failed") as info:
        refresh(cfg, fresh_db, google=google)
    assert "'Round 3'" in info.value.reason
    assert "The sheet has: 'Round 1', 'Round 2', 'Panel'." in info.value.reason
    assert live.count("batchGet") == 0


def test_key_the_sheet_does_not_accept_is_a_credentials_failure(live, cfg, fresh_db):
    stranger, _ = generate_service_account(live.token_uri)  # a different RSA key
    with pytest.raises(RefreshError, match="key was rejected by Google"):
        refresh(cfg, fresh_db, google={"credentials_info": stranger})
    with store.connect(fresh_db) as con:
        assert store.latest_snapshot_id(con) is None
        assert store.refresh_log(con)["outcome"].tolist() == ["failed"]


# --- the private key never appears anywhere ----------------------------------------------------


def _key_lines(info) -> list[str]:
    """The base64 lines of the PEM body: none may be printed, logged or stored."""
    return [line for line in info["private_key"].splitlines() if "-----" not in line]


@pytest.mark.parametrize("fault", ["invalid_grant", "403", "429"])
def test_failing_refresh_never_shows_the_private_key(
    live, cfg, rsa_service_account, fresh_db, caplog, capsys, fault
):
    caplog.set_level(logging.DEBUG)
    live.fault(fault, times=None)
    google = {"credentials_info": rsa_service_account, "sleep": lambda s: None}
    with pytest.raises(RefreshError) as info:
        refresh(cfg, fresh_db, google=google)
    with store.connect(fresh_db) as con:
        logged = store.refresh_log(con)["message"].str.cat()
    out = capsys.readouterr()
    chain, exc = [], info.value
    while exc is not None:
        chain += [str(exc), repr(exc)]
        exc = exc.__cause__ or exc.__context__
    seen = "\n".join([out.out, out.err, caplog.text, logged, *chain])
    assert seen and not [line for line in _key_lines(rsa_service_account) if line in seen]


def test_unparseable_private_key_is_named_not_shown(
    live, cfg, rsa_service_account, fresh_db, caplog
):
    caplog.set_level(logging.DEBUG)
    lines = rsa_service_account["private_key"].splitlines()
    lines[1] = lines[1][:10] + "!!!!" + lines[1][14:]  # the PEM frame stays, the body is bad
    broken = {**rsa_service_account, "private_key": "\n".join(lines) + "\n"}
    with pytest.raises(RefreshError, match="'private_key' is missing or not a PEM") as info:
        refresh(cfg, fresh_db, google={"credentials_info": broken})
    seen = str(info.value) + repr(info.value.__cause__) + caplog.text
    assert not [line for line in _key_lines(broken) if line in seen]


# --- two refreshes at once ---------------------------------------------------------------------


def _hold_with_slow_fetch(live, cfg, google, db, results):
    """Start a refresh whose batchGet answers after 1 s; return once it holds the lock."""
    live.fault("slow", times=1, endpoint="batchGet", delay=1.0)
    thread = threading.Thread(target=lambda: results.append(refresh(cfg, db, google=google)))
    thread.start()
    deadline = time.monotonic() + 5
    while live.count("batchGet") == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the first refresh is inside its fetch, holding the lock
    return thread


def test_second_refresh_is_told_one_is_running(live, cfg, google, fresh_db):
    results = []
    first = _hold_with_slow_fetch(live, cfg, google, fresh_db, results)
    with pytest.raises(RefreshBusy, match="already running"):
        refresh(cfg, fresh_db, google=google, wait=0)
    first.join()
    assert results[0].outcome == "new" and live.count("batchGet") == 1


def test_second_refresh_waits_for_the_first(live, cfg, google, fresh_db):
    results = []
    first = _hold_with_slow_fetch(live, cfg, google, fresh_db, results)
    second = refresh(cfg, fresh_db, google=google, wait=10)
    first.join()
    # the second ran only after the first had stored snapshot 1, so it found nothing new
    assert results[0].outcome == "new" and second.outcome == "no_change"
    assert second.snapshot_id == 1 and _state(fresh_db)[2] == 1


# --- the command line --------------------------------------------------------------------------


@pytest.fixture
def study_toml(tmp_path) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(TOML, encoding="utf-8")
    return path


@pytest.fixture
def key_file(tmp_path, rsa_service_account) -> Path:
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(rsa_service_account), encoding="utf-8")
    return path


def test_cli_refresh_with_credentials_option(live, study_toml, key_file, fresh_db, capsys):
    code = cli(
        [
            "refresh",
            "--study",
            str(study_toml),
            "--db",
            str(fresh_db),
            "--credentials",
            str(key_file),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("Snapshot 1 stored")
    assert "4 respondents of 4 invited" in out and live.count() == 3


def test_cli_refresh_with_credentials_from_environment(
    live, study_toml, key_file, fresh_db, monkeypatch, capsys
):
    monkeypatch.setenv("DELPHI_GOOGLE_CREDENTIALS", str(key_file))
    assert cli(["refresh", "--study", str(study_toml), "--db", str(fresh_db)]) == 0
    assert cli(["refresh", "--study", str(study_toml), "--db", str(fresh_db)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "No change: the source matches snapshot 1."


def _cli_process(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DELPHI_", "GOOGLE_"))}
    return subprocess.run(
        [sys.executable, "-m", "lib", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**environ, **env},
    )


def test_cli_process_failing_refresh_prints_reason_not_key(
    live, study_toml, key_file, fresh_db, rsa_service_account
):
    live.fault("403", times=None, endpoint="metadata")
    done = _cli_process(
        ["refresh", "--study", str(study_toml), "--db", str(fresh_db)],
        DELPHI_SHEETS_API_BASE=live.url,
        DELPHI_GOOGLE_CREDENTIALS=str(key_file),
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: fetch failed: Permission denied: share the sheet")
    assert not [ln for ln in _key_lines(rsa_service_account) if ln in done.stderr + done.stdout]


def test_refresh_in_another_process_makes_this_one_wait_or_be_told(
    live, google, study_toml, key_file, fresh_db
):
    cfg = load_config(study_toml)  # the same configuration, so the same content hash
    live.fault("slow", times=1, endpoint="batchGet", delay=1.0)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("DELPHI_", "GOOGLE_"))}
    other = subprocess.Popen(
        [sys.executable, "-m", "lib", "refresh", "--study", str(study_toml), "--db", str(fresh_db)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **environ,
            "DELPHI_SHEETS_API_BASE": live.url,
            "DELPHI_GOOGLE_CREDENTIALS": str(key_file),
        },
    )
    deadline = time.monotonic() + 30
    while live.count("batchGet") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)  # the other process is inside its (slow) fetch, holding the lock
    with pytest.raises(RefreshBusy, match="already running"):
        refresh(cfg, fresh_db, google=google, wait=0)
    waited = refresh(cfg, fresh_db, google=google, wait=30)
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0 and out.startswith("Snapshot 1 stored"), err
    assert waited.outcome == "no_change" and waited.snapshot_id == 1
