"""Which tab of a source is which: round tabs (numbered by their names), Statements, Panel."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from lib.config import MAX_ROUND
from lib.ingest.cells import cell_text

__all__ = ["TabRole", "round_number", "statements_tab", "tab_roles"]

# A round tab's name: a word for "round" (or Google Forms' own tab name, in the languages Forms
# writes it) and the round number; "Form Responses" alone is Forms' first tab.
_ROUND_WORDS = (
    r"form\s+responses?|responses?|round|rnd|rd|r|ronda|rodada|tour|runde|wave|vague|delphi"
    r"|respostas\s+ao\s+formulario|reponses\s+au\s+formulaire|respuestas\s+de\s+formulario"
    r"|risposte\s+del\s+modulo|formularantworten|antworten\s+auf\s+formular"
)
_ROUND = re.compile(
    rf"^\s*(?:delphi\s+)?(?:{_ROUND_WORDS})\s*(?:n[o°º]\.?|#|:|-|–|\.)?\s*(\d{{1,3}})(?!\d)",
    re.I,
)
_FORMS_FIRST = re.compile(
    r"^\s*(?:form\s+responses?|respostas\s+ao\s+formulario|reponses\s+au\s+formulaire"
    r"|respuestas\s+de\s+formulario|risposte\s+del\s+modulo|formularantworten)\s*$",
    re.I,
)
_STATEMENTS_NAMES = {"statements", "items", "statement list", "afirmacoes", "enonces"}
_STATEMENTS_COLUMNS = ("statement_id", "round", "text")
_PANEL_NAMES = {
    "panel", "panelists", "panellists", "participants", "experts", "painel", "participantes",
    "panelistes", "experten",
}  # fmt: skip


@dataclass(frozen=True)
class TabRole:
    """What one tab of the source is taken for, and why."""

    tab: str
    role: str  # "round", "statements", "panel" or "ignored"
    round: int | None
    why: str


def _plain(text: str) -> str:
    """Case-folded, accents dropped: ``Réponses`` and ``reponses`` name the same tab."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def round_number(name: str) -> int | None:
    """The round a tab's name gives, else None.

    >>> [round_number(n) for n in ["Form Responses 2", "Round 3", "R1", "Ronda 2", "Tour 1"]]
    [2, 3, 1, 2, 1]
    >>> round_number("Form Responses"), round_number("Statements"), round_number("Round 2026")
    (1, None, None)
    """
    plain = _plain(name)
    if _FORMS_FIRST.match(plain):
        return 1
    m = _ROUND.match(plain)
    if not m:
        return None
    number = int(m.group(1))
    return number if 1 <= number <= MAX_ROUND else None


def _header(rows: list[list[Any]]) -> list[str]:
    return [cell_text(h) for h in rows[0]] if rows else []


def statements_tab(tabs: dict[str, list[list[Any]]]) -> tuple[str | None, str]:
    """The tab listing the statements (columns statement_id, round, text), and why."""
    fits = [t for t, rows in tabs.items() if _has_columns(rows)]
    named = [t for t in fits if _plain(t) in _STATEMENTS_NAMES]
    if named or fits:
        tab = (named or fits)[0]
        return tab, f"its columns include {', '.join(_STATEMENTS_COLUMNS)}"
    lacking = [t for t in tabs if _plain(t) in _STATEMENTS_NAMES]
    if lacking:
        why = (
            f"the tab {lacking[0]!r} lacks the columns {', '.join(_STATEMENTS_COLUMNS)}, so it "
            "is not used: statements are identified by the IDs their questions start with"
        )
        return None, why
    return None, "no tab lists the statements: they are identified by their questions' IDs"


def _has_columns(rows: list[list[Any]]) -> bool:
    header = {h.casefold() for h in _header(rows)}
    return all(c in header for c in _STATEMENTS_COLUMNS)


def tab_roles(tabs: dict[str, list[list[Any]]], order: list[str]) -> list[TabRole]:
    """Each tab's role, in the source's order: the Statements tab, the Panel tab (named so),
    round tabs numbered by their names (the first of two with one number), the rest ignored."""
    stmt, stmt_why = statements_tab(tabs)
    roles: list[TabRole] = []
    taken: dict[int, str] = {}
    for tab in order:
        number = round_number(tab) if tab != stmt else None
        if tab == stmt:
            roles.append(TabRole(tab, "statements", None, stmt_why))
        elif _plain(tab) in _PANEL_NAMES:
            roles.append(TabRole(tab, "panel", None, "named as a panel tab"))
        elif number is not None and number in taken:
            why = f"its name also gives round {number}, which the tab {taken[number]!r} has"
            roles.append(TabRole(tab, "ignored", None, why))
        elif number is not None:
            taken[number] = tab
            roles.append(TabRole(tab, "round", number, f"its name gives round {number}"))
        else:
            why = "its name gives no round number" if tab in tabs else "not a data tab"
            roles.append(TabRole(tab, "ignored", None, why))
    return roles if taken else _unnamed_rounds(roles, tabs)


def _unnamed_rounds(roles: list[TabRole], tabs: dict[str, list[list[Any]]]) -> list[TabRole]:
    """No tab name gives a round: each tab holding responses (a header and rows) is a round,
    numbered in the source's order ("Sheet1" of an exported form), to check."""
    out, n = [], 0
    for r in roles:
        if r.role == "ignored" and len(tabs.get(r.tab) or []) >= 2:
            n += 1
            why = f"no tab name gives a round number; taken as round {n}, as it holds responses"
            out.append(TabRole(r.tab, "round", n, why + ": check"))
        else:
            out.append(r)
    return out
