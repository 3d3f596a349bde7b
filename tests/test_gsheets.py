"""lib.sources.gsheets against the local fake Sheets API: real gspread + google-auth over HTTP."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from lib.sources import RawSource, SourceError, gsheets, read_source
from lib.sources.gsheets import GoogleSheetError, parse_sheet_key, read_sheet, service_account_email
from tests.fake_sheets import (
    SMALL_TABS,
    FakeSheets,
    fake_session,
    generate_service_account,
    tabs_from_workbook,
    to_serial,
)

# The fixtures (fake_sheets, rsa_service_account, google_session, ...): idempotent if
# tests/conftest.py also lists this plugin.
pytest_plugins = ["tests.conftest_gsheets"]


class Sleeps(list):
    """A fake ``sleep`` that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def read(fake_sheets, rsa_service_account, google_session):
    """``read_sheet`` bound to the fake, with recorded (not real) sleeps."""
    sleeps = Sleeps()

    def _read(source: str | None = None, tabs=None, **kw: Any) -> RawSource:
        kw = {"credentials_info": rsa_service_account, "session": google_session, **kw}
        return read_sheet(source or fake_sheets.sheet_url, tabs, sleep=sleeps, **kw)

    _read.sleeps = sleeps
    return _read


def _fails(read, *args: Any, **kw: Any) -> GoogleSheetError:
    """The GoogleSheetError a read raises."""
    with pytest.raises(GoogleSheetError) as info:
        read(*args, **kw)
    return info.value


# --- happy path ----------------------------------------------------------------------------


def test_reads_all_tabs_title_and_time_zone(read, fake_sheets):
    raw = read()
    assert isinstance(raw, RawSource)
    assert raw.title == "Isotretinoin Delphi (responses)"
    assert raw.time_zone == "Europe/Rome"
    assert raw.all_tabs == ["Round 1", "Round 2", "Panel", "Empty"]
    assert list(raw.tabs) == raw.all_tabs
    assert raw.tabs["Round 1"][1] == [46266.375, "a@x.example", "Agree", "Sensible"]
    assert raw.tabs["Round 1"][3] == [46267.5, "c@x.example", 4]  # trailing "" dropped
    assert raw.tabs["Round 2"] == SMALL_TABS["Round 2"]
    assert raw.tabs["Empty"] == []  # no "values" key in the valueRange
    assert raw.source == fake_sheets.sheet_url
    assert raw.requests == 3


def test_requests_are_token_metadata_and_one_unformatted_batch_get(read, fake_sheets):
    read()
    key = fake_sheets.key
    assert fake_sheets.requests == [
        ("POST", "/token"),
        ("GET", f"/v4/spreadsheets/{key}"),
        ("GET", f"/v4/spreadsheets/{key}/values:batchGet"),
    ]
    query = fake_sheets.log[-1]["query"]
    assert query["valueRenderOption"] == ["UNFORMATTED_VALUE"]
    assert query["dateTimeRenderOption"] == ["SERIAL_NUMBER"]
    assert query["ranges"] == ["'Round 1'", "'Round 2'", "'Panel'", "'Empty'"]
    assert fake_sheets.scopes == ["https://www.googleapis.com/auth/spreadsheets.readonly"]


@pytest.mark.parametrize("rounds", [1, 3, 10])
def test_three_requests_whatever_the_number_of_tabs(read, fake_sheets, rounds):
    fake_sheets.tabs = {
        f"Round {i}": [["Timestamp", "S01"], [46266 + i, "Agree"]] for i in range(1, rounds + 1)
    }
    raw = read()
    assert raw.requests == 3 == fake_sheets.count()
    assert fake_sheets.count("batchGet") == 1
    assert len(raw.tabs) == rounds
    assert raw.tabs[f"Round {rounds}"] == [["Timestamp", "S01"], [46266 + rounds, "Agree"]]


def test_subset_of_tabs_fetches_only_those_in_one_batch_get(read, fake_sheets):
    raw = read(tabs=["Round 2", "Panel", "Round 2"])
    assert list(raw.tabs) == ["Round 2", "Panel"]
    assert raw.all_tabs == ["Round 1", "Round 2", "Panel", "Empty"]
    assert fake_sheets.count("batchGet") == 1
    assert fake_sheets.log[-1]["query"]["ranges"] == ["'Round 2'", "'Panel'"]
    assert raw.requests == 3


