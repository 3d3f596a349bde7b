"""The next round's statements: the ones without consensus to keep, revise or drop, new ones,
and the rows of the Statements tab they become (authoring, not export)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from lib.reports.safety import safe_csv, safe_workbook

__all__ = [
    "ACTIONS",
    "STATEMENT_COLUMNS",
    "EDITABLE",
    "next_id",
    "new_statement_id",
    "new_statements",
    "next_round_candidates",
    "next_round_rows",
    "next_round_csv",
    "next_round_xlsx",
]

ACTIONS = ("keep", "revise", "drop")
# The columns of the study's Statements tab (see lib.ingest).
STATEMENT_COLUMNS = ["statement_id", "round", "domain", "text", "revised_from"]
# What the coordinator decides in a plan of ``next_round_candidates``; the rest is shown as is.
EDITABLE = ("action", "revised_text", "new_id", "note")
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,19}")


def _bump(suffix: str) -> str:
    """The next letter suffix: '' → a, a → b, z → aa, az → ba."""
    if not suffix:
        return "a"
    if suffix[-1] != "z":
        return suffix[:-1] + chr(ord(suffix[-1]) + 1)
    return _bump(suffix[:-1]) + "a"


def next_id(statement_id: str, taken: Iterable[str]) -> str:
    """The id of a revised statement: a letter suffix added or incremented, skipping ids in use.

    >>> next_id("S07", [])
    'S07a'
    >>> next_id("S07a", ["S07b"])
    'S07c'
    """
    m = re.fullmatch(r"(.*?\d)([a-z]*)", statement_id)
    base, suffix = (m[1], m[2]) if m else (statement_id, "")
    used = set(taken)
    while True:
        suffix = _bump(suffix)
        if base + suffix not in used:
            return base + suffix


def new_statement_id(taken: Iterable[str]) -> str:
    """The next free id after the highest number in use, same prefix and width.

    >>> new_statement_id(["S01", "S07a", "S42"])
    'S43'
    """
    used = set(taken)
    found = [m for m in (re.fullmatch(r"([A-Za-z]*)(\d+)[a-z]*", t) for t in sorted(used)) if m]
    prefix, width, n = "S", 2, 0
    if found:
        prefixes = [m[1] for m in found]
        prefix = max(dict.fromkeys(prefixes), key=prefixes.count)
        nums = [m[2] for m in found if m[1] == prefix]
        n, width = max(int(x) for x in nums), max(len(x) for x in nums)
    while True:
        n += 1
        if f"{prefix}{n:0{width}d}" not in used:
            return f"{prefix}{n:0{width}d}"


def new_statements() -> pd.DataFrame:
    """An empty table of new statements to fill in: statement_id, domain and text."""
    return pd.DataFrame({c: pd.Series(dtype="str") for c in ("statement_id", "domain", "text")})


def next_round_candidates(
    metrics: pd.DataFrame,
    comments: pd.DataFrame,
    statements: pd.DataFrame,
    round_: int | None = None,
) -> pd.DataFrame:
    """The statements without consensus in ``round_`` (default: the last), to decide on.

    Columns: action (keep), statement_id, text, revised_text (the current wording, to edit into
    a revision rather than retype), new_id (the suggested id of a revision), note, their
    results and comments, and domain.
    """
    rnd = int(metrics["round"].max()) if round_ is None else round_
    m = metrics[(metrics["round"] == rnd) & (metrics["status"] == "no_consensus")]
    taken, suggested = set(statements["statement_id"]), []
    for sid in m["statement_id"]:
        suggested.append(next_id(sid, taken))
        taken.add(suggested[-1])
    said = (
        comments[comments["round"] == rnd]
        .groupby("statement_id")["comment"]
        .agg(lambda c: "  •  ".join(c))
    )
    return pd.DataFrame(
        {
            "action": "keep",
            "statement_id": m["statement_id"],
            "text": m["text"],
            "revised_text": m["text"],  # edit, not retype
            "new_id": pd.Series(suggested, index=m.index, dtype=str),  # text even when empty
            "note": "",
            "pct_agree": m["pct_agree"],
            "median": m["median"],
            "iqr": m["iqr"],
            "n": m["n"],
            "comments": m["statement_id"].map(said).astype(object).fillna(""),
            "domain": m["domain"],
        }
    ).reset_index(drop=True)


def _text(value: Any) -> str:
    return (
        "" if value is None or (isinstance(value, float) and value != value) else str(value).strip()
    )


def _id_problems(new: str, used: set[str], what: str) -> list[str]:
    if not _SAFE_ID.fullmatch(new):
        return [
            f"{what}: the id “{new}” may only use letters, digits, '.', '_' and '-' "
            "(up to 20, starting with a letter or digit)"
        ]
    return [f"{what}: the id {new} is already in use"] if new in used else []


def _decided(plan: pd.DataFrame, next_round: int, used: set[str]) -> tuple[list[tuple], list[str]]:
    """Rows for the kept and revised statements of ``plan``, and the problems found."""
    rows, problems = [], []
    for r in plan.itertuples():
        action, revised = _text(r.action) or "keep", _text(r.revised_text)
        if action == "keep":
            if revised and revised != _text(r.text):
                problems.append(
                    f"{r.statement_id}: the wording was edited but the action is "
                    "keep; choose revise, or undo the edit"
                )
            rows.append((r.statement_id, next_round, r.domain, r.text, None))
        elif action == "revise":
            nid = _text(r.new_id) or next_id(r.statement_id, used)
            if not revised or revised == _text(r.text):
                problems.append(f"{r.statement_id}: revise needs a new wording")
            problems += _id_problems(nid, used, r.statement_id)
            used.add(nid)
            rows.append((nid, next_round, r.domain, revised, r.statement_id))
        elif action != "drop":
            problems.append(f"{r.statement_id}: the action must be one of {', '.join(ACTIONS)}")
    return rows, problems


def _added(new: pd.DataFrame, next_round: int, used: set[str]) -> tuple[list[tuple], list[str]]:
    """Rows for the new statements (an empty id gets the next free one), and the problems."""
    rows, problems = [], []
    for r in new.itertuples():
        text, given = _text(r.text), _text(r.statement_id)
        if not text:
            if given or _text(r.domain):
                problems.append(f"new statement {given or '(no id)'}: its wording is missing")
            continue
        nid = given or new_statement_id(used)
        problems += _id_problems(nid, used, f"new statement {nid}")
        used.add(nid)
        rows.append((nid, next_round, _text(r.domain) or None, text, None))
    return rows, problems


def next_round_rows(
    plan: pd.DataFrame, new: pd.DataFrame, next_round: int, taken: Iterable[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Rows of the Statements tab for ``next_round``, and the problems to fix first.

    ``plan`` is ``next_round_candidates`` as edited (keep / revise / drop); ``new`` holds new
    statements (statement_id, domain, text; an empty id gets the next free one).  A revision
    gets its new id and ``revised_from``; the problem list is empty when the rows are ready.
    """
    used = set(taken)
    rows, problems = _decided(plan, next_round, used)
    added, more = _added(new, next_round, used)
    out = pd.DataFrame(rows + added, columns=STATEMENT_COLUMNS, dtype=object)
    return out.astype({"round": "int64"}), problems + more


