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
    "rule_in_words",
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


def _rng(r: tuple) -> str:
    return f"{r[0]:g}–{r[1]:g}" if r[0] != r[1] else f"{r[0]:g}"


def _conditions(rule: Any, side: tuple, other: tuple, median: tuple | None) -> str:
    """What a statement needs on one side of the rule, as a clause: "at least 75% rate it 7–9
    and fewer than 15% rate it 1–3"."""
    parts = []
    if rule.threshold is not None:
        parts.append(f"at least {rule.threshold:g}% rate it {_rng(side)}")
    if rule.max_opposite is not None:
        parts.append(f"fewer than {rule.max_opposite:g}% rate it {_rng(other)}")
    if median is not None:
        parts.append(f"the middle rating (median) is {_rng(median)}")
    if rule.max_iqr is not None:
        parts.append(f"the middle half of the ratings spans at most {rule.max_iqr:g} points (IQR)")
    return ", ".join(parts[:-1]) + (" and " if len(parts) > 1 else "") + parts[-1]


def rule_in_words(rule: Any) -> str:
    """A consensus rule as a sentence a panelist reads once (no "consensus in/out", no
    "mirror image"): both sides spelled out, starting in lower case.

    >>> from lib.analysis.rules import preset
    >>> rule_in_words(preset("pct75"))
    'the panel agrees with a statement when at least 75% rate it 7–9, and disagrees with it \
when at least 75% rate it 1–3; otherwise there is no consensus on it yet'
    """
    if rule.name == "yes_no":
        return (
            f"the panel agrees to a statement when at least {rule.threshold:g}% answer Yes, and "
            f"rejects it when at least {rule.threshold:g}% answer No; otherwise there is no "
            "consensus on it yet"
        )
    if rule.method == "rand_ucla":
        return (
            f"a statement is judged appropriate when the middle rating (median) is "
            f"{_rng(rule.median_agree)} and the panel does not disagree, inappropriate when it is "
            f"{_rng(rule.median_disagree)} and the panel does not disagree, and uncertain "
            "otherwise (RAND/UCLA method)"
        )
    agree = _conditions(rule, rule.agree, rule.disagree, rule.median_agree)
    disagree = _conditions(rule, rule.disagree, rule.agree, rule.median_disagree)
    least = f" (at least {rule.min_n} ratings needed)" if rule.min_n > 1 else ""
    return (
        f"the panel agrees with a statement when {agree}, and disagrees with it when "
        f"{disagree}{least}; otherwise there is no consensus on it yet"
    )


def rule_definition(rule: Any) -> str:
    """A rule's definition as reports state it: the sentence of :func:`rule_in_words`,
    capitalised, and for RAND/UCLA its disagreement formula too.

    >>> from lib.analysis.rules import preset
    >>> rule_definition(preset("comet_70_15"))[:60]
    'The panel agrees with a statement when at least 70% rate it '
    """
    words = rule_in_words(rule)
    out = f"{words[:1].upper()}{words[1:]}."
    return f"{out} {rule.describe()}" if rule.method == "rand_ucla" else out


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
        in_words=rule_in_words,
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
