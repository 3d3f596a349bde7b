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
from lib.sources.gsheets_http import bad_response

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
            raise WriteError(
                f"{_sentence(exc)} Nothing was written to the form.", exc.kind
            ) from None
        except GoogleSheetError as exc:
            raise WriteError(
                f"{_sentence(exc)} The form may or may not have been filled: open it to check "
                "(writing again is refused if it has questions).",
                exc.kind,
                left="unknown",
            ) from None
        filled = done.get("form") or g.call("GET", f"{FORMS_API}/{form_id}", "form")
        return FormWritten(filled, len(plan.requests), g.state.requests)


def _sentence(exc: Exception) -> str:
    """An error's text ending with a full stop, so that our next sentence reads apart."""
    text = str(exc).rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _tab_ids(g: GoogleApi, url: str, share: str = "") -> dict[str, int]:
    """Title -> sheetId of every tab of the spreadsheet (one metadata GET)."""
    params = {"fields": "sheets.properties(sheetId,title)"}
    meta = g.call("GET", url, "metadata", params=params, on_403=share)
    try:
        return {
            str(s["properties"]["title"]): int(s["properties"]["sheetId"])
            for s in meta.get("sheets", [])
        }
    except (KeyError, TypeError, ValueError, AttributeError):
        raise bad_response("metadata", "no tab list") from None


def _tabs_now(g: GoogleApi, url: str) -> dict[str, int] | None:
    """The tabs after a failed write, read again (None when that fails too): a write whose
    answer was lost, or retried after it went through, may have been carried out."""
    try:
        return _tab_ids(g, url)
    except GoogleSheetError:
        return None


def write_results(
    sheet_url: str, rows: list[list[Any]], *, tab: str = "Results", **api: Any
) -> ResultsWritten:
    """Replace ``tab`` of the spreadsheet with ``rows``: written to a new tab, then swapped in.

    After a failed step the tab list is read again, so the message says what the spreadsheet
    holds: a step whose answer was lost (or whose retry was refused because the first try got
    through) counts as done.
    """
    key, temp = parse_sheet_key(sheet_url), f"{tab} (being written)"
    url = f"{SHEETS_API}/{key}"
    with GoogleApi(SHEETS_WRITE_SCOPES, "Google Sheets", **api) as g:
        share = (
            f"share the spreadsheet with {g.email} as Editor (reading needs Viewer only; "
            "writing the Results tab needs Editor)"
        )
        try:
            before = _tab_ids(g, url, share)
        except GoogleSheetError as exc:
            raise WriteError(
                f"{_sentence(exc)} Nothing was changed in the spreadsheet.", exc.kind
            ) from None
        new_id = _add_tab(g, url, before, (tab, temp), rows, share)
        a1 = "'" + temp.replace("'", "''") + "'!A1"
        data = {"valueInputOption": "RAW", "data": [{"range": a1, "values": rows}]}
        try:
            wrote = g.call("POST", f"{url}/values:batchUpdate", "values", body=data)
        except GoogleSheetError as exc:
            raise _cleanup(g, url, new_id, temp, tab, exc) from None
        _swap(g, url, before, new_id, temp, tab)
        cells = wrote.get("totalUpdatedCells", 0) if isinstance(wrote, dict) else 0
        return ResultsWritten(tab, int(cells), g.state.requests)


def _add_tab(
    g: GoogleApi,
    url: str,
    before: dict[str, int],
    names: tuple[str, str],
    rows: list[list[Any]],
    share: str,
) -> int:
    """The sheetId of a new empty tab ``temp`` (an old one of that name replaced), with a grid
    just big enough for ``rows``: values.batchUpdate does not grow a grid, and Google's
    default is 1000 rows x 26 columns."""
    tab, temp = names
    grid = {"rowCount": max(1, len(rows)), "columnCount": max([1, *map(len, rows)])}
    first = [{"deleteSheet": {"sheetId": before[temp]}}] if temp in before else []
    first.append({"addSheet": {"properties": {"title": temp, "gridProperties": grid}}})
    try:
        added = g.call("POST", f"{url}:batchUpdate", "new tab", body={"requests": first},
                       on_403=share)  # fmt: skip
        return int(added["replies"][-1]["addSheet"]["properties"]["sheetId"])
    except GoogleSheetError as exc:
        error: GoogleSheetError = exc
    except (KeyError, TypeError, IndexError, ValueError):
        error = bad_response("new tab", "no id of the new tab in the answer")
    now = _tabs_now(g, url)
    if now is not None and temp in now and now[temp] != before.get(temp):
        return now[temp]  # the tab was added; only the answer went missing
    if now is None:
        raise WriteError(
            f"{_sentence(error)} The '{tab}' tab is unchanged, but whether an empty "
            f"tab '{temp}' was added could not be checked (the next write replaces it, or "
            "delete it).",
            error.kind,
            left="unknown",
        )
    raise WriteError(f"{_sentence(error)} Nothing was changed in the spreadsheet.", error.kind)


def _swap(g: GoogleApi, url: str, before: dict[str, int], new_id: int, temp: str, tab: str) -> None:
    """Delete the old ``tab`` and rename the new one to it, in one all-or-none batch."""
    swap = [{"deleteSheet": {"sheetId": before[tab]}}] if tab in before else []
    props = {"sheetId": new_id, "title": tab}
    swap.append({"updateSheetProperties": {"properties": props, "fields": "title"}})
    try:
        g.call("POST", f"{url}:batchUpdate", "tab swap", body={"requests": swap})
        return
    except GoogleSheetError as exc:
        error = exc
    now = _tabs_now(g, url)
    if now is not None and now.get(tab) == new_id:
        return  # the swap went through; only its answer went missing
    if now is None:
        raise WriteError(
            f"{_sentence(error)} The new results were written to the tab '{temp}', but "
            f"whether it replaced the '{tab}' tab could not be checked: open the spreadsheet "
            f"(if '{temp}' is still there, the next write replaces it, or delete it).",
            error.kind,
            left="unknown",
        )
    raise WriteError(
        f"{_sentence(error)} The '{tab}' tab is unchanged; the new results are in the tab "
        f"'{temp}' (the next write replaces it, or delete it).",
        error.kind,
        left=temp,
    )


def _cleanup(
    g: GoogleApi, url: str, new_id: int, temp: str, tab: str, exc: GoogleSheetError
) -> WriteError:
    """After a failed values write: remove the new tab, and say what is left."""
    try:
        body = {"requests": [{"deleteSheet": {"sheetId": new_id}}]}
        g.call("POST", f"{url}:batchUpdate", "clean-up", body=body)
        now: dict[str, int] | None = {}
    except GoogleSheetError:
        now = _tabs_now(g, url)  # the delete may have gone through, its answer lost
    if now is not None and new_id not in now.values():
        return WriteError(f"{_sentence(exc)} Nothing was changed in the spreadsheet.", exc.kind)
    left = "is left behind" if now is not None else "may be left behind"
    return WriteError(
        f"{_sentence(exc)} The '{tab}' tab is unchanged; a partly written tab '{temp}' {left} "
        "(the next write replaces it, or delete it).",
        exc.kind,
        left=temp,
    )
