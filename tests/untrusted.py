"""Untrusted text for tests: hostile sheet texts, and what Streamlit's markdown would make of them.

``markdown_links`` is a model of Streamlit 1.67's markdown (react-markdown with remark-gfm, in
static/js/StreamlitMarkdown.*.js) reduced to what can fetch or link: inline and reference links
and images (``](`` / ``][``), autolinks and raw HTML (``<``), and remark-gfm's autolink literals,
which it finds with these two patterns in the text *after* backslash escapes are resolved::

    /(https?:\\/\\/|www(?=\\.))([-.\\w]+)([^ \\t\\r\\n]*)/gi
    /(?<=^|\\s|\\p{P}|\\p{S})([-.\\w+]+)@([-\\w]+(?:\\.[-\\w]+)+)/gu

(``\\w`` is ASCII in JavaScript.)  The patterns are used here without their boundary
conditions, so the model finds a superset of what the browser links.  tests/browser checks the
real renderer.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import openpyxl

from lib.textsafe import WORD_JOINER
from tests.helpers import LABELS

__all__ = [
    "PAYLOADS",
    "hostile_tabs",
    "write_study",
    "markdown_links",
    "markdown_text",
    "markdown_strings",
]

# A header, tab name, statement text or domain written by someone hostile (or careless).
PAYLOADS = [
    "![x](http://127.0.0.1:1/pixel.png)",
    "[click](http://evil.example)",
    '<img src="http://127.0.0.1:1/tag.png">',
    "see https://evil.example/login now",
    "www.evil.example",
    "write to ann@evil.example",
]
ANSWERS = ["Strongly agree", "Agree", "Agree", "Disagree", "Strongly agree", "Agree"]


def hostile_tabs() -> dict[str, list[list]]:
    """Two rounds, six panelists; statement texts and domains are the payloads, S03 is revised
    into S03a (so the Statements page shows a word diff), and round 1 has two more questions
    whose headers are payloads (reported as 'question not matched')."""
    t = dt.datetime
    people = [f"p{i}@x.example" for i in range(1, 7)]
    r1 = [["Timestamp", "Email Address", "S01. a", "S02. b", "S03. c", PAYLOADS[0], PAYLOADS[1]]]
    r2 = [["Timestamp", "Email Address", "S02. b", "S03a. c"]]
    for i, who in enumerate(people):
        a = ANSWERS[i]
        r1.append([t(2026, 9, 1, 9 + i), who, a, "Agree", ANSWERS[-1 - i], a, a])
        r2.append([t(2026, 10, 1, 9 + i), who, "Agree", ANSWERS[i - 2]])
    return {
        "Statements": [
            ["statement_id", "round", "domain", "text", "revised_from"],
            ["S01", 1, PAYLOADS[0], PAYLOADS[3], None],
            ["S02", 1, PAYLOADS[1], PAYLOADS[4], None],
            ["S03", 1, PAYLOADS[2], PAYLOADS[5], None],
            ["S02", 2, PAYLOADS[1], PAYLOADS[4], None],
            ["S03a", 2, PAYLOADS[2], f"{PAYLOADS[5]} {PAYLOADS[0]}", "S03"],
        ],
        "Round 1": r1,
        "Round 2": r2,
        "Panel": [["Email Address", "Name"], *[[p, f"Name {p[:2]}"] for p in people]],
    }


def write_study(folder: Path, tabs: dict[str, list[list]], source: str | None = None) -> Path:
    """study.toml (and, unless ``source`` is given, the workbook) for ``tabs``; returns the
    configuration's path."""
    folder.mkdir(parents=True, exist_ok=True)
    if source is None:
        wb = openpyxl.Workbook()
        wb.remove(wb.active)
        for name, rows in tabs.items():
            ws = wb.create_sheet(name)
            for row in rows:
                ws.append(row)
        wb.save(folder / "study.xlsx")
        source = "study.xlsx"
    labels = "\n".join(f"{json.dumps(k)} = {v}" for k, v in LABELS.items())
    rounds = "\n".join(f"{json.dumps(k)} = {n}" for k, n in {"Round 1": 1, "Round 2": 2}.items())
    toml = folder / "study.toml"
    toml.write_text(
        f'title = "Hostile study"\nsource = {json.dumps(source)}\ntimezone = "Europe/London"\n'
        f'[scale]\nmin = 1\nmax = 5\nno_opinion = ["Unable to judge"]\n[scale.labels]\n{labels}\n'
        f'[rounds]\n{rounds}\n[consensus]\npreset = "pct75"\n[privacy]\nmin_group_size = 2\n',
        encoding="utf-8",
    )
    return toml


