"""Shared test helpers: small studies built in code, paths, and an HTML reader.

Test modules import these from here (never from another test module); fixtures that use them
live in conftest.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from lib.config import config_from_dict

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
LABELS = {
    "Strongly disagree": 1,
    "Disagree": 2,
    "Neither agree nor disagree": 3,
    "Agree": 4,
    "Strongly agree": 5,
}


def tiny_config(**overrides):
    """A 5-point, two-round study configuration (≥ 75% agreement); Country is an attribute."""
    base = {
        "title": "Tiny study",
        "source": "tiny.xlsx",
        "timezone": "Europe/London",
        "panel_attributes": ["Country"],
        "scale": {"min": 1, "max": 5, "labels": LABELS, "no_opinion": ["Unable to judge"]},
        "rounds": {"Round 1": 1, "Round 2": 2},
        "consensus": {"preset": "pct75"},
    }
    base.update(overrides)
    return config_from_dict(base)


def tiny_tabs() -> dict[str, list[list]]:
    """Two rounds, four panelists, three statements; one duplicate, one blank, one comment."""
    t = dt.datetime
    return {
        "Round 1": [
            [
                "Timestamp",
                "Email Address",
                "S01. Low doses work",
                "Comments (optional)",
                "S02. Peels are safe",
                "Any final remarks?",
            ],
            [t(2026, 9, 1, 9), "a@x.example", "Agree", "Sensible", "Disagree", ""],
            [t(2026, 9, 1, 10), "b@x.example", "Strongly agree", "", "Unable to judge"],
            [t(2026, 9, 2, 11), "c@x.example", "Agree", "", "Agree", "thanks"],
            [t(2026, 9, 2, 12), "d@x.example", "Disagree", "", ""],
            [t(2026, 9, 3, 8), " A@X.example ", "Strongly agree", "Changed my mind", "Disagree"],
        ],
        "Round 2": [
            ["Timestamp", "Email Address", "S02. Peels are safe", "Comments (optional)"],
            [t(2026, 10, 1, 9), "a@x.example", "Agree", ""],
            [t(2026, 10, 1, 10), "c@x.example", "Strongly agree", '=HYPERLINK("x")'],
            [t(2026, 10, 2, 9), "b@x.example", "Agree", ""],
        ],
        "Panel": [
            ["Email Address", "Name", "Country"],
            ["a@x.example", "Ann Alpha", "Italy"],
            ["b@x.example", "Bob Beta", "Spain"],
            ["c@x.example", "Cat Gamma", "Italy"],
            ["d@x.example", "Dan Delta", "Spain"],
        ],
    }


# Panel columns that identify a person but slipped through a header-word filter (issue 12).
IDENTIFYING_COLUMNS = [
    "first_name",
    "Surname",
    "Telephone",
    "Nom",
    "Mobile_no",
    "LinkedIn",
    "Initials",
]


def with_identifying_columns(panel: list[list]) -> tuple[list[list], set[str]]:
    """A Panel tab (identity, name, …) with IDENTIFYING_COLUMNS added from each name, and
    every value they hold (to search rendered pages for)."""
    header, *rows = panel
    out, values = [[*header, *IDENTIFYING_COLUMNS]], set()
    for i, row in enumerate(rows):
        first, last = str(row[1]).split(" ", 1)
        extra = [
            first,
            last,
            f"+44 20 7946 {i:04d}",
            f"{last}, {first}",
            f"07700 900{i:03d}",
            f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}-{i}",
            f"{first[0]}.{last[0]}.",
        ]
        out.append([*row, *extra])
        values.update(extra)
    return out, values


# --- the consensus report's sheets and results table, as test_reports and test_cli read them ----

SHEETS = [
    "Summary",
    "Final statements",
    "Areas of uncertainty",
    "Uncertainty by round",
    "Metrics per round",
    "Statement flow",
    "Items dropped",
    "Revisions",
    "Stability",
    "Kendall W",
    "Panel and response",
    "Panel composition",
    "Eligibility",
    "Comments",
    "Methods",
]
RESULT_HEAD = ["ID", "Statement", "Ratings", "n", "Agree", "Median (IQR)", "Status"]


# --- an HTML reader built on the standard library's parser ------------------------------------

_VOID = {"meta", "col", "br", "img", "input", "link", "hr", "source", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    parents: list[dict[str, str]]
    text: list[str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def inside(self, attr: str) -> str | None:
        """The value of ``attr`` on the nearest ancestor that has it."""
        return next((p[attr] for p in reversed(self.parents) if attr in p), None)


class Page(HTMLParser):
    """Elements with their text, tables as rows of cell texts, and the text outside scripts."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.tables: list[list[list[str]]] = []
        self.visible: list[str] = []
        self._open: list[Element] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        if tag not in _VOID:
            self._open.append(Element(tag, attrs, [e.attrs for e in self._open]))

    def handle_endtag(self, tag):
        while self._open:
            el = self._open.pop()
            self.elements.append(el)
            if el.tag in ("td", "th") and self.tables and self.tables[-1]:
                self.tables[-1][-1].append("".join(el.text).strip())
            if el.tag == tag:
                break

    def handle_data(self, data):
        for el in self._open:
            el.text.append(data)
        if not any(e.tag in ("script", "style") for e in self._open):
            self.visible.append(data)

    def find(self, tag: str, cls: str | None = None) -> list[Element]:
        return [e for e in self.elements if e.tag == tag and (cls is None or cls in e.classes)]

    def table(self, head: list[str]) -> list[list[list[str]]]:
        """Every table whose header row is ``head``, without the header."""
        return [t[1:] for t in self.tables if t and t[0] == head]

    @property
    def text(self) -> str:
        return " ".join(self.visible)


def signed_in_app(role: str | None = None):
    """AppTest of app.py with sign-in configured (no demo mode), signed in as ``role`` (or an
    observer); passwords "boss" (coordinator) and "team" (committee)."""
    from streamlit.testing.v1 import AppTest

    from lib.auth import hash_password

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.secrets["access"] = {
        "coordinator_password_hash": hash_password("boss", iterations=1000),
        "committee_password_hash": hash_password("team", iterations=1000),
    }
    if role:
        at.session_state["role"] = role
    return at
