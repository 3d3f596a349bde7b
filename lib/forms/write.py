"""Writes to Google: fill an empty Form (one ``forms.batchUpdate``) and replace the Results tab
of a spreadsheet (one ``values.batchUpdate``; the tab swapped in atomically).

Every write says what it left behind when it fails part-way (:class:`WriteError.left`): a form
batch is all-or-none on Google's side, and the Results tab is written to a new tab first, then
swapped in by one ``spreadsheets.batchUpdate`` (delete the old tab, rename the new one), so
collaborators never see a half-written Results tab.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lib.forms.build import FormPlan
from lib.forms.client import FORMS_API, SHEETS_API, GoogleApi, WriteError, parse_form_id
from lib.sources.base import GoogleSheetError
from lib.sources.gsheets import parse_sheet_key
from lib.sources.gsheets_auth import FORMS_WRITE_SCOPES, SHEETS_WRITE_SCOPES

__all__ = ["FormWritten", "ResultsWritten", "read_form", "write_form", "write_results"]


@dataclass(frozen=True)
class FormWritten:
    """A form filled: its body after the write (items with their ids) and requests made."""

    form: dict[str, Any]
    questions: int
    requests: int


@dataclass(frozen=True)
class ResultsWritten:
    """The Results tab written: its title, cells and the HTTP requests it took."""

    tab: str
    cells: int
    requests: int


def _forms(**api: Any) -> GoogleApi:
    return GoogleApi(FORMS_WRITE_SCOPES, "Google Forms", **api)


def read_form(form_url: str, **api: Any) -> dict[str, Any]:
    """The form's ``forms.get`` body (items with their question ids, responderUri)."""
    form_id = parse_form_id(form_url)
    with _forms(**api) as g:
        share = f"share the form with {g.email} as Editor (Share > add the address > Editor)"
        return g.call("GET", f"{FORMS_API}/{form_id}", "form", on_403=share)


def write_form(form_url: str, plan: FormPlan, **api: Any) -> FormWritten:
    """Fill an empty form with ``plan``; a form with questions already is refused."""
    form_id = parse_form_id(form_url)
    with _forms(**api) as g:
        share = f"share the form with {g.email} as Editor (Share > add the address > Editor)"
        form = g.call("GET", f"{FORMS_API}/{form_id}", "form", on_403=share)
        items = form.get("items") or []
        if items:
            raise WriteError(
                f"The form already has {len(items)} item(s); nothing was written (writing "
                "again would add every question a second time). Use a new empty form, or "
                "delete its questions first.",
                "not_empty",
            )
        body = {
            "requests": plan.requests,
            "includeFormInResponse": True,
            # all-or-none, and only onto the empty form just read: a retry whose first try got
            # through is refused instead of adding every question twice
            "writeControl": {"requiredRevisionId": form.get("revisionId")},
        }
        try:
            done = g.call(
                "POST", f"{FORMS_API}/{form_id}:batchUpdate", "form update", body=body,
                on_403=share,
            )  # fmt: skip
        except WriteError as exc:
            if exc.kind == "conflict":
                raise WriteError(
                    "The form changed while the app wrote to it (an earlier try may have got "
                    "through): open it and check; nothing more was written.",
                    "conflict",
                ) from None
            raise WriteError(f"{exc} Nothing was written to the form.", exc.kind) from None
        except GoogleSheetError as exc:
            raise WriteError(
                f"{exc} The form may or may not have been filled: open it to check (writing "
                "again is refused if it has questions).",
                exc.kind,
                left="unknown",
            ) from None
        filled = done.get("form") or g.call("GET", f"{FORMS_API}/{form_id}", "form")
        return FormWritten(filled, len(plan.requests), g.state.requests)


def _sheet_ids(meta: dict[str, Any]) -> dict[str, int]:
    return {s["properties"]["title"]: s["properties"]["sheetId"] for s in meta.get("sheets", [])}


def write_results(
    sheet_url: str, rows: list[list[Any]], *, tab: str = "Results", **api: Any
) -> ResultsWritten:
    """Replace ``tab`` of the spreadsheet with ``rows``: written to a new tab, then swapped in."""
    key, temp = parse_sheet_key(sheet_url), f"{tab} (being written)"
    url = f"{SHEETS_API}/{key}"
    with GoogleApi(SHEETS_WRITE_SCOPES, "Google Sheets", **api) as g:
        share = (
            f"share the spreadsheet with {g.email} as Editor (reading needs Viewer only; "
            "writing the Results tab needs Editor)"
        )
        params = {"fields": "sheets.properties(sheetId,title)"}
        try:
            ids = _sheet_ids(g.call("GET", url, "metadata", params=params, on_403=share))
            first = [{"deleteSheet": {"sheetId": ids[temp]}}] if temp in ids else []
            first.append({"addSheet": {"properties": {"title": temp}}})
            body = {"requests": first}
            added = g.call("POST", f"{url}:batchUpdate", "new tab", body=body, on_403=share)
            new_id = added["replies"][-1]["addSheet"]["properties"]["sheetId"]
        except GoogleSheetError as exc:
            raise WriteError(f"{exc} Nothing was changed in the spreadsheet.", exc.kind) from None
        data = {"valueInputOption": "RAW", "data": [{"range": f"'{temp}'!A1", "values": rows}]}
        try:
            wrote = g.call("POST", f"{url}/values:batchUpdate", "values", body=data)
        except GoogleSheetError as exc:
            raise _cleanup(g, url, new_id, temp, tab, exc) from None
        swap = [{"deleteSheet": {"sheetId": ids[tab]}}] if tab in ids else []
        props = {"sheetId": new_id, "title": tab}
        swap.append({"updateSheetProperties": {"properties": props, "fields": "title"}})
        try:
            g.call("POST", f"{url}:batchUpdate", "tab swap", body={"requests": swap})
        except GoogleSheetError as exc:
            raise WriteError(
                f"{exc} The '{tab}' tab is unchanged; the new results are in the tab "
                f"'{temp}' (the next write replaces it, or delete it).",
                exc.kind,
                left=temp,
            ) from None
        return ResultsWritten(tab, int(wrote.get("totalUpdatedCells", 0)), g.state.requests)


def _cleanup(
    g: GoogleApi, url: str, new_id: int, temp: str, tab: str, exc: GoogleSheetError
) -> WriteError:
    """After a failed values write: remove the new tab, and say what is left."""
    try:
        body = {"requests": [{"deleteSheet": {"sheetId": new_id}}]}
        g.call("POST", f"{url}:batchUpdate", "clean-up", body=body)
    except GoogleSheetError:
        return WriteError(
            f"{exc} The '{tab}' tab is unchanged; a partly written tab '{temp}' is left "
            "behind (the next write replaces it, or delete it).",
            exc.kind,
            left=temp,
        )
    return WriteError(f"{exc} Nothing was changed in the spreadsheet.", exc.kind)
