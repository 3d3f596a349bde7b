"""lib.ingest: comment cells — which are comments, and how several for one statement join."""

from __future__ import annotations

import datetime as dt

from lib.ingest import ingest
from lib.sources import RawSource
from tests.helpers import tiny_config

HEADER = [
    "Timestamp",
    "Email Address",
    "S01. Low doses work",
    "S02. Peels are safe",
    "Comment on S02",
    "Comment on S01",
    "Comment on S01 (continued)",
]


def _comments(rows: list[list]) -> dict[tuple[str, str], str]:
    raw = RawSource(tabs={"Round 1": [HEADER, *rows]}, source="t", all_tabs=["Round 1"])
    res = ingest(raw, tiny_config(rounds={"Round 1": 1}, panel_attributes=[]))
    said = res.ratings.dropna(subset=["comment"])
    keys = zip(said["identity"], said["statement_id"], strict=True)
    return dict(zip(keys, said["comment"], strict=True))


def test_comments_join_in_column_order_and_blank_cells_are_no_comment():
    t = dt.datetime(2026, 9, 1, 9)
    got = _comments(
        [
            [t, "a@x.example", "Agree", "Agree", "", "first", " second "],
            [t, "b@x.example", "Agree", "Agree", None, "   ", ""],
            [t, "c@x.example", "Agree", "Agree", " note "],  # a row cut short
        ]
    )
    assert got == {
        ("a@x.example", "S01"): "first\nsecond",
        ("c@x.example", "S02"): "note",
    }


def test_a_number_or_false_in_a_comment_column_is_kept_as_written():
    # 0 and False are falsy in Python but are not blank cells: kept, as str() writes them
    t = dt.datetime(2026, 9, 1, 9)
    got = _comments([[t, "a@x.example", "Agree", "Agree", 0, False, 3.5]])
    assert got == {("a@x.example", "S02"): "0", ("a@x.example", "S01"): "False\n3.5"}


def test_an_unhashable_comment_cell_does_not_stop_the_others():
    t = dt.datetime(2026, 9, 1, 9)
    got = _comments([[t, "a@x.example", "Agree", "Agree", ["x"], "", "kept"]])
    assert got == {("a@x.example", "S02"): "['x']", ("a@x.example", "S01"): "kept"}