_ESCAPABLE = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_GFM_URL = re.compile(r"(https?://|www(?=\.))[-.\w]+", re.I | re.A)
_GFM_EMAIL = re.compile(r"[-.\w+]+@[-\w]+(?:\.[-\w]+)+", re.A)


def _resolve(md: str) -> tuple[str, list[bool]]:
    """The text with backslash escapes resolved, and for each character whether it is markup
    (not escaped, not inside a code span)."""
    chars: list[str] = []
    active: list[bool] = []
    i = 0
    while i < len(md):
        if md[i] == "\\" and i + 1 < len(md) and md[i + 1] in _ESCAPABLE:
            chars.append(md[i + 1])
            active.append(False)
            i += 2
            continue
        if md[i] == "`":  # a code span: its content is literal, never linked
            fence = re.match(r"`+", md[i:]).group()
            end = re.compile(rf"(?<!`){fence}(?!`)").search(md, i + len(fence))
            if end:
                chars.append(" " * (end.end() - i))  # kept as blanks: no pattern spans it
                active += [False] * (end.end() - i)
                i = end.end()
                continue
        chars.append(md[i])
        active.append(True)
        i += 1
    text = "".join(chars)
    return text, active


def _opens_line(text: str, close: int) -> bool:
    """Whether the line holding ``text[close]`` starts with ``[`` (a link reference definition)."""
    line = text[text.rfind("\n", 0, close) + 1 : close]
    return line.lstrip(" ").startswith("[") and len(line) - len(line.lstrip(" ")) < 4


def markdown_links(md: str) -> list[str]:
    """What in ``md`` Streamlit's markdown would render as a link, an image or HTML."""
    text, active = _resolve(md)
    found = []
    for k, c in enumerate(text[:-1]):
        nxt = text[k + 1]
        if active[k] and c == "<" and (nxt.isalpha() or nxt in "/!?"):
            found.append(f"HTML or autolink at {k}: {text[k : k + 40]!r}")
        if active[k] and c == "]" and active[k + 1] and nxt in "([":
            found.append(f"link or image at {k}: {text[max(0, k - 40) : k + 40]!r}")
        if active[k] and c == "]" and active[k + 1] and nxt == ":" and _opens_line(text, k):
            found.append(f"link definition at {k}: {text[max(0, k - 40) : k + 40]!r}")
    found += [f"autolink {m.group()!r}" for m in _GFM_URL.finditer(text)]
    found += [f"e-mail link {m.group()!r}" for m in _GFM_EMAIL.finditer(text)]
    return found


def markdown_text(md: str) -> str:
    """The text a reader sees: escapes resolved, word joiners and hard breaks removed."""
    out, i = [], 0
    while i < len(md):
        if md[i] == "\\" and i + 1 < len(md) and md[i + 1] in _ESCAPABLE:
            out.append(md[i + 1])
            i += 2
        else:
            out.append(md[i])
            i += 1
    return "".join(out).replace(WORD_JOINER, "").replace("  \n", "\n")


# Fields of Streamlit's element protos whose text is rendered as markdown.
_MARKDOWN_FIELDS = {"body", "label", "help", "content", "caption"}


def markdown_strings(at: Any) -> list[tuple[str, str]]:
    """(element type, text) of every markdown-rendered string an AppTest run produced: bodies of
    markdown, captions, titles and alerts; labels and help of widgets, metrics, tabs, expanders;
    options of pills and segmented controls."""
    out: list[tuple[str, str]] = []

    def items(value: Any) -> list[Any]:  # a repeated field's values, or the one value
        single = isinstance(value, str | bytes) or hasattr(value, "ListFields")
        return [value] if single else list(value)

    def fields(kind: str, msg: Any) -> None:
        for desc, value in msg.ListFields():
            if desc.type == desc.TYPE_MESSAGE:
                for v in items(value):
                    fields(kind, v)
            elif desc.name in _MARKDOWN_FIELDS and desc.type == desc.TYPE_STRING:
                out.extend((kind, v) for v in items(value))

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            fields(type(node).__name__, proto)
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    return out
