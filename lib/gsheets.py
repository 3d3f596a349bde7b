"""Read a Google Sheet (the Google Forms responses of a Delphi study) with gspread.

One read is exactly three HTTP requests, whatever the number of tabs: the service-account token,
one spreadsheet metadata request (title, time zone, tab titles) and one ``values:batchGet`` for
all wanted tabs with ``valueRenderOption=UNFORMATTED_VALUE`` and
``dateTimeRenderOption=SERIAL_NUMBER``.  Transient failures (HTTP 429, 5xx, timeouts, connection
errors) are retried with exponential backoff and full jitter, bounded by ``max_tries`` per request
and a total time ``budget`` (no new try starts past the budget; one already under way may take up
to ``timeout`` more).  Everything else becomes a :class:`GoogleSheetError` whose message
tells the coordinator what to do and whose ``kind`` a UI can branch on.

Environment variables:

* ``DELPHI_GOOGLE_CREDENTIALS`` (or ``GOOGLE_APPLICATION_CREDENTIALS``): path of the service
  account JSON key, used when no credentials are passed in.
* ``DELPHI_SHEETS_API_BASE``: when set (e.g. ``http://127.0.0.1:8765``), requests meant for
  ``https://sheets.googleapis.com`` and ``https://oauth2.googleapis.com`` go to that base URL
  instead.  For local demos and tests against ``tests/fake_sheets.py``; never set it in
  production.

The service account's private key never appears in a message, log line or repr.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import google.auth.transport
import requests
from google.auth.exceptions import RefreshError
from google.oauth2 import service_account
from gspread.exceptions import APIError
from gspread.http_client import HTTPClient

from lib.sources import RawSource, SourceError

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

SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)
API_BASE_ENV = "DELPHI_SHEETS_API_BASE"
CREDENTIALS_ENVS = ("DELPHI_GOOGLE_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS")
GOOGLE_HOSTS = ("https://sheets.googleapis.com", "https://oauth2.googleapis.com")
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_OAUTH_RETRYABLE = frozenset({"internal_failure", "server_error", "temporarily_unavailable"})
_METADATA_FIELDS = (
    "properties(title,timeZone),sheets.properties(sheetId,title,index,sheetType,gridProperties)"
)
_BACKOFF_BASE = 1.0  # seconds; the n-th retry waits uniform(0, min(cap, base * 2**(n-1)))
_BACKOFF_CAP = 16.0
_KEY_IN_URL = re.compile(r"/spreadsheets/d/([A-Za-z0-9_-]+)")
_KEY_PARAM = re.compile(r"[?&#]key=([A-Za-z0-9_-]+)")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")

_log = logging.getLogger(__name__)
T = TypeVar("T")


class GoogleSheetError(SourceError):
    """A Google Sheet could not be read; ``kind`` says why, ``requests`` how many were made.

    Kinds: ``bad_url``, ``credentials``, ``permission``, ``not_found``, ``missing_tab``,
    ``quota``, ``server``, ``timeout``, ``connection``, ``bad_response``, ``http``.
    """

    def __init__(self, message: str, kind: str, requests: int = 0) -> None:
        super().__init__(message)
        self.kind = kind
        self.requests = requests


class _Retryable(Exception):
    """A transient failure worth retrying: HTTP 429/5xx, a timeout or a connection error."""

    def __init__(self, kind: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(kind, status)
        self.kind, self.status, self.retry_after = kind, status, retry_after


def _bad_response(what: str, detail: str) -> GoogleSheetError:
    """The error for a body that is truncated, not JSON or not shaped as expected."""
    return GoogleSheetError(
        f"Unexpected response from Google Sheets ({what}): {detail}. Try again in a moment.",
        "bad_response",
    )


def api_url(url: str) -> str:
    """Map Google's API hosts to ``$DELPHI_SHEETS_API_BASE`` when that is set (demo/tests)."""
    base = os.environ.get(API_BASE_ENV, "").strip().rstrip("/")
    if base:
        for host in GOOGLE_HOSTS:
            if url == host or url.startswith(host + "/"):
                return base + url[len(host) :]
    return url


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


