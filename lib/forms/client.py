"""HTTP for the write path: the Google Forms API and Sheets writes, with the read path's retries.

Production talks to ``forms.googleapis.com`` and ``sheets.googleapis.com`` over HTTPS through
google-auth and requests (honouring ``REQUESTS_CA_BUNDLE``), exactly as ``lib.sources.gsheets``
reads; ``$DELPHI_SHEETS_API_BASE`` maps those hosts to a local fake for demos and tests.  The
token asks for one write scope only, for the one thing being written (``FORMS_WRITE_SCOPES`` to
fill a form, ``SHEETS_WRITE_SCOPES`` for the Results tab): a refresh never holds either.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from lib.sources.base import GoogleSheetError
from lib.sources.gsheets_auth import credentials, load_credentials_info
from lib.sources.gsheets_http import (
    Attempts,
    SheetsSession,
    bad_response,
    error_message,
    fetch_token,
    refusal,
)

__all__ = ["FORMS_API", "SHEETS_API", "GoogleApi", "WriteError", "parse_form_id"]

FORMS_API = "https://forms.googleapis.com/v1/forms"
SHEETS_API = "https://sheets.googleapis.com/v4/spreadsheets"
_FORM_IN_URL = re.compile(r"/forms/d/([A-Za-z0-9_-]{10,})")
_RESPONDER_URL = re.compile(r"/forms/d/e/")
_BARE_ID = re.compile(r"[A-Za-z0-9_-]{10,}")


class WriteError(GoogleSheetError):
    """A write to Google did not happen, or only in part: ``left`` says what is left behind
    (empty when nothing was changed)."""

    def __init__(self, message: str, kind: str, left: str = "") -> None:
        super().__init__(message, kind)
        self.left = left


def parse_form_id(url_or_id: str) -> str:
    """The form ID of a Google Form's editor address (``/forms/d/<id>/edit``) or a bare ID.

    >>> parse_form_id("https://docs.google.com/forms/d/1AbCdEfGhIjKlMn/edit")
    '1AbCdEfGhIjKlMn'
    """
    s = (url_or_id or "").strip()
    if _RESPONDER_URL.search(s):
        raise WriteError(
            "That is the address panelists answer at (…/forms/d/e/…/viewform): paste the "
            "editor's address instead (…/forms/d/<id>/edit, from the browser's address bar "
            "while editing the form).",
            "bad_url",
        )
    match = _FORM_IN_URL.search(s)
    if match:
        return match.group(1)
    if _BARE_ID.fullmatch(s):
        return s
    raise WriteError(
        "Not a Google Form address or ID: paste the editor's address "
        "(https://docs.google.com/forms/d/<id>/edit).",
        "bad_url",
    )


class GoogleApi:
    """One authorised conversation with a Google API: a token with ``scopes``, then JSON calls
    retried within the read path's bounds (HTTP 429/5xx, timeouts, connection errors)."""

    def __init__(
        self,
        scopes: tuple[str, ...],
        service: str,
        *,
        credentials_info: Mapping[str, Any] | str | None = None,
        credentials_file: str | os.PathLike | None = None,
        session: requests.Session | None = None,
        timeout: float = 30,
        budget: float = 60,
        max_tries: int = 5,
        sleep: Callable[[float], Any] = time.sleep,
    ) -> None:
        self.info = load_credentials_info(credentials_info, credentials_file)
        self.email, self.service = self.info["client_email"], service
        self.state = Attempts(
            budget=budget, max_tries=max(1, max_tries), timeout=timeout, sleep=sleep,
            service=service,
        )  # fmt: skip
        self._own = session is None
        self._http = requests.Session() if session is None else session
        self._creds = credentials(self.info, scopes)
        self._authed: SheetsSession | None = None

    def close(self) -> None:
        """Close the HTTP session if this object opened it."""
        if self._own:
            self._http.close()

    def __enter__(self) -> GoogleApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _session(self) -> SheetsSession:
        """The session that adds the bearer token (fetched on first use)."""
        if self._authed is None:
            fetch_token(self._creds, self._http, self.state)  # as the read path does
            self._authed = SheetsSession(self._http, self._creds, self.state)
        return self._authed

    def call(
        self,
        method: str,
        url: str,
        what: str,
        *,
        body: Any = None,
        params: dict[str, str] | None = None,
        on_403: str = "",
    ) -> Any:
        """One API call's JSON answer; a refusal becomes a :class:`WriteError` saying why."""
        session = self._session()

        def once() -> requests.Response:
            return session.request(
                method, url, json=body, params=params, timeout=self.state.timeout
            )

        resp = self.state.run(once, what)
        if resp.status_code >= 400:
            raise self._refused(resp, what, on_403)
        try:
            return resp.json()
        except ValueError:
            raise bad_response(what, "the answer is not valid JSON", self.service) from None

    def _refused(self, resp: requests.Response, what: str, on_403: str) -> WriteError:
        """The coordinator-facing error of a 4xx answer (shared with the read path but for a
        write that ``writeControl`` refused)."""
        message, status = error_message(resp)
        if status == "FAILED_PRECONDITION":  # writeControl.requiredRevisionId no longer holds
            return WriteError(f"{self.service} refused the {what}: {message}", "conflict")
        err = refusal(
            resp, what, service=self.service,
            share=on_403 or f"share it with {self.email} as Editor",
            not_found=f"Not found ({what}): check the address.",
        )  # fmt: skip
        return WriteError(str(err), err.kind)
