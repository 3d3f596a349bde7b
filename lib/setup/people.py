"""Who answered and when: the identity and timestamp columns of the round tabs."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from lib.ingest.cells import cell_text
from lib.ingest.columns import find_column

__all__ = ["Choice", "identity_column", "looks_identifying", "timestamp_column"]

# Identity columns by how reliably they tell panelists apart: an e-mail address (Google Forms'
# "Collect email addresses" writes "Email Address"), a code given to each panelist, a name.
_EMAIL = re.compile(r"(?i)\be-?mail\b|courriel|correo|endere[cç]o de e-?mail|indirizzo")
_CODE = re.compile(r"(?i)(\bid\b|\bcode\b|c[oó]digo|identifi|pseudonym)")
_NAME = re.compile(r"(?i)\b(name|nome|nom|nombre)\b")
_KINDS = (
    ("e-mail", _EMAIL, "e-mail addresses tell panelists apart reliably"),
    ("code", _CODE, "a code given to each panelist tells them apart"),
    (
        "name",
        _NAME,
        "a name is a fragile identity (two panelists may share one, a typo makes a new "
        "panelist): an e-mail address or a participant ID is safer",
    ),
)
_TIMESTAMP_NAMES = {
    "timestamp", "carimbo de data/hora", "marca temporal", "horodateur", "zeitstempel",
    "informazioni cronologiche", "submitted at", "submission time", "completion time",
    "end time", "submitted", "date", "data/hora",
}  # fmt: skip
# Panel columns never proposed as attributes: they name, reach or single out a person.
_IDENTIFYING = re.compile(
    r"(?i)(name|\bnom\b|nome|surname|initials|e-?mail|courriel|phone|mobile|\btel\b|address"
    r"|contact|linkedin|orcid|twitter|website|birth|\bid\b|\bcode\b)"
)
_AT = re.compile(r"[^@\s]+@[^@\s]+\.\w")


@dataclass(frozen=True)
class Choice:
    """A column chosen in the round tabs, the other candidates and why this one."""

    column: str | None
    why: str
    candidates: tuple[str, ...] = ()
    check: bool = False  # a guess the coordinator should confirm


def looks_identifying(header: str) -> bool:
    """Whether a Panel column's header suggests it identifies a person.

    >>> looks_identifying("Full name"), looks_identifying("Phone"), looks_identifying("Country")
    (True, True, False)
    """
    return bool(_IDENTIFYING.search(header))


def _headers(tabs: list[list[list[Any]]]) -> list[list[str]]:
    return [[cell_text(h) for h in rows[0]] if rows else [] for rows in tabs]


def _values(rows: list[list[Any]], j: int) -> list[Any]:
    return [r[j] for r in rows[1:] if j < len(r) and cell_text(r[j])]


def _where(name: str, headers: list[list[str]]) -> int:
    return sum(bool(find_column(h, name)) for h in headers)


@dataclass(frozen=True)
class _Candidate:
    """A column that may identify panelists, and how well."""

    name: str
    tabs: int  # round tabs that have it
    rank: int  # its kind's place in _KINDS: 0 (e-mail) is the most reliable
    in_panel: bool

    def order(self) -> tuple[int, int, bool]:
        return (-self.tabs, self.rank, not self.in_panel)


def identity_column(rounds: list[list[list[Any]]], panel: list[list[Any]] | None) -> Choice:
    """The column that identifies a panelist: the one in the most round tabs, of the most
    reliable kind (an e-mail column must hold addresses), then one the Panel tab also has."""
    headers = _headers(rounds)
    panel_header = _headers([panel])[0] if panel else []
    seen = list({h.casefold(): h for hs in reversed(headers) for h in reversed(hs) if h}.values())
    seen.reverse()  # each header once, as first written, in order
    found = [
        _Candidate(name, _where(name, headers), rank, bool(find_column(panel_header, name)))
        for rank, (kind, pattern, _) in enumerate(_KINDS)
        for name in seen
        if pattern.search(name) and (kind != "e-mail" or _holds_addresses(rounds, name))
    ]
    if not found:
        why = "no e-mail, ID or name column found; guessed the column after the timestamp"
        return Choice(_fallback(headers), why, tuple(seen), check=True)
    best = min(found, key=_Candidate.order)
    where = f"in {best.tabs} of {len(headers)} round tabs"
    if best.tabs == len(headers):
        where = "in every round tab" if len(headers) > 1 else "in the round tab"
    why = f"{where}{' and the Panel tab' if best.in_panel else ''}: {_KINDS[best.rank][2]}"
    check = best.rank == len(_KINDS) - 1 or best.tabs < len(headers)
    return Choice(best.name, why, tuple(c.name for c in sorted(found, key=_Candidate.order)), check)


def _holds_addresses(rounds: list[list[list[Any]]], name: str) -> bool:
    """Whether most filled cells of column ``name`` look like e-mail addresses."""
    cells = [
        cell_text(v)
        for rows in rounds
        for j in find_column(_headers([rows])[0], name)[:1]
        for v in _values(rows, j)
    ]
    return not cells or sum(bool(_AT.search(c)) for c in cells) * 2 > len(cells)


def _fallback(headers: list[list[str]]) -> str | None:
    first = next((h for h in headers if h), [])
    return first[1] if len(first) > 1 else (first[0] if first else None)


def timestamp_column(rounds: list[list[list[Any]]]) -> Choice:
    """The submission time column: a known name (as Google Forms writes it in several
    languages), else the first column holding dates and times."""
    headers = _headers(rounds)
    names = [h for hs in headers for h in hs if h.casefold().strip() in _TIMESTAMP_NAMES]
    if names:
        name = names[0]
        where = _where(name, headers)
        why = f"the submission time, in {where} of {len(headers)} round tabs"
        if where == len(headers):
            why = "the submission time, in every round tab"
        return Choice(name, why, tuple(dict.fromkeys(names)))
    for rows, header in zip(rounds, headers, strict=True):
        for j, h in enumerate(header):
            values = _values(rows, j)
            if h and values and all(_is_time(v) for v in values):
                return Choice(h, "its cells are dates and times", (h,), check=True)
    why = (
        "no timestamp column found: a panelist's repeated submissions are then told apart by "
        "row order (the last row is kept)"
    )
    return Choice(None, why, check=True)


def _is_time(value: Any) -> bool:
    """A date-time cell: a datetime, or a Sheets serial number between 1990 and 2100."""
    if isinstance(value, dt.datetime):
        return True
    return isinstance(value, float) and 32874 < value < 73051 and not value.is_integer()