# --- credentials ---------------------------------------------------------------------------


def _cred_error(problem: str) -> GoogleSheetError:
    """A credentials error whose text names the problem (never the key itself)."""
    return GoogleSheetError(f"Service account credentials: {problem}", "credentials")


def _read_info(
    credentials_info: Mapping[str, Any] | str | None, credentials_file: str | os.PathLike | None
) -> Any:
    """The raw credentials object: given, read from ``credentials_file`` or the env vars."""
    if credentials_info is not None:
        if not isinstance(credentials_info, str):
            return credentials_info
        text, origin = credentials_info, "the credentials text"
    else:
        path = credentials_file or next(
            (os.environ[e] for e in CREDENTIALS_ENVS if os.environ.get(e)), None
        )
        if not path:
            raise _cred_error(
                "none configured: pass the service account JSON key, or set "
                f"{CREDENTIALS_ENVS[0]} to the path of the key file"
            )
        try:
            text, origin = Path(path).read_text(encoding="utf-8"), f"key file {path}"
        except OSError:
            raise _cred_error(f"key file {path} not found or not readable") from None
    try:
        return json.loads(text)
    except ValueError:
        pass
    raise _cred_error(f"{origin} is not valid JSON (download the key again as JSON)")


def _check_info(info: Any) -> dict[str, Any]:
    """Validate the service-account fields; returns a copy with the key's newlines fixed."""
    if not isinstance(info, Mapping):
        raise _cred_error("expected a JSON object (the service account key file)")
    info = dict(info)
    kind = info.get("type")
    if kind != "service_account":
        shown = repr(kind) if isinstance(kind, str) and len(kind) <= 40 else "something else"
        raise _cred_error(f"type must be 'service_account' (got {shown})")
    email = info.get("client_email")
    if not isinstance(email, str) or "@" not in email:
        raise _cred_error("field 'client_email' is missing or not an e-mail address")
    key = info.get("private_key")
    if not isinstance(key, str) or "-----BEGIN" not in key or "PRIVATE KEY-----" not in key:
        raise _cred_error("field 'private_key' is missing or not a PEM private key")
    if "\\n" in key and "\n" not in key:  # pasted with literal \n (e.g. from secrets.toml)
        info["private_key"] = key.replace("\\n", "\n")
    uri = info.get("token_uri")
    if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
        raise _cred_error("field 'token_uri' is missing or not a URL")
    return info


