"""A bounded fuzz harness for untrusted text (issue 12, items 5 and 7): generated headers, cells,
statement texts and domains through ingest and the escaping helpers.

- ingest never raises anything but IngestError, and every problem names its tab, a row of that
  tab (or none) and a column of its header (or none); header problems name row 1 and a column;
- escaped text shows as written and holds no active link, image, HTML or autolink, alone, in a
  caption, or in a word diff;
- hiding server paths never fails and leaves no path.

Seeded (derandomize) and bounded (max_examples): a few seconds in all.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
from hypothesis import event, given, settings
from hypothesis import strategies as st

from lib.ingest import IngestError, column_letter, ingest
from lib.ingest.columns import MAX_HEADER
from lib.sources import RawSource
from lib.textsafe import _ABS_PATH, WORD_JOINER, escape_markdown, hide_paths
from lib.wording import diff_markdown
from tests.helpers import LABELS, tiny_config
from tests.untrusted import PAYLOADS, markdown_links, markdown_text

FUZZ = settings(max_examples=60, deadline=None, derandomize=True)

# Pieces a hostile or careless sheet is made of: markdown, HTML, URLs, addresses, brackets for the
# grid pattern, statement IDs, invisible and look-alike characters, newlines.
PIECES = [
    *PAYLOADS,
    "[",
    "]",
    "(",
    ")",
    "![",
    "](",
    "<",
    ">",
    "`",
    "**",
    "_",
    ":red[",
    ":material/home:",
    "$x$",
    "&amp;",
    "http://",
    "https://a.example",
    "www.",
    "WWW.b.example",
    "@",
    "a@b.example",
    "/srv/x/y.duckdb",
    "S01. ",
    "[S02] ",
    "S1.2 – ",
    "Comments",
    "Timestamp",
    "Email Address",
    "\n",
    "  ",
    "\t",
    "\u200b",
    "\u2060",
    "ß",
    "ẞ",
    "ｗｗｗ．",
    "\U0001f600",
    "\\",
]
text = st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=8).map("".join)
cell = st.one_of(
    text,
    st.sampled_from([*LABELS, "Unable to judge", "", None, 3, 4.0, -1, True]),
    st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1)),
)
long_header = st.sampled_from(["[", "[ ", "a", " ", "[x"]).map(lambda s: s * (MAX_HEADER + 1))


@st.composite
def round_tab(draw) -> list[list]:
    """A round tab: identity and time columns (sometimes), statement questions, fuzzed headers."""
    header = draw(st.lists(text | long_header, min_size=1, max_size=6))
    if draw(st.integers(0, 5)) < 5:  # mostly a tab ingest reads (else refused: IngestError)
        header = ["Timestamp", "Email Address", "S01. Low doses work", *header]
    who = st.sampled_from(["a@x.example", "A@X.example ", "straße@x", "strasse@x", ""]) | text
    row = st.tuples(cell, who, st.lists(cell, max_size=len(header) - 1)).map(
        lambda t: [t[0], t[1], *t[2]]
    )
    return [header, *draw(st.lists(row, max_size=5))]


def _check_problem(p: dict, tabs: dict[str, list[list]]) -> None:
    rows = tabs[p["tab"]]  # a tab of the source
    width = max((len(r) for r in rows), default=0)
    assert p["row"] is None or 1 <= p["row"] <= len(rows), p
    assert p["column"] == "" or p["column"] in {column_letter(j) for j in range(width)}, p
    if p["kind"] in {"header too long", "question not matched", "duplicate header"}:
        assert p["row"] == 1 and p["column"], p


@FUZZ
@given(round_tab(), round_tab())
def test_ingest_reports_every_problem_at_a_cell_and_never_crashes(first, second):
    tabs = {"Round 1": first, "Round 2": second}
    raw = RawSource(tabs=tabs, source="fuzz", all_tabs=list(tabs))
    try:
        res = ingest(raw, tiny_config(statements_tab=""))
    except IngestError:
        event("refused")
        return
    event(f"{min(len(res.problems), 5)} problems (5: 5 or more)")
    for p in res.problems.to_dict("records"):
        _check_problem({**p, "row": None if pd.isna(p["row"]) else p["row"]}, tabs)
        for field in ("tab", "header", "message"):
            assert not markdown_links(escape_markdown(p[field])), p


@FUZZ
@given(text)
def test_escaped_text_is_literal_and_inert(value):
    out = escape_markdown(value)
    assert not markdown_links(out), (value, out)
    assert markdown_text(out) == value.replace(WORD_JOINER, "")


@FUZZ
@given(text, text, text)
def test_captions_and_word_diffs_of_statements_are_inert(sid, domain, wording):
    caption = f"Round 2 · {escape_markdown(sid)} · {escape_markdown(domain)}"
    assert not markdown_links(caption), caption
    diff = diff_markdown(wording, f"{domain} {wording} {sid}")
    assert not markdown_links(diff), diff


@FUZZ
@given(text)
def test_hidden_paths_stay_hidden(value):
    out = hide_paths(value, known=["/srv/x/y.duckdb", "rel/dir/z.toml"])
    assert _ABS_PATH.search(out) is None and hide_paths(out) == out
