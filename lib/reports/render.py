"""The Jinja2 environment of the documents, their style sheets and the table model they share.

HTML templates (``*.html.j2``) are autoescaped: every value is text unless a template marks it
``|safe`` — only Plotly's chart divs, the distribution bars of ``lib.reports.charts`` and the
package's own style sheets are.
Text templates (``*.txt.j2``, the narrative) are not escaped (they are plain text; the HTML
report escapes them in turn), and in them a line break inside a paragraph is a space, so each
sentence can stand on its own line; a blank line separates paragraphs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from typing import Any

import jinja2
import pandas as pd

from lib.textsafe import plural

__all__ = [
    "render",
    "macros",
    "render_text",
    "stylesheet",
    "text",
    "number",
    "Table",
    "table",
    "frame_table",
]

_PACKAGE = "lib.reports"


def text(value: Any) -> str:
    """A value as text for a document: None and NaN as an empty string."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def number(value: Any, fmt: str = "{:g}") -> str:
    """A number formatted with ``fmt``, or an en dash when it is missing.

    >>> number(4.0), number(None), number(87.5, "{:.0f}%")
    ('4', '–', '88%')
    """
    return "–" if value is None or pd.isna(value) else fmt.format(value)


def _lower_first(value: str) -> str:
    """A rule description inside a sentence: its leading 'Consensus' in lower case."""
    return value[:1].lower() + value[1:] if value.startswith("Consensus") else value


def _capitalize_first(value: str) -> str:
    """A sentence's first letter in upper case, the rest as it is (names keep their case)."""
    return value[:1].upper() + value[1:]


def _and_sep(loop: Any) -> str:
    """Between the items of a ``for`` loop: ', ', then ' and ' before the last one."""
    return "" if loop.last else " and " if loop.revindex == 2 else ", "


def _environment(html: bool) -> jinja2.Environment:
    # Text templates keep every newline: their paragraphs are separated by blank lines.  The
    # templates ship with the code, so they are never checked for changes (auto_reload).
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(_PACKAGE, "templates"),
        autoescape=html,
        undefined=jinja2.StrictUndefined,
        trim_blocks=html,
        lstrip_blocks=html,
        auto_reload=False,
    )
    env.filters.update(
        plural=plural,
        lower_first=_lower_first,
        capitalize_first=_capitalize_first,
        fmt=lambda v, f: format(v, f),
        number=number,
    )
    env.globals.update(and_sep=_and_sep)
    return env


_HTML = _environment(html=True)
_TEXT = _environment(html=False)


def render(name: str, **context: Any) -> str:
    """An HTML template of ``templates/`` rendered with ``context`` (autoescaped)."""
    return _HTML.get_template(name).render(**context)


def macros(name: str) -> Any:
    """The macros of an HTML template, as functions returning autoescaped markup."""
    return _HTML.get_template(name).module


@cache
def _text_template(name: str) -> jinja2.Template:
    source = files(_PACKAGE).joinpath("templates", name).read_text(encoding="utf-8")
    paragraphs = [
        " ".join(line.strip() for line in para.splitlines() if line.strip())
        for para in source.split("\n\n")
    ]
    return _TEXT.from_string("\n\n".join(p for p in paragraphs if p))


def render_text(name: str, **context: Any) -> str:
    """A text template rendered with ``context``: lines joined, empty paragraphs dropped."""
    out = _text_template(name).render(**context).split("\n\n")
    return "\n\n".join(p for p in out if p.strip())


@cache
def stylesheet(*names: str) -> str:
    """The style sheets ``names`` of ``templates/`` (e.g. ``base.css``), one after the other."""
    return "".join(
        files(_PACKAGE).joinpath("templates", n).read_text(encoding="utf-8") for n in names
    )


@dataclass(frozen=True)
class Table:
    """What ``_table.html.j2`` draws: a header, rows of cells, and per-column layout.

    A cell is text, or a dict with ``text`` and optionally ``small`` (a second line), ``status``
    and ``label`` (a status badge), ``href`` (a link) or ``bar`` (a distribution bar's HTML).
    """

    head: list[str]
    rows: list[list[Any]]
    classes: dict[int, str] = field(default_factory=dict)
    widths: list[int] | None = None


def table(
    head: list[str],
    rows: list[list[Any]],
    num: Iterable[int] = (),
    widths: list[int] | None = None,
    nowrap: Iterable[int] = (0,),
) -> Table:
    """A table: ``num`` columns right-aligned, ``nowrap`` columns (an ID) never broken, and
    ``widths`` each column's share of the width in percent."""
    num = set(num)
    classes = {i: "num" for i in num} | {i: "nowrap" for i in nowrap if i not in num}
    return Table(head, rows, classes, widths)


def frame_table(
    frame: pd.DataFrame, columns: dict[str, str], formats: dict[str, str] | None = None
) -> Table:
    """A table of ``frame``'s columns (name -> header); numbers formatted with ``formats``."""
    formats = formats or {}
    num = [i for i, c in enumerate(columns) if pd.api.types.is_numeric_dtype(frame[c])]
    rows = [
        [
            number(v, formats[c]) if c in formats else text(v)
            for c, v in zip(columns, row, strict=True)
        ]
        for row in frame[list(columns)].itertuples(index=False)
    ]
    return table(list(columns.values()), rows, num, nowrap=())
