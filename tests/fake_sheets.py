"""A small fake of the Google Sheets API v4 and Forms API v1 (plus Google's OAuth token endpoint)
on 127.0.0.1.

Endpoints (only the spreadsheet ``key`` it was created with, and forms added with
:meth:`FakeSheets.add_form`, exist):

* ``POST /token`` - JWT-bearer grant; checks the signature when public keys are known.
* ``GET /v4/spreadsheets/{key}`` - metadata: title, timeZone, tab titles and sheet ids.
* ``GET /v4/spreadsheets/{key}/values:batchGet?ranges=...`` - values of the ranges, in order.
* ``POST /v4/spreadsheets/{key}:batchUpdate`` - addSheet, deleteSheet, updateSheetProperties
  (title), all or none; needs the ``spreadsheets`` scope and ``sheet_editor`` (else 403).
* ``POST /v4/spreadsheets/{key}/values:batchUpdate`` - values from A1 of each range's tab.
* ``GET /v1/forms/{id}`` - the form: info, revisionId, responderUri, items.
* ``POST /v1/forms/{id}:batchUpdate`` - createItem (choice, scale, text/paragraph questions and
  grids, with the item and question ids it assigns) and updateFormInfo, all or none; honours
  ``writeControl.requiredRevisionId``; needs the ``forms.body`` scope and the form shared as
  editor (else 403).

:meth:`FakeSheets.submit` answers a form into a tab shaped as Google Forms' linked sheet.
Every endpoint but the token requires ``Authorization: Bearer <a token it issued>`` (401
otherwise).  Faults are injected with :meth:`FakeSheets.fault`.  Cell values are returned the
way the real API returns them with ``UNFORMATTED_VALUE`` / ``SERIAL_NUMBER``: numbers as
numbers, dates as serial numbers (days since 1899-12-30), trailing empty cells and rows dropped.

Local demo (no Google account needed)::

    python -m tests.fake_sheets --workbook data/demo/isotretinoin_delphi.xlsx --port 8765 \\
        --key demo-sheet-key --credentials-out /tmp/fake-sa.json

then start the dashboard with ``DELPHI_SHEETS_API_BASE=http://127.0.0.1:8765`` and
``DELPHI_GOOGLE_CREDENTIALS=/tmp/fake-sa.json`` and use the printed sheet URL as the source.
"""

from __future__ import annotations

import argparse
import base64
import copy
import datetime as dt
import itertools
import json
import secrets
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "DEFAULT_KEY",
    "SMALL_TABS",
    "FakeSheets",
    "GoogleToFakeAdapter",
    "fake_session",
    "generate_service_account",
    "main",
    "tabs_from_workbook",
    "to_serial",
]

DEFAULT_KEY = "1FakeDelphiSheetKey_0123456789abcdefghijklmn"
GOOGLE_HOSTS = (
    "https://sheets.googleapis.com",
    "https://oauth2.googleapis.com",
    "https://forms.googleapis.com",
)
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
EPOCH = dt.datetime(1899, 12, 30)
STATUS_NAMES = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
    404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 502: "BAD_GATEWAY",
    503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}  # fmt: skip
WRITE_SCOPE = {
    "sheets.batchUpdate": "https://www.googleapis.com/auth/spreadsheets",
    "values.batchUpdate": "https://www.googleapis.com/auth/spreadsheets",
    "forms.batchUpdate": "https://www.googleapis.com/auth/forms.body",
}
FORMS_READ_SCOPES = {
    "https://www.googleapis.com/auth/forms.body",
    "https://www.googleapis.com/auth/forms.body.readonly",
    "https://www.googleapis.com/auth/drive",
}
# "lost": the request is carried out but the connection drops before the answer (a write that
# got through, which the client cannot know)
FAULT_KINDS = {"slow", "truncated", "not_json", "reset", "invalid_grant", "lost"}
ENDPOINTS = {
    "token", "metadata", "batchGet", "sheets.batchUpdate", "values.batchUpdate",
    "forms.get", "forms.batchUpdate",
}  # fmt: skip


# A small study as the API returns it (timestamps are serial numbers).
SMALL_TABS: dict[str, list[list[Any]]] = {
    "Round 1": [
        ["Timestamp", "Email Address", "S01. Low doses work", "Comments (optional)"],
        [46266.375, "a@x.example", "Agree", "Sensible"],
        [46266.41666666667, "b@x.example", "Strongly agree"],
        [46267.5, "c@x.example", 4, ""],
    ],
    "Round 2": [
        ["Timestamp", "Email Address", "S01. Low doses work"],
        [46296.375, "a@x.example", "Agree"],
    ],
    "Panel": [["Email Address", "Name"], ["a@x.example", "Ann Alpha"]],
    "Empty": [],
}


