"""Untrusted text (statements, comments, headers) shown as plain text, never as markup."""

from __future__ import annotations

import html
import re

__all__ = ["escape_markdown", "wrap", "short"]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=^&])")


def escape_markdown(text: object) -> str:
    """Text that Streamlit's markdown shows literally: no links, images, HTML or formatting.

    Every ASCII punctuation character that markdown reads is backslash-escaped (CommonMark 2.4).

    >>> print(escape_markdown("**hi** <b>"))
    \\*\\*hi\\*\\* \\<b\\>
    """
    s = _MD_SPECIAL.sub(r"\\\1", str(text))
    return s.replace("\n", "  \n")


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