def test_tab_names_with_quotes_and_bang(read, fake_sheets):
    fake_sheets.tabs = {"Dr's round!": [["a", 1]], "Plain": [["b"]]}
    raw = read(tabs=["Dr's round!"])
    assert raw.tabs == {"Dr's round!": [["a", 1]]}
    assert fake_sheets.log[-1]["query"]["ranges"] == ["'Dr''s round!'"]


@pytest.mark.parametrize("form", ["url", "url_no_edit", "key", "old_url"])
def test_url_and_bare_key_both_accepted(read, fake_sheets, form):
    key = fake_sheets.key
    source = {
        "url": fake_sheets.sheet_url,
        "url_no_edit": f"https://docs.google.com/spreadsheets/d/{key}",
        "key": key,
        "old_url": f"https://docs.google.com/spreadsheet/ccc?key={key}&usp=sharing",
    }[form]
    raw = read(source)
    assert raw.source == source
    assert raw.title == "Isotretinoin Delphi (responses)"


def test_read_source_dispatches_to_gsheets(fake_sheets, rsa_service_account, google_session):
    raw = read_source(
        fake_sheets.sheet_url, ["Panel"],
        credentials_info=rsa_service_account, session=google_session,
    )  # fmt: skip
    assert raw.tabs == {"Panel": SMALL_TABS["Panel"]}
    assert raw.requests == 3


# --- retries -------------------------------------------------------------------------------


def test_429_twice_then_success_is_retried(read, fake_sheets):
    fake_sheets.fault("429", times=2, endpoint="batchGet")
    raw = read()
    assert raw.tabs["Panel"] == SMALL_TABS["Panel"]
    assert raw.requests == 5 == fake_sheets.count()
    assert fake_sheets.count("batchGet") == 3
    assert len(read.sleeps) == 2
    assert read.sleeps[0] <= 1.0 and read.sleeps[1] <= 2.0  # full jitter, exponential caps


def test_token_endpoint_503_is_retried_by_us_not_google_auth(read, fake_sheets):
    fake_sheets.fault("503", times=2, endpoint="token")
    started = time.monotonic()
    raw = read()
    assert time.monotonic() - started < 2  # google-auth's own (sleeping) retry loop not used
    assert raw.requests == 5 and fake_sheets.count("token") == 3
    assert len(read.sleeps) == 2


def test_429_forever_gives_quota_message_after_bounded_tries(read, fake_sheets):
    fake_sheets.fault("429", times=None, endpoint="metadata")
    err = _fails(read, max_tries=4)
    assert err.kind == "quota"
    assert "quota exceeded; try again in a minute" in str(err)
    assert fake_sheets.count("metadata") == 4
    assert err.requests == 5  # token + 4 metadata tries
    assert len(read.sleeps) == 3


def test_429_forever_stops_within_the_time_budget(read, fake_sheets):
    random.seed(7)
    fake_sheets.fault("429", times=None, endpoint="metadata")
    err = _fails(read, max_tries=100, budget=3)
    assert err.kind == "quota"
    assert sum(read.sleeps) <= 3
    assert fake_sheets.count("metadata") < 100


@pytest.mark.parametrize("status", ["500", "503"])
def test_server_errors_retried_then_reported(read, fake_sheets, status):
    fake_sheets.fault(status, times=None, endpoint="batchGet")
    err = _fails(read, max_tries=3)
    assert err.kind == "server"
    assert f"Google Sheets is not responding (HTTP {status}) after 3 tries" in str(err)
    assert fake_sheets.count("batchGet") == 3 and err.requests == 5


def test_server_error_once_then_success(read, fake_sheets):
    fake_sheets.fault("500", times=1, endpoint="metadata")
    assert read().requests == 4


def test_connection_reset_is_retried(read, fake_sheets):
    fake_sheets.fault("reset", times=1, endpoint="metadata")
    raw = read()
    assert raw.requests == 4 and len(read.sleeps) == 1


def test_slow_answer_times_out_after_retries(read, fake_sheets):
    fake_sheets.fault("slow", times=None, endpoint="metadata", delay=1.5)
    started = time.monotonic()
    err = _fails(read, timeout=0.5, max_tries=2)
    assert time.monotonic() - started < 3  # 2 tries x 0.5 s, not 2 x 1.5 s
    assert err.kind == "timeout"
    assert "did not answer within 0.5 s" in str(err) and "after 2 tries" in str(err)
    assert err.requests == 3


# --- errors the coordinator can act on -----------------------------------------------------