def load_credentials_info(
    credentials_info: Mapping[str, Any] | str | None = None,
    credentials_file: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Validated service-account info from a dict/JSON text, a key file or the env vars."""
    return _check_info(_read_info(credentials_info, credentials_file))


def service_account_email(
    credentials_info: Mapping[str, Any] | str | None = None,
    credentials_file: str | os.PathLike | None = None,
) -> str:
    """The ``client_email`` to share the sheet with (as Viewer)."""
    return load_credentials_info(credentials_info, credentials_file)["client_email"]


def _credentials(info: dict[str, Any]) -> service_account.Credentials:
    """google-auth credentials with the read-only Sheets scope."""
    try:
        creds = service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES))
    except Exception:  # key parsing raises ValueError/TypeError/UnsupportedAlgorithm
        creds = None  # raised outside the except block: no exception context carries the key
    if creds is None:
        raise _cred_error("field 'private_key' is missing or not a PEM private key")
    return creds


# --- HTTP: counting, host mapping, classification, bounded retry ---------------------------


@dataclass
class _Attempts:
    """Shared retry state of one read: the request count, the time budget and the sleeps."""

    budget: float
    max_tries: int
    timeout: float
    sleep: Callable[[float], Any]
    requests: int = 0
    slept: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def run(self, call: Callable[[], T], what: str) -> T:
        """Call ``call`` until it succeeds, retrying transient failures within the limits."""
        for attempt in itertools.count(1):
            try:
                return call()
            except _Retryable as exc:
                delay = random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1)))
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, _BACKOFF_CAP))
                spent = max(time.monotonic() - self.started, self.slept)
                if attempt >= self.max_tries or spent + delay > self.budget:
                    raise self._exhausted(exc, what, attempt) from None
                status = f" (HTTP {exc.status})" if exc.status else ""
                _log.warning(
                    "Google Sheets %s: %s%s; retry %d of %d in %.1f s",
                    what, exc.kind, status, attempt, self.max_tries - 1, delay,
                )  # fmt: skip
                self.sleep(delay)
                self.slept += delay
        raise AssertionError("unreachable")  # pragma: no cover

    def _exhausted(self, exc: _Retryable, what: str, tries: int) -> GoogleSheetError:
        """The error once retries are used up."""
        n = f"{tries} {'try' if tries == 1 else 'tries'}"
        if exc.kind == "quota":
            text = f"Google Sheets quota exceeded; try again in a minute (HTTP 429, {n})."
        elif exc.kind == "server":
            text = f"Google Sheets is not responding (HTTP {exc.status}) after {n}; try later."
        elif exc.kind == "timeout":
            text = (
                f"Google Sheets did not answer within {self.timeout:g} s ({what}) after {n}; "
                "check the internet connection and try again."
            )
        else:
            text = f"Cannot reach Google Sheets ({what}) after {n}; check the internet connection."
        return GoogleSheetError(text, exc.kind)


def _retry_after(resp: requests.Response) -> float | None:
    """The Retry-After header in seconds, if the server sent a numeric one."""
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _what(url: str) -> str:
    """Which of the three requests ``url`` is, for messages."""
    if "/v4/spreadsheets/" not in url:
        return "token request"
    return "values" if ":batchGet" in url else "metadata"


def _send(
    session: requests.Session, state: _Attempts, method: str, url: str, **kwargs: Any
) -> requests.Response:
    """One counted HTTP request; transient failures raise :class:`_Retryable`."""
    state.requests += 1
    try:
        resp = session.request(method, api_url(url), **kwargs)
    except requests.Timeout:
        raise _Retryable("timeout") from None
    except requests.ConnectionError:
        raise _Retryable("connection") from None
    except requests.RequestException:  # e.g. the body was cut off mid-way
        raise _bad_response(_what(url), "the answer was cut off") from None
    if resp.status_code in RETRY_STATUSES:
        kind = "quota" if resp.status_code == 429 else "server"
        raise _Retryable(kind, resp.status_code, _retry_after(resp))
    return resp


class _TokenResponse(google.auth.transport.Response):
    """google-auth's view of a token endpoint response."""

    def __init__(self, resp: requests.Response) -> None:
        self._resp = resp

    @property
    def status(self) -> int:
        """HTTP status."""
        return self._resp.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        """Response headers."""
        return self._resp.headers

    @property
    def data(self) -> bytes:
        """Response body."""
        return self._resp.content


class _TokenTransport(google.auth.transport.Request):
    """Transport for the token request: counted, bounded, retried by us, not by google-auth."""

    def __init__(self, session: requests.Session, state: _Attempts) -> None:
        self._session, self._state = session, state

    def __call__(
        self, url: str, method: str = "GET", body: Any = None, headers: Any = None, **_: Any
    ) -> _TokenResponse:
        """POST to the token endpoint with our timeout; a 429/5xx raises :class:`_Retryable`."""
        resp = _send(
            self._session, self._state, method, url,
            data=body, headers=headers, timeout=self._state.timeout,
        )  # fmt: skip
        if resp.status_code != 200 and _oauth_error(resp) & _OAUTH_RETRYABLE:
            raise _Retryable("server", resp.status_code)
        return _TokenResponse(resp)


def _oauth_error(resp: requests.Response) -> set[str]:
    """The OAuth ``error`` / ``error_description`` codes of a token error response."""
    try:
        body = resp.json()
        return {str(body.get("error", "")), str(body.get("error_description", ""))}
    except (ValueError, AttributeError):
        return set()


class _SheetsSession(requests.Session):
    """The session gspread's HTTPClient uses: adds the bearer token and counts requests."""

    def __init__(
        self, inner: requests.Session, creds: service_account.Credentials, state: _Attempts
    ) -> None:
        super().__init__()
        self._inner, self._creds, self._state = inner, creds, state

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send through the caller's session with ``Authorization: Bearer <token>``."""
        headers = dict(kwargs.pop("headers", None) or {})
        self._creds.apply(headers)
        return _send(self._inner, self._state, method, url, headers=headers, **kwargs)


# --- the three requests --------------------------------------------------------------------


def _fetch_token(
    creds: service_account.Credentials, session: requests.Session, st: _Attempts
) -> None:
    """Request the access token (JWT-bearer grant), mapping refusals to credential errors."""
    transport = _TokenTransport(session, st)
    try:
        st.run(lambda: creds.refresh(transport), "token request")
        return
    except RefreshError as exc:
        reason = str(exc.args[0] if exc.args else exc)[:200]
    except (ValueError, TypeError, KeyError):
        raise _bad_response("token request", "no access token in the answer") from None
    raise _cred_error(
        f"the service account key was rejected by Google ({reason}); check that the key is "
        "current (not deleted or disabled) and that 'client_email' and 'token_uri' match it"
    )


def _api_error(exc: APIError, what: str, email: str) -> GoogleSheetError:
    """Translate a non-retryable Sheets API error into a coordinator-facing message."""
    code = exc.response.status_code
    message = str(exc.error.get("message", ""))[:200] if isinstance(exc.error, dict) else ""
    if code == 403 and ("has not been used" in message or "disabled" in message):
        text = (
            "The Google Sheets API is not enabled for the service account's Google Cloud "
            f"project: enable it (APIs & Services > Library > Google Sheets API). ({message})"
        )
        return GoogleSheetError(text, "permission")
    if code == 403:
        return GoogleSheetError(
            f"Permission denied: share the sheet with {email} as Viewer.", "permission"
        )
    if code == 404:
        return GoogleSheetError("Spreadsheet not found: check the URL or key.", "not_found")
    if code == 401:
        return _cred_error("Google rejected the access token; check the service account key")
    return GoogleSheetError(f"Google Sheets refused the {what} request: {message}", "http")


def _call(st: _Attempts, call: Callable[[], T], what: str, email: str) -> T:
    """Run one Sheets API call with retries and error translation."""
    try:
        return st.run(call, what)
    except APIError as exc:
        error = _api_error(exc, what, email)
    except ValueError:  # the body of a 200 answer is not JSON (or was cut off)
        error = _bad_response(what, "the answer is not valid JSON")
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
    raise _bad_response("metadata", "no spreadsheet properties or tab list")


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
    raise _bad_response("values", "the value ranges do not match the requested tabs")


def _read(
    key: str,
    tabs: list[str] | None,
    optional: list[str],
    info: dict[str, Any],
    session: requests.Session,
    st: _Attempts,
) -> tuple[dict[str, list[list[Any]]], str, str | None, list[str]]:
    """Token, metadata, one batchGet: the tab rows, title, time zone and all tab titles."""
    creds, email = _credentials(info), info["client_email"]
    _fetch_token(creds, session, st)
    http = HTTPClient(None, session=_SheetsSession(session, creds, st))  # type: ignore[arg-type]
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
    st = _Attempts(budget=budget, max_tries=max(1, max_tries), timeout=timeout, sleep=sleep)
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
