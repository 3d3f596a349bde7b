"""lib.ingest on odd or hostile cells: identities that look alike, and headers made to be slow
(issue 12, item 7)."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lib.ingest import identity_key, ingest
from lib.ingest.columns import MAX_HEADER, grid_parts
from lib.sources import RawSource
from tests.helpers import tiny_config, tiny_tabs

T0 = dt.datetime(2026, 9, 1, 9)


def _ingest(tabs):
    return ingest(RawSource(tabs=tabs, source="t", all_tabs=list(tabs)), tiny_config())


def _round_1(*identities: str) -> dict[str, list[list]]:
    """Tiny's tabs with round 1 answered by ``identities`` in order, an hour apart; no Panel."""
    tabs = tiny_tabs()
    del tabs["Panel"]
    head = ["Timestamp", "Email Address", "S01. Low doses work", "S02. Peels are safe"]
    rows = [
        [T0 + dt.timedelta(hours=i), who, "Agree", "Disagree"] for i, who in enumerate(identities)
    ]
    tabs["Round 1"] = [head, *rows]
    return tabs


# --- identities ---------------------------------------------------------------------------------


def test_eszett_and_double_s_are_two_people():
    res = _ingest(_round_1("straße@x.example", "strasse@x.example"))
    r1 = res.respondents[res.respondents["round"] == 1]
    assert len(r1) == 2 and "duplicate submission" not in set(res.problems["kind"])


@pytest.mark.parametrize(
    "other",
    [
        "ANN@X.EXAMPLE",  # case
        " ann@x.example\u00a0",  # a no-break space after it
        "ann\u200b@x.example",  # a zero-width space inside
        "\ufeffann@x.example",  # a byte-order mark before it
        "an\u00adn@x.example",  # a soft hyphen
        "ａｎｎ@ｘ.example",  # fullwidth letters (NFKC)
    ],
)
def test_one_person_however_the_identity_is_written(other):
    res = _ingest(_round_1("ann@x.example", other))
    assert len(res.respondents[res.respondents["round"] == 1]) == 1
    dup = res.problems[res.problems["kind"] == "duplicate submission"]
    assert list(dup["row"]) == [2]  # the earlier submission is left out, and said to be


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("STRAẞE@x", "straße@x"),  # capital sharp s
        ("ΟΔΥΣΣΕΥΣ", "οδυσσευς"),  # final sigma
        ("Ǆ", "ǆ"),  # a digraph's capital and small forms
        ("e\u0301", "é"),  # combining accent (NFKC composes it)
    ],
)
def test_case_and_normalisation_variants_share_a_key(a, b):
    assert identity_key(a) == identity_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("straße@x", "strasse@x"), ("İstanbul", "istanbul"), ("ılgaz", "ilgaz")],  # ı: dotless i
)
def test_distinct_letters_keep_distinct_keys(a, b):
    assert identity_key(a) != identity_key(b)


def test_identity_keys_of_ascii_are_unchanged():
    # keys already stored in identity_map (case-folded ASCII) keep their pseudonyms
    assert identity_key("  Ann.Smith+delphi@Example.ORG ") == "ann.smith+delphi@example.org"


# --- headers -------------------------------------------------------------------------------------

_OLD_GRID = re.compile(r"^(?P<title>.*?)\s*\[(?P<row>.+)\]\s*$", re.S)  # quadratic


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.text(alphabet="[] \t\n\u00a0\x1cSa1.", max_size=14) | st.text(max_size=10))
def test_grid_parts_reads_what_the_old_pattern_read(header):
    old = _OLD_GRID.match(header)
    new = grid_parts(header)
    assert (new is None) == (old is None)
    if old:
        assert (new[0].strip(), new[1]) == (old.group("title").strip(), old.group("row"))


N = 32_767  # the most an Excel cell holds
SLOW = [  # each took the old pattern seconds; eight held the refresh lock for 52 s
    "[" * N,
    "[ " * (N // 2),
    "[a]" + " " * (N - 5) + "x",
    "x" * (N - 1) + "]",
    "Domain [" + "[x" * ((N - 9) // 2),
    "S01. " + "a " * ((N - 5) // 2),
    "Comments " + "[" * (N - 9),
    "[S01" + "]" * (N - 4),
]


def test_long_headers_are_reported_by_cell_and_ingest_stays_fast():
    tabs = tiny_tabs()
    head, *rows = tabs["Round 1"]
    tabs["Round 1"] = [
        head + SLOW,
        *[r + [""] * (len(head) - len(r)) + ["Agree"] * 8 for r in rows],
    ]
    started = time.perf_counter()
    res = _ingest(tabs)
    assert time.perf_counter() - started < 2.0
    long = res.problems[res.problems["kind"] == "header too long"]
    assert list(long["column"]) == ["G", "H", "I", "J", "K", "L", "M", "N"]
    assert set(long["tab"]) == {"Round 1"} and set(long["row"]) == {1}
    assert all(len(h) <= 201 for h in long["header"])  # quoted in part, not 32,767 characters
    assert "32,767 characters" in long["message"].iloc[0]
    assert set(res.ratings["statement_id"]) == {"S01", "S02"}  # the rest is read as before


def test_a_grid_header_at_the_cap_is_still_read():
    title = "How much do you agree? "
    header = f"{title}[S01. Low doses work{' ' * (MAX_HEADER - len(title) - 21)}]"
    assert len(header) == MAX_HEADER
    tabs = tiny_tabs()
    tabs["Round 1"][0][2] = header
    res = _ingest(tabs)
    assert "header too long" not in set(res.problems["kind"])
    assert "S01" in set(res.ratings.loc[res.ratings["round"] == 1, "statement_id"])
