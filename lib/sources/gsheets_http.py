"""HTTP for the Google Sheets reader: counted requests, test host mapping, bounded retries.

Transient failures (HTTP 408, 429, 5xx, timeouts, connection errors) are retried with exponential
backoff and full jitter, bounded by ``max_tries`` per request and a total time ``budget`` (no new
try starts past the budget; one already under way may take up to ``timeout`` more).

``$DELPHI_SHEETS_API_BASE`` (e.g. ``http://127.0.0.1:8765``) sends requests meant for Google's
API hosts to that base URL instead: for local demos and tests against ``tests/fake_sheets.py``;
never set it in production.
"""

from __future__ import annotations

import itertools
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import google.auth.transport
import requests
from google.auth.exceptions import RefreshError
from google.oauth2 import service_account

from lib.sources.base import GoogleSheetError
from lib.sources.gsheets_auth import credentials_error

__all__ = [
    "API_BASE_ENV",
    "GOOGLE_HOSTS",
    "RETRY_STATUSES",
    "Attempts",
    "Retryable",
    "SheetsSession",
    "TokenTransport",
    "api_url",
    "bad_response",
    "error_message",
    "fetch_token",
    "refusal",
]

API_BASE_ENV = "DELPHI_SHEETS_API_BASE"
GOOGLE_HOSTS = (
    "https://sheets.googleapis.com",
    "https://oauth2.googleapis.com",
    "https://forms.googleapis.com",  # the write path only (lib.forms)
)
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_OAUTH_RETRYABLE = frozenset({"internal_failure", "server_error", "temporarily_unavailable"})
_BACKOFF_BASE = 1.0  # seconds; the n-th retry waits uniform(0, min(cap, base * 2**(n-1)))
_BACKOFF_CAP = 16.0

_log = logging.getLogger(__name__)
T = TypeVar("T")


class Retryable(Exception):
    """A transient failure worth retrying: HTTP 429/5xx, a timeout or a connection error."""

    def __init__(self, kind: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(kind, status)
        self.kind, self.status, self.retry_after = kind, status, retry_after


def bad_response(what: str, detail: str, service: str = "Google Sheets") -> GoogleSheetError:
    """The error for a body that is truncated, not JSON or not shaped as expected."""
    return GoogleSheetError(
        f"Unexpected response from {service} ({what}): {detail}. Try again in a moment.",
        "bad_response",
    )


def error_message(resp: requests.Response) -> tuple[str, str]:
    """Google's ``error.message`` (cut to 200 characters) and ``error.status`` of a refusal."""
    try:
        error = resp.json().get("error", {})
        return str(error.get("message", ""))[:200], str(error.get("status", ""))
    except (ValueError, AttributeError):
        return resp.text[:200], ""


def refusal(
    resp: requests.Response, what: str, *, service: str, share: str, not_found: str
) -> GoogleSheetError:
    """The coordinator-facing error of a non-retryable 4xx answer, for the read and the write
    path alike: the API not enabled, permission (``share`` says with whom and as what), a
    rejected token, not found, or Google's own message."""
    code, (message, _) = resp.status_code, error_message(resp)
    if code == 403 and ("has not been used" in message or "disabled" in message):
        text = (
            f"The {service} API is not enabled for the service account's Google Cloud "
            f"project: enable it (APIs & Services > Library > {service} API). ({message})"
        )
        return GoogleSheetError(text, "permission")
    if code == 403:
        return GoogleSheetError(f"Permission denied: {share}.", "permission")
    if code == 401:
        return credentials_error("Google rejected the access token; check the service account key")
    if code == 404:
        return GoogleSheetError(not_found, "not_found")
    return GoogleSheetError(f"{service} refused the {what} (HTTP {code}): {message}", "http")


def api_url(url: str) -> str:
    """Map Google's API hosts to ``$DELPHI_SHEETS_API_BASE`` when that is set (demo/tests)."""
    base = os.environ.get(API_BASE_ENV, "").strip().rstrip("/")
    if base:
        for host in GOOGLE_HOSTS:
            if url == host or url.startswith(host + "/"):
                return base + url[len(host) :]
    return url


@dataclass
class Attempts:
    """Shared retry state of one read: the request count, the time budget and the sleeps."""

    budget: float
    max_tries: int
    timeout: float
    sleep: Callable[[float], Any]
    requests: int = 0
    slept: float = 0.0
    started: float = field(default_factory=time.monotonic)
    service: str = "Google Sheets"  # named in messages ("Google Forms" on the write path)

    def run(self, call: Callable[[], T], what: str) -> T:
        """Call ``call`` until it succeeds, retrying transient failures within the limits."""
        for attempt in itertools.count(1):
            try:
                return call()
            except Retryable as exc:
                delay = random.uniform(0, min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 1)))
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, _BACKOFF_CAP))
                spent = max(time.monotonic() - self.started, self.slept)
                if attempt >= self.max_tries or spent + delay > self.budget:
                    raise self._exhausted(exc, what, attempt) from None
                status = f" (HTTP {exc.status})" if exc.status else ""
                _log.warning(
                    "%s %s: %s%s; retry %d of %d in %.1f s",
                    self.service, what, exc.kind, status, attempt, self.max_tries - 1, delay,
                )  # fmt: skip
                self.sleep(delay)
                self.slept += delay
        raise AssertionError("unreachable")  # pragma: no cover

    def _exhausted(self, exc: Retryable, what: str, tries: int) -> GoogleSheetError:
        """The error once retries are used up."""
        n, api = f"{tries} {'try' if tries == 1 else 'tries'}", self.service
        if exc.kind == "quota":
            text = f"{api} quota exceeded; try again in a minute (HTTP 429, {n})."
        elif exc.kind == "server":
            text = f"{api} is not responding (HTTP {exc.status}) after {n}; try later."
        elif exc.kind == "timeout":
            text = (
                f"{api} did not answer within {self.timeout:g} s ({what}) after {n}; "
                "check the internet connection and try again."
            )
        else:
            text = f"Cannot reach {api} ({what}) after {n}; check the internet connection."
        return GoogleSheetError(text, exc.kind)