def test_403_says_share_with_the_service_account_as_viewer(read, fake_sheets, rsa_service_account):
    fake_sheets.fault("403", endpoint="metadata")
    err = _fails(read)
    assert err.kind == "permission"
    assert rsa_service_account["client_email"] in str(err)
    assert "Viewer" in str(err)
    assert err.requests == 2 and not read.sleeps  # not retried


@pytest.mark.parametrize("how", ["fault", "unknown_key"])
def test_404_says_check_the_url(read, fake_sheets, how):
    if how == "fault":
        fake_sheets.fault("404", endpoint="metadata")
        err = _fails(read)
    else:
        err = _fails(read, "https://docs.google.com/spreadsheets/d/1NoSuchSheetKey0123456789/edit")
    assert err.kind == "not_found"
    assert "check the URL" in str(err)
    assert isinstance(err, SourceError)


def test_missing_tab_lists_existing_tabs(read, fake_sheets):
    err = _fails(read, tabs=["Round 1", "Round 3"])
    assert err.kind == "missing_tab"
    assert "'Round 3'" in str(err)
    for tab in ("'Round 1'", "'Round 2'", "'Panel'", "'Empty'"):
        assert tab in str(err).split("The sheet has:")[1]
    assert err.requests == 2 and fake_sheets.count("batchGet") == 0


@pytest.mark.parametrize("kind", ["truncated", "not_json"])
@pytest.mark.parametrize("endpoint", ["metadata", "batchGet", "token"])
def test_truncated_or_non_json_body_is_bad_response(read, fake_sheets, kind, endpoint):
    fake_sheets.fault(kind, endpoint=endpoint)
    err = _fails(read)
    assert err.kind == "bad_response"
    assert "unexpected response from google sheets" in str(err).lower()


def test_sheets_401_is_a_credentials_error(read, fake_sheets):
    fake_sheets.fault("401", endpoint="metadata")
    assert _fails(read).kind == "credentials"


# --- credentials ---------------------------------------------------------------------------


def _assert_no_key(err: BaseException, pem: str) -> None:
    """No line of the private key's body appears in the error, its repr or its chain."""
    body = [ln for ln in pem.splitlines() if ln and "-----" not in ln]
    seen = [str(err), repr(err)]
    for linked in (err.__cause__, err.__context__):
        if linked is not None:
            seen += [str(linked), repr(linked), repr(getattr(linked, "doc", ""))]
    for text in seen:
        assert not any(ln in text for ln in body)


def _garbled(pem: str) -> str:
    """A PEM whose base64 body is damaged in the middle."""
    lines = pem.splitlines()
    lines[5] = lines[5][::-1]
    return "\n".join(lines[:12] + lines[14:]) + "\n"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"private_key": None}, "'private_key'"),
        ({"type": "authorized_user"}, "type must be 'service_account'"),
        ({"private_key": "not a key"}, "'private_key'"),
        ({"private_key": "GARBLED"}, "'private_key'"),
        ({"client_email": None}, "'client_email'"),
        ({"token_uri": "nowhere"}, "'token_uri'"),
    ],
)
def test_bad_credentials_name_the_field_and_never_show_the_key(
    read, fake_sheets, rsa_service_account, change, field
):
    pem = rsa_service_account["private_key"]
    info = dict(rsa_service_account)
    for name, value in change.items():
        if value is None:
            info.pop(name)
        else:
            info[name] = _garbled(pem) if value == "GARBLED" else value
    err = _fails(read, credentials_info=info)
    assert err.kind == "credentials"
    assert field in str(err)
    _assert_no_key(err, pem)
    _assert_no_key(err, info.get("private_key") or pem)
    assert fake_sheets.count() == 0 and err.requests == 0


def test_invalid_json_credentials_text_does_not_leak_the_key(read, rsa_service_account):
    text = json.dumps(rsa_service_account)[:-5]
    err = _fails(read, credentials_info=text)
    assert err.kind == "credentials" and "not valid JSON" in str(err)
    _assert_no_key(err, rsa_service_account["private_key"])


def test_token_endpoint_invalid_grant_is_a_credentials_error(read, fake_sheets):
    other = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # not the fake's
    info, _ = generate_service_account(fake_sheets.token_uri, other)
    err = _fails(read, credentials_info=info)
    assert err.kind == "credentials"
    assert "the service account key was rejected" in str(err)
    assert "invalid_grant" in str(err)
    assert err.requests == 1 and fake_sheets.count("metadata") == 0
    _assert_no_key(err, info["private_key"])