def row_notes(plan: pd.DataFrame, rows: pd.DataFrame) -> dict[str, str]:
    """The coordinator's note on each row of the next round, by the row's own id: a revision's
    note follows it to whatever id it was given (typed, or the next free one when left empty).

    >>> plan = pd.DataFrame({"statement_id": ["S1", "S2"], "note": ["clearer", "kept"]})
    >>> ids, was = ["S1a", "S2", "S9"], ["S1", None, None]
    >>> rows = pd.DataFrame({"statement_id": ids, "revised_from": was})
    >>> row_notes(plan, rows)
    {'S1a': 'clearer', 'S2': 'kept', 'S9': ''}
    """
    said = {
        sid: str(n) if pd.notna(n) else ""
        for sid, n in zip(plan["statement_id"], plan["note"], strict=True)
    }
    out = {}
    for sid, was in zip(rows["statement_id"], rows["revised_from"], strict=True):
        out[sid] = said.get(was if isinstance(was, str) and was else sid, "")
    return out


def next_round_csv(rows: pd.DataFrame) -> str:
    """The next round's rows for the Statements tab, as CSV (formulas neutralised)."""
    return safe_csv(rows[STATEMENT_COLUMNS])


def next_round_xlsx(rows: pd.DataFrame, plan: pd.DataFrame) -> bytes:
    """A workbook: the Statements rows to paste, and the decisions taken on each statement.

    Text is written as typed text (``lib.reports.safety.typed_text``): an id or wording starting
    with ``-``, ``+``, ``=`` or ``@`` shows and pastes back into the sheet unchanged, and never
    runs as a formula.  (The CSV cannot carry a cell's type: it keeps the apostrophe.)
    """
    revised = plan["action"] == "revise"
    decisions = plan.assign(
        new_id=plan["new_id"].where(revised, ""),
        revised_text=plan["revised_text"].where(revised, ""),
    )[
        [
            "statement_id",
            "action",
            "new_id",
            "revised_text",
            "note",
            "pct_agree",
            "median",
            "iqr",
            "n",
        ]
    ]
    sheets = {"Statements": rows[STATEMENT_COLUMNS], "Decisions": decisions}
    return safe_workbook(sheets, as_typed_text=True)
