"""Untrusted text (statements, comments, headers, tab names, error messages) shown as plain
text, never as markup, and server file paths kept out of what observers read."""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "escape_markdown",
    "code_span",
    "hide_paths",
    "wrap",
    "short",
    "plural",
    "WORD_JOINER",
]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&])")
WORD_JOINER = "\u2060"  # invisible, no width, no line break; not a word character
# GFM autolink literals: Streamlit's markdown (remark-gfm) turns "http(s)://…", "www.…" and
# e-mail addresses into links by matching the text *after* backslash escapes are resolved, so no
# escape stops them.  A word joiner at each trigger does: after "scheme:" (before "//"), between
# "www" and ".", and before "@" (remark-gfm's patterns need these characters adjacent).
_AUTOLINK = re.compile(r"(?<=:)(?=//)|(?i:(?<=www)(?=\.))|(?=@)")
# An absolute path (POSIX, home-relative or Windows) of two parts or more; not inside a URL.
_PATH_PART = r"[^\s/\\'\"`()<>\[\]{},;]"
_ABS_PATH = re.compile(
    rf"(?<![\w.~:/\\-])(?:~|[A-Za-z]:)?[/\\](?:{_PATH_PART}+[/\\])+({_PATH_PART}*)"
)


def escape_markdown(text: object) -> str:
    """Text that Streamlit's markdown shows literally: no links, images, HTML or formatting.

    Every ASCII punctuation character that markdown reads is backslash-escaped (CommonMark 2.4)
    and GFM autolink literals are broken by an invisible word joiner (``WORD_JOINER``).

    >>> print(escape_markdown("**hi** <b>"))
    \\*\\*hi\\*\\* \\<b\\>
    >>> escape_markdown("www.x.org a@b.org") == "www\\u2060\\\\.x\\\\.org a\\u2060@b\\\\.org"
    True
    """
    s = _AUTOLINK.sub(WORD_JOINER, str(text))
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return s.replace("\n", "  \n")


def code_span(text: object) -> str:
    """Markdown showing ``text`` verbatim in code font: copied exactly (an address to paste), and
    nothing inside is read as markup or linked.

    >>> print(code_span("a@b.org"), code_span("x`y"))
    `a@b.org` `` x`y ``
    """
    s = " ".join(str(text).split())  # a code span is one line
    fence = "`" * (max(map(len, re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or "`" in s else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def hide_paths(text: object, known: Iterable[str | os.PathLike[str] | None] = ()) -> str:
    """``text`` with every server file path cut to ``…/`` and its last part.

    ``known`` paths (the database, the configuration, the workbook; relative or absolute) are
    replaced wherever they occur; any other absolute path is found by its shape.  Apply it
    before escaping.

    >>> hide_paths("cannot open /srv/delphi/data/study.duckdb (busy)")
    'cannot open …/study.duckdb (busy)'
    >>> hide_paths("see data/x.xlsx and https://example.org/a/b", known=["data/x.xlsx"])
    'see …/x.xlsx and https://example.org/a/b'
    """
    s = str(text)
    forms = set()
    for p in known:
        if p and "://" not in str(p) and re.search(r"[/\\]", str(p)):  # a path, not a URL
            forms |= {str(p), str(Path(p).resolve())}
    for form in sorted(forms, key=len, reverse=True):
        s = s.replace(form, "…/" + Path(form).name)
    return _ABS_PATH.sub(lambda m: "…/" + m.group(1), s)


def wrap(text: str, width: int = 48, max_lines: int = 4) -> str:
    """Wrap a long statement for a chart label with ``<br>``, HTML-escaped (Plotly renders it)."""
    import textwrap

    lines = textwrap.wrap(str(text), width) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: width - 1] + "…"
    return "<br>".join(html.escape(line) for line in lines)


def short(text: str, width: int = 70) -> str:
    """One line, cut with an ellipsis."""
    t = " ".join(str(text).split())
    return t if len(t) <= width else t[: width - 1] + "…"


def plural(n: int, noun: str) -> str:
    """A count with its noun, plural unless it is one.

    >>> plural(1, "problem"), plural(0, "problem")
    ('1 problem', '0 problems')
    """
    return f"{n} {noun}{'' if n == 1 else 's'}"