def test_injected_invalid_grant(read, fake_sheets):
    fake_sheets.fault("invalid_grant", endpoint="token")
    assert "rejected" in str(_fails(read))


def test_private_key_with_literal_backslash_n_is_accepted(read, rsa_service_account):
    info = dict(rsa_service_account)
    info["private_key"] = info["private_key"].replace("\n", "\\n")
    assert read(credentials_info=info).requests == 3


def test_credentials_from_file_and_env(read, rsa_service_account, tmp_path, monkeypatch):
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(rsa_service_account))
    assert read(credentials_info=None, credentials_file=str(path)).requests == 3
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("DELPHI_GOOGLE_CREDENTIALS", str(path))
    assert read(credentials_info=None).requests == 3
    monkeypatch.delenv("DELPHI_GOOGLE_CREDENTIALS")
    err = _fails(read, credentials_info=None)
    assert err.kind == "credentials" and "DELPHI_GOOGLE_CREDENTIALS" in str(err)
    err = _fails(read, credentials_info=None, credentials_file=str(tmp_path / "missing.json"))
    assert "not found" in str(err)


def test_service_account_email(rsa_service_account):
    assert service_account_email(rsa_service_account) == rsa_service_account["client_email"]
    with pytest.raises(GoogleSheetError, match="client_email"):
        service_account_email({**rsa_service_account, "client_email": "nobody"})


# --- host mapping, key parsing, the fake itself --------------------------------------------


def test_env_api_base_redirects_google_hosts(fake_sheets, rsa_private_key, monkeypatch):
    info, _ = generate_service_account("https://oauth2.googleapis.com/token", rsa_private_key)
    monkeypatch.setenv(gsheets.API_BASE_ENV, fake_sheets.url + "/")
    raw = read_sheet(fake_sheets.key, ["Panel"], credentials_info=info)  # a plain session
    assert raw.tabs == {"Panel": SMALL_TABS["Panel"]}
    assert fake_sheets.count("token") == 1
    assert gsheets.api_url("https://example.com/x") == "https://example.com/x"


def test_api_url_without_env_is_unchanged(monkeypatch):
    monkeypatch.delenv(gsheets.API_BASE_ENV, raising=False)
    url = "https://sheets.googleapis.com/v4/spreadsheets/k"
    assert gsheets.api_url(url) == url


@pytest.mark.parametrize(
    ("source", "key"),
    [
        ("https://docs.google.com/spreadsheets/d/1AbC-_9/edit#gid=0", "1AbC-_9"),
        ("https://docs.google.com/spreadsheets/d/1AbC-_9", "1AbC-_9"),
        ("  1AbC-_9  ", "1AbC-_9"),
        ("https://docs.google.com/spreadsheet/ccc?key=0Bm9&hl=en", "0Bm9"),
    ],
)
def test_parse_sheet_key(source, key):
    assert parse_sheet_key(source) == key


@pytest.mark.parametrize("source", ["https://example.com/not-a-sheet", "", "a b"])
def test_parse_sheet_key_rejects_non_sheets(source):
    with pytest.raises(GoogleSheetError) as info:
        parse_sheet_key(source)
    assert info.value.kind == "bad_url"


def test_fake_rejects_missing_token(fake_sheets):
    session = fake_session(fake_sheets.url)
    resp = session.get(f"https://sheets.googleapis.com/v4/spreadsheets/{fake_sheets.key}")
    assert resp.status_code == 401
    assert resp.json()["error"]["status"] == "UNAUTHENTICATED"


def test_tabs_from_workbook_gives_serial_numbers(tmp_path, rsa_private_key):
    import datetime as dt

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Round 1"
    ws.append(["Timestamp", "S01", None])
    ws.append([dt.datetime(2026, 9, 1, 9, 0), 4.0, None])
    ws.append([dt.date(2026, 9, 2), "Agree"])
    ws.append([None, None])
    path = tmp_path / "study.xlsx"
    wb.save(path)
    tabs = tabs_from_workbook(path)
    assert tabs == {"Round 1": [["Timestamp", "S01"], [46266.375, 4], [46267, "Agree"]]}
    assert to_serial(dt.datetime(1899, 12, 31)) == 1
    with FakeSheets(workbook=path, public_keys=[rsa_private_key.public_key()]) as fake:
        info, _ = generate_service_account(fake.token_uri, rsa_private_key)
        raw = read_sheet(fake.key, credentials_info=info, session=fake_session(fake.url))
    assert raw.tabs == tabs
