"""Read a Google Sheet (the Google Forms responses of a Delphi study) with gspread.

One read is exactly three HTTP requests, whatever the number of tabs: the service-account token,
one spreadsheet metadata request (title, time zone, tab titles) and one ``values:batchGet`` for
all wanted tabs with ``valueRenderOption=UNFORMATTED_VALUE`` and
``dateTimeRenderOption=SERIAL_NUMBER``.  Transient failures (HTTP 429, 5xx, timeouts, connection
errors) are retried within bounds (``lib.sources.gsheets_http``); everything else becomes a
:class:`GoogleSheetError` whose message tells the coordinator what to do and whose ``kind`` a UI
can branch on.

Environment variables:

* ``DELPHI_GOOGLE_CREDENTIALS`` (or ``GOOGLE_APPLICATION_CREDENTIALS``): path of the service
  account JSON key, used when no credentials are passed in.
* ``DELPHI_SHEETS_API_BASE``: when set (e.g. ``http://127.0.0.1:8765``), requests meant for
  ``https://sheets.googleapis.com`` and ``https://oauth2.googleapis.com`` go to that base URL
  instead.  For local demos and tests against ``tests/fake_sheets.py``; never set it in
  production.

The service account's private key never appears in a message, log line or repr
(``lib.sources.gsheets_auth``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import requests
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from lib.sources.base import GoogleSheetError, RawSource
from lib.sources.gsheets_auth import (
    CREDENTIALS_ENVS,
    SCOPES,
    credentials,
    load_credentials_info,
    service_account_email,
)
from lib.sources.gsheets_http import (
    API_BASE_ENV,
    GOOGLE_HOSTS,
    Attempts,
    SheetsSession,
    api_url,
    bad_response,
    fetch_token,
    refusal,
)

__all__ = [
    "API_BASE_ENV",
    "CREDENTIALS_ENVS",
    "GOOGLE_HOSTS",
    "SCOPES",
    "GoogleSheetError",
    "api_url",
    "load_credentials_info",
    "parse_sheet_key",
    "read_sheet",
    "service_account_email",
]

_METADATA_FIELDS = (
    "properties(title,timeZone),sheets.properties(sheetId,title,index,sheetType,gridProperties)"
)
_KEY_IN_URL = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_KEY_PARAM = re.compile(r"[?&#]key=([A-Za-z0-9_-]+)")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
T = TypeVar("T")


def parse_sheet_key(url_or_key: str) -> str:
    """The spreadsheet key of a Google Sheet URL (``/spreadsheets/d/<key>/``) or bare key."""
    s = (url_or_key or "").strip()
    match = _KEY_IN_URL.search(s) or _KEY_PARAM.search(s)
    if match:
        return match.group(1)
    if _BARE_KEY.fullmatch(s):
        return s
    raise GoogleSheetError(
        "Not a Google Sheet URL or key: paste the address of the sheet "
        "(https://docs.google.com/spreadsheets/d/<key>/edit).",
        "bad_url",
    )


def _api_error(exc: APIError, what: str, email: str) -> GoogleSheetError:
    """Translate a non-retryable Sheets API error into a coordinator-facing message."""
    return refusal(
        exc.response, f"{what} request", service="Google Sheets",
        share=f"share the sheet with {email} as Viewer",
        not_found="Spreadsheet not found: check the URL or key.",
    )  # fmt: skip


def _call(st: Attempts, call: Callable[[], T], what: str, email: str) -> T:
    """Run one Sheets API call with retries and error translation."""
    try:
        return st.run(call, what)
    except APIError as exc:
        error = _api_error(exc, what, email)
    except ValueError:  # the body of a 200 answer is not JSON (or was cut off)
        error = bad_response(what, "the answer is not valid JSON")
    raise error


def _parse_metadata(meta: Any) -> tuple[str, str | None, list[str], list[str]]:
    """Title, time zone, all tab titles and the titles of grid (data) tabs."""
    try:
        props = meta["properties"]
        sheets = [s["properties"] for s in meta.get("sheets", [])]
        all_tabs = [str(p["title"]) for p in sheets]
        grid = [str(p["title"]) for p in sheets if p.get("sheetType", "GRID") == "GRID"]
        return str(props.get("title", "")), props.get("timeZone"), all_tabs, grid
    except (KeyError, TypeError, AttributeError):
        pass
    raise bad_response("metadata", "no spreadsheet properties or tab list")


def _wanted_tabs(
    tabs: list[str] | None, optional: list[str], all_tabs: list[str], grid: list[str]
) -> list[str]:
    """The tabs to fetch: all data tabs, or the requested ones (which must all exist) plus
    those ``optional`` ones the sheet has."""
    if tabs is None:
        return grid
    wanted = list(dict.fromkeys(tabs))
    missing = [t for t in wanted if t not in all_tabs]
    if missing:
        have = ", ".join(repr(t) for t in all_tabs) or "no tabs"
        raise GoogleSheetError(
            f"Tab(s) not found in the sheet: {', '.join(map(repr, missing))}. "
            f"The sheet has: {have}.",
            "missing_tab",
        )
    return list(dict.fromkeys([*wanted, *(t for t in optional if t in all_tabs)]))


def _a1(title: str) -> str:
    """A tab title as an A1 range covering the whole tab (quoted, ``'`` doubled)."""
    return "'" + title.replace("'", "''") + "'"


def _parse_values(body: Any, wanted: list[str]) -> dict[str, list[list[Any]]]:
    """Rows of each wanted tab from a batchGet body (valueRanges are in request order)."""
    try:
        pairs = zip(wanted, body["valueRanges"], strict=True)
        return {t: [list(r) for r in vr.get("values", [])] for t, vr in pairs}
    except (KeyError, TypeError, AttributeError, ValueError):
        pass
    raise bad_response("values", "the value ranges do not match the requested tabs")


def _read(
    key: str,
    tabs: list[str] | None,
    optional: list[str],
    info: dict[str, Any],
    session: requests.Session,
    st: Attempts,
) -> tuple[dict[str, list[list[Any]]], str, str | None, list[str]]:
    """Token, metadata, one batchGet: the tab rows, title, time zone and all tab titles."""
    creds, email = credentials(info), info["client_email"]
    fetch_token(creds, session, st)
    http = HTTPClient(None, session=SheetsSession(session, creds, st))  # type: ignore[arg-type]
    http.set_timeout(st.timeout)
    params = {"includeGridData": "false", "fields": _METADATA_FIELDS}
    meta = _call(st, lambda: http.fetch_sheet_metadata(key, params=dict(params)), "metadata", email)
    title, time_zone, all_tabs, grid = _parse_metadata(meta)
    wanted = _wanted_tabs(tabs, optional, all_tabs, grid)
    if not wanted:
        return {}, title, time_zone, all_tabs
    vparams = {
        "valueRenderOption": "UNFORMATTED_VALUE",
        "dateTimeRenderOption": "SERIAL_NUMBER",
        "majorDimension": "ROWS",
    }
    ranges = [_a1(t) for t in wanted]
    body = _call(
        st, lambda: http.values_batch_get(key, ranges, params=dict(vparams)), "values", email
    )
    return _parse_values(body, wanted), title, time_zone, all_tabs


def read_sheet(
    url_or_key: str,
    tabs: list[str] | None = None,
    *,
    optional_tabs: list[str] | None = None,
    credentials_info: Mapping[str, Any] | str | None = None,
    credentials_file: str | os.PathLike | None = None,
    session: requests.Session | None = None,
    timeout: float = 30,
    budget: float = 60,
    max_tries: int = 5,
    sleep: Callable[[float], Any] = time.sleep,
) -> RawSource:
    """Read ``tabs`` (default: all data tabs) of a Google Sheet in three HTTP requests.

    Every tab in ``tabs`` must exist (else a ``missing_tab`` error lists the tabs the sheet
    has); tabs in ``optional_tabs`` are read only when the sheet has them.
    """
    key = parse_sheet_key(url_or_key)
    info = load_credentials_info(credentials_info, credentials_file)
    st = Attempts(budget=budget, max_tries=max(1, max_tries), timeout=timeout, sleep=sleep)
    own = session is None
    http = requests.Session() if own else session
    try:
        rows, title, time_zone, all_tabs = _read(
            key, tabs, list(optional_tabs or []), info, http, st
        )
    except GoogleSheetError as exc:
        exc.requests = st.requests
        raise
    finally:
        if own:
            http.close()
    return RawSource(
        tabs=rows, source=url_or_key, title=title, time_zone=time_zone,
        all_tabs=all_tabs, requests=st.requests,
    )  # fmt: skip