def _retry_after(resp: requests.Response) -> float | None:
    """The Retry-After header in seconds, if the server sent a numeric one."""
    try:
        return float(resp.headers.get("Retry-After", ""))
    except ValueError:
        return None


def _what(url: str) -> str:
    """Which of the three requests ``url`` is, for messages."""
    if "/v1/forms/" in url:
        return "form"
    if "/v4/spreadsheets/" not in url:
        return "token request"
    return "values" if ":batchGet" in url else "metadata"


def _send(
    session: requests.Session, state: Attempts, method: str, url: str, **kwargs: Any
) -> requests.Response:
    """One counted HTTP request; transient failures raise :class:`Retryable`."""
    state.requests += 1
    try:
        resp = session.request(method, api_url(url), **kwargs)
    except requests.Timeout:
        raise Retryable("timeout") from None
    except requests.ConnectionError:
        raise Retryable("connection") from None
    except requests.RequestException:  # e.g. the body was cut off mid-way
        raise bad_response(_what(url), "the answer was cut off", state.service) from None
    if resp.status_code in RETRY_STATUSES:
        kind = "quota" if resp.status_code == 429 else "server"
        raise Retryable(kind, resp.status_code, _retry_after(resp))
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


class TokenTransport(google.auth.transport.Request):
    """Transport for the token request: counted, bounded, retried by us, not by google-auth."""

    def __init__(self, session: requests.Session, state: Attempts) -> None:
        self._session, self._state = session, state

    def __call__(
        self, url: str, method: str = "GET", body: Any = None, headers: Any = None, **_: Any
    ) -> _TokenResponse:
        """POST to the token endpoint with our timeout; a 429/5xx raises :class:`Retryable`."""
        resp = _send(
            self._session, self._state, method, url,
            data=body, headers=headers, timeout=self._state.timeout,
        )  # fmt: skip
        if resp.status_code != 200 and _oauth_error(resp) & _OAUTH_RETRYABLE:
            raise Retryable("server", resp.status_code)
        return _TokenResponse(resp)


def fetch_token(
    creds: service_account.Credentials, session: requests.Session, st: Attempts
) -> None:
    """Request the access token (JWT-bearer grant) within ``st``'s retries: a refusal becomes
    a credentials error, an answer without a token a ``bad_response`` (read and write path)."""
    transport = TokenTransport(session, st)
    try:
        st.run(lambda: creds.refresh(transport), "token request")
        return
    except RefreshError as exc:
        reason = str(exc.args[0] if exc.args else exc)[:200]
    except (ValueError, TypeError, KeyError):  # google-auth parsing a malformed answer
        raise bad_response("token request", "no access token in the answer", st.service) from None
    raise credentials_error(
        f"the service account key was rejected by Google ({reason}); check that the key is "
        "current (not deleted or disabled) and that 'client_email' and 'token_uri' match it"
    )


def _oauth_error(resp: requests.Response) -> set[str]:
    """The OAuth ``error`` / ``error_description`` codes of a token error response."""
    try:
        body = resp.json()
        return {str(body.get("error", "")), str(body.get("error_description", ""))}
    except (ValueError, AttributeError):
        return set()


class SheetsSession(requests.Session):
    """The session gspread's HTTPClient uses: adds the bearer token and counts requests."""

    def __init__(
        self, inner: requests.Session, creds: service_account.Credentials, state: Attempts
    ) -> None:
        super().__init__()
        self._inner, self._creds, self._state = inner, creds, state

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        """Send through the caller's session with ``Authorization: Bearer <token>``."""
        headers = dict(kwargs.pop("headers", None) or {})
        self._creds.apply(headers)
        return _send(self._inner, self._state, method, url, headers=headers, **kwargs)
