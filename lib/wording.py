"""Word-level differences between two versions of a statement, rendered safely.

Statement texts are untrusted: every piece of text is escaped before it is wrapped in markup, so
a statement can never inject markdown, HTML or a link. Whitespace is normalised to single spaces.
"""

from __future__ import annotations

import html
import re
from difflib import SequenceMatcher

from lib.textsafe import escape_markdown

__all__ = ["diff_words", "diff_markdown", "diff_html", "change_summary"]

# A word, a number, or one punctuation mark; each keeps the whitespace before it.
_TOKEN = re.compile(r"(\s*)(\w+|[^\w\s])")


def _tokens(text: str) -> list[tuple[str, str]]:
    """(leading space, token) pairs; the leading space is '' or ' '."""
    text = text if isinstance(text, str) else ""  # None or NaN: no wording recorded
    return [(" " if space else "", tok) for space, tok in _TOKEN.findall(text)]


def diff_words(old: str, new: str) -> list[tuple[str, str]]:
    """The edit from ``old`` to ``new`` as (op, text) runs, op in equal / delete / insert.

    Joining the equal and insert runs gives ``new`` and joining the equal and delete runs gives
    ``old`` (with whitespace normalised).

    >>> diff_words("a fixed dose of 20 mg", "a fixed dose of 10 mg")
    [('equal', 'a fixed dose of'), ('delete', ' 20'), ('insert', ' 10'), ('equal', ' mg')]
    """
    a, b = _tokens(old), _tokens(new)
    matcher = SequenceMatcher(None, [t for _, t in a], [t for _, t in b], autojunk=False)
    runs: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op in ("delete", "replace"):
            runs.append(("delete", "".join(s + t for s, t in a[i1:i2])))
        if op in ("insert", "replace"):
            runs.append(("insert", "".join(s + t for s, t in b[j1:j2])))
        if op == "equal":
            runs.append(("equal", "".join(s + t for s, t in b[j1:j2])))
    if runs and runs[0][1].startswith(" "):
        runs[0] = (runs[0][0], runs[0][1][1:])
    return runs


def diff_markdown(old: str, new: str) -> str:
    """Streamlit markdown of the edit: removed words struck through in red, added words bold
    in blue (shape and colour both mark the change). Every word is escaped."""
    parts, last = [], ""
    for op, text in diff_words(old, new):
        lead, body = (" ", text[1:]) if text.startswith(" ") else ("", text)
        if op == "insert" and last == "delete":
            lead = " "  # keep a struck-out word and its replacement apart ("low" -> "Low")
        last, body = op, escape_markdown(body)
        if op == "delete":
            parts.append(f"{lead}:red[~~{body}~~]")
        elif op == "insert":
            parts.append(f"{lead}:blue[**{body}**]")
        else:
            parts.append(lead + body)
    return "".join(parts)


def diff_html(old: str, new: str) -> str:
    """HTML of the edit with ``<del>`` / ``<ins>``; every word is HTML-escaped."""
    tags = {"delete": "del", "insert": "ins"}
    parts = []
    for op, text in diff_words(old, new):
        body = html.escape(text)
        parts.append(f"<{tags[op]}>{body}</{tags[op]}>" if op in tags else body)
    return "".join(parts)


def change_summary(old: str, new: str) -> str:
    """A short description of the edit: '3 words removed, 5 added' or 'unchanged'."""
    counts = {"delete": 0, "insert": 0}
    marks = False
    for op, text in diff_words(old, new):
        if op in counts:
            words = sum(bool(re.match(r"\w", t)) for _, t in _tokens(text))
            counts[op] += words
            marks |= words < len(_tokens(text))
    if not any(counts.values()):
        return "punctuation changed" if marks else "unchanged"
    parts = []
    if counts["delete"]:
        parts.append(f"{counts['delete']} word{'s' * (counts['delete'] != 1)} removed")
    if counts["insert"]:
        parts.append(f"{counts['insert']} word{'s' * (counts['insert'] != 1)} added")
    return ", ".join(parts)