# --- values --------------------------------------------------------------------------------


def to_serial(value: dt.datetime | dt.date | dt.time) -> int | float:
    """A date/time as a Google Sheets serial number (days since 1899-12-30, fractional)."""
    if isinstance(value, dt.datetime):
        days = (value.replace(tzinfo=None) - EPOCH).total_seconds() / 86400
    elif isinstance(value, dt.date):
        days = (value - EPOCH.date()).days
    else:
        days = (value.hour * 3600 + value.minute * 60 + value.second) / 86400
    return int(days) if float(days).is_integer() else days


def _cell(value: Any) -> Any:
    """A cell as the API's UNFORMATTED_VALUE JSON: serials for dates, ints for whole floats."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return to_serial(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _trim(rows: Iterable[Iterable[Any]]) -> list[list[Any]]:
    """Rows with trailing empty cells and trailing empty rows dropped, as the API does."""
    out = []
    for row in rows:
        cells = [_cell(v) for v in row]
        while cells and cells[-1] == "":
            cells.pop()
        out.append(cells)
    while out and not out[-1]:
        out.pop()
    return out


def tabs_from_workbook(path: str | Path) -> dict[str, list[list[Any]]]:
    """All tabs of an .xlsx as the Sheets API would return them (dates as serial numbers)."""
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        return {name: _trim(wb[name].iter_rows(values_only=True)) for name in wb.sheetnames}
    finally:
        wb.close()


def _formatted(value: Any) -> Any:
    """A rough FORMATTED_VALUE rendering (the real API's default): everything as text."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return value if isinstance(value, str) else str(value)


def _column_letters(n: int) -> str:
    """The A1 letters of column ``n`` (1-based): 1 -> A, 27 -> AA."""
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _beyond_grid(tab: str, rows: list[list[Any]], grid: tuple[int, int]) -> str:
    """Google's message when ``rows`` written from A1 do not fit the tab's grid, else ''."""
    n_rows, n_cols = grid
    width = max((len(r) for r in rows), default=0)
    if len(rows) <= n_rows and width <= n_cols:
        return ""
    cell = f"A{n_rows + 1}" if len(rows) > n_rows else f"{_column_letters(n_cols + 1)}1"
    return f"Range ('{tab}'!{cell}) exceeds grid limits. Max rows: {n_rows}, max columns: {n_cols}"


def _range_tab(a1: str) -> str:
    """The tab title of an A1 range: ``'Round 1'!A1:B2``, ``'It''s'`` or ``Panel``."""
    if a1.startswith("'"):
        i, out = 1, []
        while i < len(a1):
            if a1[i] == "'" and a1[i + 1 : i + 2] == "'":
                out.append("'")
                i += 2
            elif a1[i] == "'":
                break
            else:
                out.append(a1[i])
                i += 1
        return "".join(out)
    return a1.split("!", 1)[0]


# --- keys and JWTs -------------------------------------------------------------------------


def _b64url(data: bytes) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _verify_jwt(assertion: str, public_keys: list[rsa.RSAPublicKey] | None) -> dict | None:
    """The JWT payload if the RS256 signature matches one of ``public_keys`` (or none given)."""
    try:
        head, body, sig = assertion.encode().split(b".")
        payload = json.loads(_b64url(body))
    except ValueError:
        return None
    if public_keys is None:
        return payload
    for key in public_keys:
        try:
            key.verify(_b64url(sig), head + b"." + body, padding.PKCS1v15(), hashes.SHA256())
            return payload
        except InvalidSignature:
            continue
    return None


def generate_service_account(
    token_uri: str, private_key: rsa.RSAPrivateKey | None = None, project: str = "delphi-fake"
) -> tuple[dict[str, Any], rsa.RSAPrivateKey]:
    """A throwaway service-account key dict (and its RSA key) whose token_uri is ``token_uri``."""
    key = private_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = f"dashboard@{project}.iam.gserviceaccount.com"
    info = {
        "type": "service_account", "project_id": project,
        "private_key_id": secrets.token_hex(20), "private_key": pem,
        "client_email": email, "client_id": str(secrets.randbelow(10**20)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth", "token_uri": token_uri,
    }  # fmt: skip
    return info, key


# --- redirecting the client ----------------------------------------------------------------


class GoogleToFakeAdapter(requests.adapters.HTTPAdapter):
    """Transport adapter that sends requests for Google's API hosts to the fake instead."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.base_url = base_url.rstrip("/")

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        """Rewrite ``https://<google host>/path`` to ``<fake>/path`` and send."""
        for host in GOOGLE_HOSTS:
            if request.url and request.url.startswith(host):
                request.url = self.base_url + request.url[len(host) :]
        return super().send(request, **kwargs)


def fake_session(base_url: str) -> requests.Session:
    """A requests session on which Google's API hosts map to the fake at ``base_url``."""
    session = requests.Session()
    adapter = GoogleToFakeAdapter(base_url)
    for host in GOOGLE_HOSTS:
        session.mount(host + "/", adapter)
    return session


# --- the server ----------------------------------------------------------------------------


@dataclass
class _Fault:
    kind: str
    remaining: int | None  # None: forever
    endpoint: str | None  # None: any endpoint
    delay: float
    after: int = 0  # matching requests let through before the fault starts


class FakeSheets:
    """The fake server; use as a context manager (or call :meth:`start` / :meth:`stop`)."""

    def __init__(
        self,
        tabs: dict[str, list[list[Any]]] | None = None,
        *,
        key: str = DEFAULT_KEY,
        title: str = "Fake Delphi study",
        time_zone: str = "Europe/London",
        public_keys: list[rsa.RSAPublicKey] | None = None,
        workbook: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.tabs: dict[str, list[list[Any]]] = dict(tabs or {})
        self.key, self.title, self.time_zone = key, title, time_zone
        self.public_keys = public_keys
        self.workbook, self._mtime = (Path(workbook) if workbook else None), 0.0
        self.requests: list[tuple[str, str]] = []
        self.log: list[dict[str, Any]] = []
        self.scopes: list[str] = []
        self.tokens: set[str] = set()
        self.token_scopes: dict[str, set[str]] = {}
        self.forms: dict[str, dict[str, Any]] = {}
        self.form_editors: set[str] = set()  # forms shared with the service account as editor
        self.sheet_editor = False  # the sheet shared with the service account as editor
        self._sheet_ids: dict[str, int] = {}
        self._grids: dict[int, tuple[int, int]] = {}  # sheetId -> (rows, columns) of added tabs
        self._ids = itertools.count(0x1A2B0000)  # item and question ids, as 8 hex digits
        self._faults: list[_Fault] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def token_uri(self) -> str:
        """The token endpoint (put it in the service-account ``token_uri``)."""
        return self.url + "/token"

    @property
    def sheet_url(self) -> str:
        """A browser-style URL of the fake sheet."""
        return f"https://docs.google.com/spreadsheets/d/{self.key}/edit#gid=0"

    def start(self) -> FakeSheets:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSheets:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def fault(
        self,
        kind: str,
        times: int | None = 1,
        endpoint: str | None = None,
        delay: float = 1.5,
        after: int = 0,
    ) -> None:
        """Inject ``kind`` (an HTTP status like "429", or one of FAULT_KINDS) ``times`` times.

        ``times=None`` means forever; ``endpoint`` limits it to one of ENDPOINTS; ``delay`` is
        how long "slow" waits before answering; ``after`` lets that many matching requests
        through first (e.g. the second ``sheets.batchUpdate`` of a write fails).
        """
        if not (kind.isdigit() or kind in FAULT_KINDS) or endpoint not in ENDPOINTS | {None}:
            raise ValueError(f"unknown fault {kind!r} / endpoint {endpoint!r}")
        with self._lock:
            self._faults.append(_Fault(kind, times, endpoint, delay, after))

    def clear_faults(self) -> None:
        """Remove all pending faults."""
        with self._lock:
            self._faults.clear()

    def count(self, endpoint: str | None = None) -> int:
        """Requests received (to ``endpoint`` only, if given)."""
        return sum(1 for e in self.log if endpoint is None or e["endpoint"] == endpoint)

    def _take_fault(self, endpoint: str) -> _Fault | None:
        """The next pending fault for ``endpoint``, used up by one."""
        with self._lock:
            for f in self._faults:
                if f.endpoint in (None, endpoint) and (f.remaining is None or f.remaining > 0):
                    if f.after > 0:
                        f.after -= 1
                        continue
                    if f.remaining is not None:
                        f.remaining -= 1
                    return f
        return None

    def _record(self, method: str, path: str, query: dict, endpoint: str) -> None:
        """Log one request."""
        with self._lock:
            self.requests.append((method, path))
            self.log.append({"method": method, "path": path, "query": query, "endpoint": endpoint})

    def _current_tabs(self) -> dict[str, list[list[Any]]]:
        """The tabs, re-read from the workbook when it changed on disk."""
        if self.workbook is not None and self.workbook.exists():
            mtime = self.workbook.stat().st_mtime
            if mtime != self._mtime:
                self.tabs, self._mtime = tabs_from_workbook(self.workbook), mtime
        return self.tabs

    def sheet_id(self, title: str) -> int:
        """The stable sheet id of a tab (assigned on first sight)."""
        if title not in self._sheet_ids:
            self._sheet_ids[title] = self._fresh_id()
        return self._sheet_ids[title]

    def _fresh_id(self) -> int:
        """An id no tab has had (Google gives an added tab a new id, even under an old name)."""
        return max(self._sheet_ids.values(), default=-993) + 1000

    def grid(self, title: str, rows: list[list[Any]] | None = None) -> tuple[int, int]:
        """(rows, columns) of a tab's grid: as asked by addSheet (Google's default 1000 x 26),
        or for a tab of the workbook, at least 1000 x 26 and as big as its values."""
        rows = self._current_tabs().get(title, []) if rows is None else rows
        found = self._grids.get(self.sheet_id(title))
        if found is not None:
            return found
        return max(1000, len(rows)), max(26, max((len(r) for r in rows), default=0))

    def _properties(self, i: int, name: str, rows: list[list[Any]]) -> dict[str, Any]:
        n_rows, n_cols = self.grid(name, rows)
        grid = {"rowCount": n_rows, "columnCount": n_cols}
        props = {"sheetId": self.sheet_id(name), "title": name, "index": i, "sheetType": "GRID"}
        return {**props, "gridProperties": grid}

    def metadata(self) -> dict[str, Any]:
        """The body of ``GET /v4/spreadsheets/{key}``."""
        sheets = [
            {"properties": self._properties(i, name, rows)}
            for i, (name, rows) in enumerate(self._current_tabs().items())
        ]
        return {
            "spreadsheetId": self.key,
            "properties": {"title": self.title, "locale": "en_GB", "timeZone": self.time_zone},
            "sheets": sheets,
            "spreadsheetUrl": self.sheet_url,
        }

    def batch_get(self, ranges: list[str], render: str) -> tuple[int, dict[str, Any]]:
        """Status and body of ``values:batchGet`` for ``ranges``."""
        tabs, out = self._current_tabs(), []
        for a1 in ranges:
            name = _range_tab(a1)
            if name not in tabs:
                return 400, _google_error(400, f"Unable to parse range: {a1}")
            rows = _trim(tabs[name])
            if render != "UNFORMATTED_VALUE":
                rows = [[_formatted(v) for v in r] for r in rows]
            quoted = "'" + name.replace("'", "''") + "'"
            vr: dict[str, Any] = {"range": f"{quoted}!A1:Z1000", "majorDimension": "ROWS"}
            if rows:
                vr["values"] = rows
            out.append(vr)
        return 200, {"spreadsheetId": self.key, "valueRanges": out}

    # --- Sheets writes ---------------------------------------------------------------------

    def sheets_batch_update(self, body: Any) -> tuple[int, Any]:
        """``spreadsheets.batchUpdate``: addSheet, deleteSheet, updateSheetProperties (title);
        every request applies or none does, as the real API."""
        tabs, ids, grids = dict(self._current_tabs()), dict(self._sheet_ids), dict(self._grids)
        replies: list[dict[str, Any]] = []
        try:
            for n, req in enumerate((body or {}).get("requests") or [None]):
                replies.append(self._sheet_request(tabs, n, req))
        except _BadRequest as exc:
            self._sheet_ids, self._grids = ids, grids
            return 400, _google_error(400, str(exc))
        with self._lock:
            self.tabs = tabs
        return 200, {"spreadsheetId": self.key, "replies": replies}

    def _sheet_request(self, tabs: dict[str, list[list[Any]]], n: int, req: Any) -> dict:
        """Apply one request of a batchUpdate to ``tabs`` (raises _BadRequest)."""
        by_id = {self.sheet_id(t): t for t in tabs}
        if not isinstance(req, dict) or len(req) != 1:
            raise _BadRequest(f"Invalid requests[{n}]: exactly one kind of request expected")
        ((kind, arg),) = req.items()
        if kind == "addSheet":
            props = (arg or {}).get("properties") or {}
            title, grid = str(props.get("title", "")), props.get("gridProperties") or {}
            if not title or title in tabs:
                raise _BadRequest(
                    f'Invalid requests[{n}].addSheet: A sheet with the name "{title}" already '
                    "exists. Please enter another name."
                )
            tabs[title] = []
            self._sheet_ids[title] = new_id = self._fresh_id()
            # Google's default grid for a new tab is 1000 rows x 26 columns
            self._grids[new_id] = (grid.get("rowCount", 1000), grid.get("columnCount", 26))
            return {"addSheet": {"properties": self._properties(len(tabs) - 1, title, [])}}
        if kind == "deleteSheet":
            title = by_id.get((arg or {}).get("sheetId"))
            if title is None:
                raise _BadRequest(f"Invalid requests[{n}].deleteSheet: No grid with id")
            if len(tabs) == 1:
                raise _BadRequest(f"Invalid requests[{n}].deleteSheet: the last sheet")
            del tabs[title]
            self._sheet_ids.pop(title)
            return {}
        if kind == "updateSheetProperties":
            props = (arg or {}).get("properties") or {}
            title, new = by_id.get(props.get("sheetId")), str(props.get("title", ""))
            if title is None or (arg or {}).get("fields") != "title" or not new:
                raise _BadRequest(f"Invalid requests[{n}].updateSheetProperties")
            if new in tabs and new != title:
                raise _BadRequest(
                    f'Invalid requests[{n}].updateSheetProperties: A sheet with the name "{new}" '
                    "already exists."
                )
            renamed = {(new if t == title else t): rows for t, rows in tabs.items()}
            tabs.clear()
            tabs.update(renamed)
            self._sheet_ids[new] = self._sheet_ids.pop(title)
            return {}
        raise _BadRequest(f"Invalid requests[{n}]: unsupported request {kind}")

    def values_batch_update(self, body: Any) -> tuple[int, Any]:
        """``values.batchUpdate``: each range's values written from A1 of its tab."""
        body, tabs = body or {}, self._current_tabs()
        if body.get("valueInputOption") not in ("RAW", "USER_ENTERED"):
            return 400, _google_error(400, "Invalid valueInputOption")
        data = body.get("data") or []
        for vr in data:
            name = _range_tab(str(vr.get("range", "")))
            if name not in tabs:
                return 400, _google_error(400, f"Unable to parse range: {vr.get('range')}")
            beyond = _beyond_grid(name, vr.get("values") or [], self.grid(name))
            if beyond:  # as Google: values.batchUpdate does not grow the grid
                return 400, _google_error(400, beyond)
        cells = 0
        with self._lock:
            for vr in data:
                rows = [list(r) for r in vr.get("values", [])]
                self.tabs[_range_tab(vr["range"])] = rows
                cells += sum(len(r) for r in rows)
        return 200, {
            "spreadsheetId": self.key,
            "totalUpdatedSheets": len(data),
            "totalUpdatedCells": cells,
        }

    # --- Forms ------------------------------------------------------------------------------

    def add_form(
        self,
        form_id: str = "1FakeFormId_abcdefghijklmnopqrstuv",
        *,
        editor: bool = True,
        title: str = "Round 3",
    ) -> str:
        """An empty form (shared with the service account as editor unless ``editor=False``)."""
        self.forms[form_id] = {
            "formId": form_id,
            "info": {"title": title, "documentTitle": title},
            "revisionId": "00000001",
            "responderUri": f"https://docs.google.com/forms/d/e/1FAIpQLSe{form_id[-12:]}/viewform",
        }
        if editor:
            self.form_editors.add(form_id)
        return form_id

    def form_call(self, endpoint: str, form_id: str, body: Any) -> tuple[int, Any]:
        """``forms.get`` and ``forms.batchUpdate``."""
        form = self.forms.get(form_id)
        if form is None:
            return 404, _google_error(404, "Requested entity was not found.")
        if endpoint == "forms.get":
            return 200, copy.deepcopy(form)
        if form_id not in self.form_editors:
            return 403, _google_error(403, "The caller does not have permission")
        body = body or {}
        wanted = (body.get("writeControl") or {}).get("requiredRevisionId")
        if wanted is not None and wanted != form["revisionId"]:
            error = _google_error(400, "The form has changed since the required revision.")
            error["error"]["status"] = "FAILED_PRECONDITION"
            return 400, error
        new, replies = copy.deepcopy(form), []
        try:
            for n, req in enumerate(body.get("requests") or [None]):
                replies.append(self._form_request(new, n, req))
        except _BadRequest as exc:
            return 400, _google_error(400, str(exc))
        new["revisionId"] = f"{int(form['revisionId'], 16) + 1:08x}"
        with self._lock:
            self.forms[form_id] = new
        out: dict[str, Any] = {
            "replies": replies,
            "writeControl": {"requiredRevisionId": new["revisionId"]},
        }
        if body.get("includeFormInResponse"):
            out["form"] = copy.deepcopy(new)
        return 200, out

    def _new_id(self) -> str:
        return f"{next(self._ids):08x}"

    def _form_request(self, form: dict[str, Any], n: int, req: Any) -> dict[str, Any]:
        """Apply one request of a forms.batchUpdate to ``form`` (raises _BadRequest)."""
        if not isinstance(req, dict) or len(req) != 1:
            raise _BadRequest(f"Invalid requests[{n}]: exactly one kind of request expected")
        ((kind, arg),) = req.items()
        if kind == "updateFormInfo":
            for key in str(arg.get("updateMask", "")).split(","):
                form["info"][key] = arg.get("info", {}).get(key, "")
            return {}
        if kind != "createItem":
            raise _BadRequest(f"Invalid requests[{n}]: unsupported request {kind}")
        items = form.setdefault("items", [])
        index = ((arg or {}).get("location") or {}).get("index")
        if not isinstance(index, int) or not 0 <= index <= len(items):
            raise _BadRequest(f"Invalid requests[{n}].createItem: location.index out of range")
        item = copy.deepcopy((arg or {}).get("item") or {})
        question_ids = _check_item(item, n, self._new_id)
        item["itemId"] = self._new_id()
        items.insert(index, item)
        return {"createItem": {"itemId": item["itemId"], "questionId": question_ids}}

    def submit(
        self,
        form_id: str,
        answers: dict[Any, Any],
        tab: str = "Form Responses 1",
        when: dt.datetime | None = None,
    ) -> None:
        """Answer a form as a panelist: a row in ``tab`` shaped as Google Forms' linked sheet
        (Timestamp, then one column per question and grid row, titled as Google titles them).

        ``answers`` maps a question id (hex text) or entry number (int) to the answer: an
        option's text, a linear scale's number or free text.
        """
        by_id = {int(k, 16) if isinstance(k, str) else int(k): v for k, v in answers.items()}
        header, cells = ["Timestamp"], [to_serial(when or dt.datetime(2026, 12, 1, 9, 30))]
        for item in self.forms[form_id].get("items", []):
            for title, qid in _answer_columns(item):
                header.append(title)
                cells.append(by_id.get(int(qid, 16), ""))
        with self._lock:
            rows = self.tabs.setdefault(tab, [])
            if not rows:
                rows.append(header)
            rows.append(cells)


class _BadRequest(Exception):
    """A batchUpdate request the real API would refuse with HTTP 400."""


def _question_kind(q: dict[str, Any], n: int) -> None:
    """Check a ``question`` as the API does (raises _BadRequest)."""
    kinds = [k for k in ("choiceQuestion", "scaleQuestion", "textQuestion") if k in q]
    if len(kinds) != 1:
        raise _BadRequest(f"Invalid requests[{n}].createItem: a question needs exactly one kind")
    if "choiceQuestion" in q:
        c = q["choiceQuestion"]
        values = [o.get("value") for o in c.get("options", [])]
        if c.get("type") not in ("RADIO", "CHECKBOX", "DROP_DOWN") or not values:
            raise _BadRequest(f"Invalid requests[{n}].createItem: choice type or options")
        if len(set(values)) != len(values) or not all(values):
            raise _BadRequest(f"Invalid requests[{n}].createItem: options must be unique")
    if "scaleQuestion" in q:
        sq = q["scaleQuestion"]
        if sq.get("low") not in (0, 1) or not 2 <= sq.get("high", 0) <= 10:
            raise _BadRequest(f"Invalid requests[{n}].createItem: scale low 0-1, high 2-10")


def _check_item(item: dict[str, Any], n: int, new_id: Any) -> list[str]:
    """Validate an item and give its question(s) ids; returns those ids."""
    if not str(item.get("title", "")).strip():
        raise _BadRequest(f"Invalid requests[{n}].createItem: the item needs a title")
    if "questionItem" in item:
        q = item["questionItem"].setdefault("question", {})
        _question_kind(q, n)
        q["questionId"] = new_id()
        return [q["questionId"]]
    if "questionGroupItem" in item:
        group = item["questionGroupItem"]
        columns = (group.get("grid") or {}).get("columns") or {}
        if not group.get("questions") or not columns.get("options"):
            raise _BadRequest(f"Invalid requests[{n}].createItem: a grid needs rows and columns")
        for q in group["questions"]:
            if not str((q.get("rowQuestion") or {}).get("title", "")).strip():
                raise _BadRequest(f"Invalid requests[{n}].createItem: a grid row needs a title")
            q["questionId"] = new_id()
        return [q["questionId"] for q in group["questions"]]
    if "textItem" in item:
        return []
    raise _BadRequest(f"Invalid requests[{n}].createItem: unsupported item kind")


def _answer_columns(item: dict[str, Any]) -> list[tuple[str, str]]:
    """(column title, question id) of an item in the linked sheet: 'Title [row]' for a grid."""
    if "questionItem" in item:
        return [(item["title"], item["questionItem"]["question"]["questionId"])]
    rows = (item.get("questionGroupItem") or {}).get("questions", [])
    return [(f"{item['title']} [{q['rowQuestion']['title']}]", q["questionId"]) for q in rows]


def _google_error(code: int, message: str) -> dict[str, Any]:
    """An error body in Google's JSON shape."""
    return {"error": {"code": code, "message": message, "status": STATUS_NAMES.get(code, "")}}


def _fault_body(code: int, endpoint: str) -> dict[str, Any]:
    """The body of an injected HTTP error."""
    if endpoint == "token" and code in (400, 401):
        return {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
    return _google_error(code, f"Injected fault: HTTP {code}")


class _Handler(BaseHTTPRequestHandler):
    """One request to the fake."""

    server_version = "FakeSheets/1.0"
    disable_nagle_algorithm = True  # headers and body go out in separate writes

    @property
    def fake(self) -> FakeSheets:
        return self.server.fake  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log."""

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        """Route, apply any fault, answer; a client that hung up is ignored."""
        try:
            parts = urlsplit(self.path)
            path, query = unquote(parts.path), parse_qs(parts.query, keep_blank_values=True)
            endpoint = self._endpoint(method, path)
            length = int(self.headers.get("Content-Length") or 0)
            self._body = self.rfile.read(length) if length else b""  # read it all before answering
            self.fake._record(method, path, query, endpoint)
            fault = self.fake._take_fault(endpoint)
            if fault is not None and fault.kind == "lost":
                self._route(endpoint, path, query)  # done; the answer never leaves
                self.close_connection = True
            elif fault is None or not self._apply(fault, endpoint):
                status, body = self._route(endpoint, path, query)
                self._send(status, body, fault.kind if fault else None)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _endpoint(self, method: str, path: str) -> str:
        """Which endpoint a request is for ("other" if none)."""
        if method == "POST" and path == "/token":
            return "token"
        if method == "GET" and path.startswith("/v4/spreadsheets/"):
            return "batchGet" if path.endswith("/values:batchGet") else "metadata"
        if method == "POST" and path.startswith("/v4/spreadsheets/"):
            if path.endswith("/values:batchUpdate"):
                return "values.batchUpdate"
            return "sheets.batchUpdate" if path.endswith(":batchUpdate") else "other"
        if path.startswith("/v1/forms/"):
            if method == "GET" and ":" not in path:
                return "forms.get"
            if method == "POST" and path.endswith(":batchUpdate"):
                return "forms.batchUpdate"
        return "other"

    def _apply(self, fault: _Fault, endpoint: str) -> bool:
        """Apply a fault; True when it fully answered the request."""
        if fault.kind.isdigit():
            code = int(fault.kind)
            self._send(code, _fault_body(code, endpoint))
            return True
        if fault.kind == "invalid_grant":
            self._send(400, _fault_body(400, "token"))
            return True
        if fault.kind == "reset":
            self.close_connection = True
            return True
        if fault.kind == "slow":
            time.sleep(fault.delay)
        return False  # slow / truncated / not_json: answer normally, maybe mangled

    def _route(self, endpoint: str, path: str, query: dict) -> tuple[int, Any]:
        """Status and JSON body for a request."""
        if endpoint == "token":
            return self._token()
        if endpoint == "other":
            return 404, _google_error(404, "Requested entity was not found.")
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.fake.tokens:
            return 401, _google_error(401, "Request had invalid authentication credentials.")
        scopes = self.fake.token_scopes.get(auth[7:], set())
        need = WRITE_SCOPE.get(endpoint)
        if (need and need not in scopes) or (
            endpoint == "forms.get" and not scopes & FORMS_READ_SCOPES
        ):
            return 403, _google_error(403, "Request had insufficient authentication scopes.")
        if endpoint.startswith("forms."):
            return self.fake.form_call(endpoint, path.split("/")[3].split(":")[0], self._json())
        parts = path.split("/")  # ['', 'v4', 'spreadsheets', key, ...]
        if len(parts) < 4 or parts[3].split(":")[0] != self.fake.key:
            return 404, _google_error(404, "Requested entity was not found.")
        if endpoint in ("sheets.batchUpdate", "values.batchUpdate"):
            if not self.fake.sheet_editor:
                return 403, _google_error(403, "The caller does not have permission")
            if endpoint == "values.batchUpdate":
                return self.fake.values_batch_update(self._json())
            return self.fake.sheets_batch_update(self._json())
        if endpoint == "metadata":
            return 200, self.fake.metadata()
        render = query.get("valueRenderOption", ["FORMATTED_VALUE"])[0]
        return self.fake.batch_get(query.get("ranges", []), render)

    def _json(self) -> Any:
        """The request body as JSON (None when empty or not JSON)."""
        try:
            return json.loads(self._body or b"null")
        except ValueError:
            return None

    def _token(self) -> tuple[int, Any]:
        """Answer the JWT-bearer grant with a fresh access token."""
        form = parse_qs(self._body.decode())
        if form.get("grant_type", [""])[0] != JWT_GRANT:
            return 400, {"error": "unsupported_grant_type", "error_description": "Bad grant"}
        payload = _verify_jwt(form.get("assertion", [""])[0], self.fake.public_keys)
        if payload is None:
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        with self.fake._lock:
            self.fake.tokens.add(token)
            self.fake.scopes.append(str(payload.get("scope", "")))
            self.fake.token_scopes[token] = set(str(payload.get("scope", "")).split())
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _send(self, status: int, body: Any, mangle: str | None = None) -> None:
        """Write a JSON response; "truncated" cuts it in half, "not_json" sends HTML."""
        data = json.dumps(body).encode()
        ctype = "application/json; charset=UTF-8"
        if mangle == "not_json":
            data, ctype = b"<html><body>Service temporarily moved</body></html>", "text/html"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if mangle == "truncated":
            data = data[: len(data) // 2]
            self.close_connection = True
        self.wfile.write(data)


# --- command line --------------------------------------------------------------------------

_HOW_TO = """\
Point the dashboard at the fake (nothing contacts Google):

  DELPHI_SHEETS_API_BASE=http://127.0.0.1:PORT   # lib.sources.gsheets sends Google API calls here
  DELPHI_GOOGLE_CREDENTIALS=FILE                 # the --credentials-out service account

e.g.  DELPHI_SHEETS_API_BASE=http://127.0.0.1:8765 DELPHI_GOOGLE_CREDENTIALS=/tmp/fake-sa.json \\
      streamlit run app.py
and use the printed sheet URL (or key) as the study's source.  Editing the workbook while the
fake runs changes what the next refresh sees.  Stop with Ctrl-C.
"""


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        prog="python -m tests.fake_sheets",
        description="Serve an .xlsx workbook as a fake Google Sheet (Sheets API v4) locally.",
        epilog=_HOW_TO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--workbook", type=Path, help="the .xlsx whose tabs the sheet serves")
    p.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (default 8765)")
    p.add_argument("--key", default="demo-sheet-key", help="spreadsheet key (default %(default)s)")
    p.add_argument("--title", help="spreadsheet title (default: the workbook's file name)")
    p.add_argument("--time-zone", default="Europe/London", help="default %(default)s")
    p.add_argument("--credentials-out", type=Path, metavar="FILE",
                   help="write a throwaway service-account JSON key (token_uri at the fake) here; "
                        "the fake then only accepts that key")  # fmt: skip
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the fake until interrupted."""
    args = _parse_args(argv)
    if args.workbook is not None and not args.workbook.exists():
        print(f"workbook not found: {args.workbook}", file=sys.stderr)
        return 2
    title = args.title or (args.workbook.stem if args.workbook else "Fake Delphi study")
    fake = FakeSheets(
        key=args.key, title=title, time_zone=args.time_zone,
        workbook=args.workbook, port=args.port,
    )  # fmt: skip
    if args.credentials_out:
        info, key = generate_service_account(fake.token_uri)
        fake.public_keys = [key.public_key()]
        args.credentials_out.write_text(json.dumps(info, indent=2), encoding="utf-8")
        args.credentials_out.chmod(0o600)
    with fake:
        print(f"Fake Google Sheets API at {fake.url}  (key {fake.key})")
        print(f"Sheet URL: {fake.sheet_url}")
        print(f"  export DELPHI_SHEETS_API_BASE={fake.url}")
        if args.credentials_out:
            print(f"  export DELPHI_GOOGLE_CREDENTIALS={args.credentials_out}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
