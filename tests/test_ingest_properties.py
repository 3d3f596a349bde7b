"""lib.ingest under generated sheets: bad input is reported or refused, never a crash.

Hypothesis builds RawSource tabs the way a Google Form's sheet can go wrong: random, duplicate,
numeric and empty headers; unknown labels; RTL, emoji, zero-width and control characters; 10k-char
cells; rows shorter and longer than the header; ints, floats (NaN, ±inf), bools, None, datetimes;
missing Statements/Panel tabs; the same respondent several times, with and without timestamps.
Runs are derandomised (fixed examples) so CI is reproducible.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lib import store
from lib.ingest import RATING_COLUMNS, IngestError, IngestResult, column_letter, ingest
from lib.pipeline import RefreshError, refresh
from lib.sources import RawSource
from tests.helpers import LABELS, tiny_config, tiny_tabs

FAST = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW = settings(FAST, max_examples=25)

CONFIGS = {
    "ids only": tiny_config(statements_tab=""),
    "statements tab": tiny_config(),
    "no panel": tiny_config(statements_tab="", panel_tab=""),
}
EMAILS = ["a@x.example", "b@x.example", "c@x.example", "d@x.example"]
ODD_TEXT = [
    "مرحبا بالعالم",
    "שלום",
    "\u202eevil\u202c",
    "👍🏽",
    "🏳️‍🌈",
    "\u200b",
    "Agree\u200b",
    "\ufeffS01. x",
    "\x07\x1b[31m\x7f",
    "e\u0301",
    "<b>x</b>",
    "=1+1",
    "   ",
    "\t\n",
    "cut mid-emoji \ud83d",
]
ANSWERS = [
    *LABELS,
    "Unable to judge",
    " agree ",
    "AGREE",
    "Agree (4)",
    "(7)",
    "(-3)",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "4,0",
    "3.5",
    "٣",
    "Mostly agree",
]
STATEMENT_HEADERS = [
    "S01. Low doses work",
    "S02. Peels are safe",
    "[S03] Sun cream daily",
    "Dosing — rate [S04. Weekly dosing]",
    "S1.2 – Weight matters",
    "Low doses work",
    "Peels are safe",
    "S01. Low doses work",
]
OTHER_HEADERS = [
    "Comments (optional)",
    "Comment on S01",
    "Any final remarks?",
    "Email Address",
    " email ADDRESS ",
    "Timestamp",
    "",
    None,
    3,
    3.5,
    True,
    float("nan"),
    dt.datetime(2026, 1, 1),
]
STATEMENTS = [
    ("S01", 1, "Dosing", "Low doses work"),
    ("S02", 1, "Safety", "Peels are safe"),
    ("S02", 2, "Safety", "Peels are safe"),
    ("S03", 2, "Care", "Sun cream daily"),
    ("S04", 1, "Dosing", "Weekly dosing"),
]

chars = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
text = st.text(chars, max_size=30)
long_text = st.builds(
    lambda s, n: (s * (n // len(s) + 1))[:n],
    st.text(chars, min_size=1, max_size=8),
    st.integers(9_000, 10_000),
)
scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.datetimes(),
    st.dates(),
    text,
    st.sampled_from(ODD_TEXT),
    st.sampled_from(ANSWERS),
)
cell = st.one_of(scalar, long_text)
identity = st.one_of(
    st.sampled_from(EMAILS), st.sampled_from(EMAILS).map(lambda e: f"  {e.upper()} "), scalar
)
timestamp = st.one_of(
    st.none(),
    st.datetimes(),
    st.floats(),
    st.integers(),
    st.floats(40_000, 50_000),
    st.sampled_from(
        [
            "13/06/2022 09:00:00",
            "6/13/2022 9:00:00",
            "2022-06-13 09:00:00",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "not a date",
        ]
    ),
    text,
)
answer = st.one_of(st.sampled_from(ANSWERS), st.integers(-3, 9), cell)
rarely = st.sampled_from([False] * 9 + [True])
header_cell = st.one_of(
    st.sampled_from(STATEMENT_HEADERS),
    st.sampled_from(OTHER_HEADERS),
    text,
    st.sampled_from(ODD_TEXT),
    long_text,
)


def _for_header(h) -> st.SearchStrategy:
    name = str(h).strip().casefold()
    if name == "email address":
        return identity
    if name == "timestamp":
        return timestamp
    return answer if h in STATEMENT_HEADERS else cell


@st.composite
def rows_under(draw, header: list, strategy_for=_for_header, max_rows: int = 6) -> list[list]:
    """Data rows beneath ``header``: each as long as the header, shorter, or longer."""
    rows = []
    for _ in range(draw(st.integers(0, max_rows))):
        length = draw(st.integers(0, len(header) + 2))
        rows.append(
            [draw(strategy_for(header[j]) if j < len(header) else cell) for j in range(length)]
        )
    return rows


@st.composite
def round_tab(draw) -> list[list]:
    if draw(rarely):
        return []
    lead = (
        []
        if draw(rarely)
        else ["Email Address"]
        if draw(rarely)
        else ["Timestamp", "Email Address"]
    )
    questions = draw(
        st.lists(st.sampled_from(STATEMENT_HEADERS), min_size=0 if draw(rarely) else 1, max_size=4)
    )
    header = draw(st.permutations(lead + questions + draw(st.lists(header_cell, max_size=4))))
    return [header, *draw(rows_under(header))]


@st.composite
def statements_tab(draw) -> list[list]:
    columns = ["statement_id", "round", "domain", "text", "revised_from"]
    header = draw(
        st.permutations(
            columns
            + draw(st.lists(st.sampled_from([*columns, "Round", "notes", None, 7]), max_size=2))
        )
    )
    if draw(rarely):
        header = header[1:]  # a needed column may be missing: the source is refused
    rows = [header]
    for sid, rnd, domain, wording in draw(st.lists(st.sampled_from(STATEMENTS), max_size=6)):
        known = {"statement_id": sid, "round": rnd, "domain": domain, "text": wording}
        rows.append(
            [
                draw(st.one_of(st.just(known.get(str(h), "")), cell))
                if draw(st.integers(0, 5)) == 0
                else known.get(str(h), "")
                for h in header
            ]
        )
    return rows


@st.composite
def panel_tab(draw) -> list[list]:
    extra = draw(
        st.lists(
            st.sampled_from(["Name", "Country", "identity", "display", "Name", "E-mail", None, 3]),
            max_size=3,
        )
    )
    header = draw(st.permutations(["Email Address", "Name", "Country", *extra]))
    rows = [
        [
            draw(st.sampled_from(EMAILS))
            if str(h) == "Email Address"
            else draw(st.one_of(st.sampled_from(["Italy", "Spain", "Ann", ""]), cell))
            for h in header
        ]
        for _ in range(draw(st.integers(0, 5)))
    ]
    return [header, *rows]


@st.composite
def sheets(draw) -> tuple[RawSource, str]:
    """A generated source and the name of the configuration to read it with."""
    tabs: dict[str, list[list]] = {}
    for name in ("Round 1", "Round 2"):
        if not draw(rarely):  # now and then a round tab is missing
            tabs[name] = draw(round_tab())
    if draw(st.booleans()):
        tabs["Statements"] = draw(statements_tab())
    if draw(st.booleans()):
        tabs["Panel"] = draw(panel_tab())
    if draw(rarely):
        tabs[draw(text)] = [[draw(cell)]]
    raw = RawSource(tabs=tabs, source="generated", all_tabs=list(tabs))
    return raw, draw(st.sampled_from(list(CONFIGS)))


def _check_problems(res: IngestResult, raw: RawSource) -> None:
    for p in res.problems.itertuples():
        assert p.tab in raw.tabs, p
        rows = raw.tabs[p.tab]
        assert pd.isna(p.row) or 1 <= p.row <= len(rows), p
        assert p.column == "" or re.fullmatch(r"[A-Z]+", p.column), p
        if p.column:
            assert p.column in {column_letter(j) for j in range(max(map(len, rows)))}, p
        assert isinstance(p.kind, str) and p.kind and isinstance(p.message, str) and p.message


def _check_ratings(res: IngestResult, cfg) -> None:
    r = res.ratings
    assert list(r.columns) == RATING_COLUMNS
    score = r["rating"].dropna()
    assert score.between(cfg.scale_min, cfg.scale_max).all() and (score % 1 == 0).all()
    assert r.loc[r["no_opinion"], "rating"].isna().all()


def _check_nothing_silently_dropped(res: IngestResult, raw: RawSource, cfg) -> None:
    """Every data row of a round tab is a respondent or has a problem naming it."""
    kept = set(zip(res.respondents["tab"], res.respondents["row"], strict=True))
    reported = set(zip(res.problems["tab"], res.problems["row"], strict=True))
    for tab in cfg.rounds:
        for i in range(2, len(raw.tabs[tab]) + 1):
            assert (tab, i) in kept or (tab, i) in reported, (tab, i)


@FAST
@given(sheets())
def test_ingest_reports_or_refuses_but_never_crashes(generated):
    raw, name = generated
    cfg = CONFIGS[name]
    try:
        res = ingest(raw, cfg)
    except IngestError as exc:
        assert len(str(exc)) > 20  # a sentence, not a bare key
        event("refused: " + str(exc)[:25])
        return
    event(f"ingested: {len(res.ratings) > 0} ratings, {len(res.problems) > 0} problems")
    _check_problems(res, raw)
    _check_ratings(res, cfg)
    assert res.panel.columns.is_unique  # one attribute per name, or the store cannot pivot it
    _check_nothing_silently_dropped(res, raw, cfg)


@pytest.fixture(scope="module")
def good_db(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """A database holding one good snapshot of the tiny study, and that snapshot's metrics."""
    path = tmp_path_factory.mktemp("good") / "good.duckdb"
    tabs = tiny_tabs()
    refresh(CONFIGS["ids only"], path, raw=RawSource(tabs=tabs, source="tiny", all_tabs=list(tabs)))
    with store.connect(path) as con:
        return path, store.metrics_for(con, 1)


@SLOW
@given(sheets())
def test_refresh_of_a_generated_sheet_keeps_the_last_snapshot(good_db, generated):
    raw, name = generated
    master, before = good_db
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "study.duckdb"
        shutil.copy(master, db)
        try:
            new = refresh(CONFIGS[name], db, raw=raw).snapshot_id
        except RefreshError as exc:
            assert exc.step == "validate" and exc.reason  # what ingest accepts, store must too
            new = 1
        with store.connect(db) as con:
            assert store.current_snapshot_id(con) == new
            pd.testing.assert_frame_equal(store.metrics_for(con, 1), before)


# --- the inputs that crashed ingest before (each fixed in lib/ingest/) ----------------------


def _raw(tabs):
    return RawSource(tabs=tabs, source="t", all_tabs=list(tabs))


def _problems(res, kind):
    return res.problems[res.problems["kind"] == kind]


@pytest.mark.parametrize(
    "stamp",
    [
        float("nan"),
        float("inf"),
        1e12,
        -1e7,
        10**400,
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
    ],
)
def test_timestamp_that_is_no_moment_is_reported_not_fatal(stamp):
    tabs = tiny_tabs()
    tabs["Round 2"][1][0] = stamp
    res = ingest(_raw(tabs), CONFIGS["ids only"])
    bad = _problems(res, "bad timestamp")
    assert bad[["tab", "row", "column"]].values.tolist() == [["Round 2", 2, "A"]]
    assert res.respondents["identity"].tolist().count("a@x.example") == 2  # the answers are kept


@pytest.mark.parametrize("number", [10**400, -(10**400)])
def test_integer_too_large_for_a_float_is_off_the_scale(number):
    tabs = tiny_tabs()
    tabs["Round 2"][1][2] = number
    res = ingest(_raw(tabs), CONFIGS["ids only"])
    assert "outside the scale 1–5" in _problems(res, "bad answer")["message"].iloc[0]


@pytest.mark.parametrize("written", ["inf", float("inf"), "nan", 10**30, 1.5, True])
def test_statement_round_must_be_a_whole_number(written):
    tabs = tiny_tabs()
    tabs["Statements"] = [
        ["statement_id", "round", "text"],
        ["S01", written, "Low doses work"],
        ["S02", 1, "Peels are safe"],
        ["S02", 2, "Peels are safe"],
    ]
    res = ingest(_raw(tabs), CONFIGS["statements tab"])
    bad = _problems(res, "bad round")
    assert bad[["tab", "row", "column"]].values.tolist() == [["Statements", 2, "B"]]
    assert "not a whole number" in bad["message"].iloc[0]


@pytest.mark.parametrize(
    "extra,kept_as",
    [
        ("Country", "Country (D)"),
        ("Name", "Name (D)"),
        ("identity", "identity (D)"),
        ("display", "display (D)"),
        ("name", "name (D)"),
    ],
)
def test_repeated_or_reserved_panel_header_is_renamed_and_stored(extra, kept_as, tmp_path):
    tabs = tiny_tabs()
    tabs["Panel"][0].append(extra)
    for row in tabs["Panel"][1:]:
        row.append("Ann Alpha" if extra == "Name" else "Malta")
    listed = list(dict.fromkeys(["Country", extra]))  # the extra column is an attribute
    cfg = tiny_config(statements_tab="", panel_attributes=listed)
    res = ingest(_raw(tabs), cfg)
    assert kept_as in res.panel.columns
    assert res.panel["identity"].tolist() == EMAILS  # a column called identity replaced them
    assert _problems(res, "not on panel").empty
    out = refresh(cfg, tmp_path / "s.duckdb", raw=_raw(tabs))
    assert out.counts["n_invited"] == 4


def test_timestamped_submission_beats_one_without_even_in_year_one():
    tabs = tiny_tabs()
    tabs["Round 2"].append(["", "a@x.example", "Strongly disagree"])
    tabs["Round 2"][1][0] = dt.datetime(1, 1, 2)
    res = ingest(_raw(tabs), CONFIGS["ids only"])
    dup = _problems(res, "duplicate submission").query("tab == 'Round 2'")
    assert dup["row"].tolist() == [5]  # the row without a timestamp gives way


def test_unknown_sheet_time_zone_falls_back_to_the_configured_one():
    tabs = tiny_tabs()
    raw = RawSource(tabs=tabs, source="t", all_tabs=list(tabs), time_zone="Mars/Olympus_Mons")
    res = ingest(raw, CONFIGS["ids only"])
    assert "Europe/London" in _problems(res, "unknown time zone")["message"].iloc[0]
    b = res.respondents.query("round == 1 and identity == 'b@x.example'")
    assert b["submitted_at"].iloc[0] == pd.Timestamp("2026-09-01 09:00")  # 10:00 BST


def test_empty_round_tab_is_reported_once_not_once_per_listed_statement():
    tabs = tiny_tabs()
    tabs["Round 1"] = []
    tabs["Statements"] = [
        ["statement_id", "round", "text"],
        ["S01", 1, "Low doses work"],
        ["S02", 1, "Peels are safe"],
        ["S02", 2, "Peels are safe"],
    ]
    res = ingest(_raw(tabs), CONFIGS["statements tab"])
    assert _problems(res, "statement not asked").empty
    assert _problems(res, "empty tab")["tab"].tolist() == ["Round 1"]


def test_half_an_emoji_is_stored_not_fatal(tmp_path):
    tabs = tiny_tabs()  # a Sheets cell cut in the middle of a UTF-16 surrogate pair:
    tabs["Round 1"][2][3] = "Sensible \ud83d"  # in a comment,
    tabs["Panel"][1][2] = "Italy \ud83c"  # a panel attribute
    tabs["Round 1"][0][4] = "S02. Peels are safe \ude00"  # and a question
    out = refresh(CONFIGS["ids only"], tmp_path / "s.duckdb", raw=_raw(tabs))
    with store.connect(tmp_path / "s.duckdb") as con:
        comments = store.comments_for(con, out.snapshot_id)["comment"].tolist()
    assert "Sensible \ufffd" in comments  # shown as the replacement character


def test_half_an_emoji_in_an_answer_is_reported_and_stored_cleaned(tmp_path):
    # the tables are built as they are and cleaned only when one refuses a lone surrogate:
    # here an answer (quoted in its problem's message) and a round-2 comment
    tabs = tiny_tabs()
    tabs["Round 1"][3][2] = "Agree \ud83d"
    tabs["Round 2"][2][3] = "Fine \ude00 by me"
    res = ingest(_raw(tabs), CONFIGS["ids only"])
    bad = _problems(res, "bad answer")
    assert len(bad) == 1 and "Agree \ufffd" in bad["message"].iloc[0]
    assert "Fine \ufffd by me" in res.ratings["comment"].tolist()
    out = refresh(CONFIGS["ids only"], tmp_path / "s.duckdb", raw=_raw(tabs))
    with store.connect(tmp_path / "s.duckdb") as con:
        stored = store.problems_for(con, out.snapshot_id)["message"].tolist()
    assert any("Agree \ufffd" in m for m in stored)


_HALVES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)  # lone surrogates
_CELL = st.one_of(
    st.text(alphabet=st.one_of(_HALVES, st.characters(codec=None), st.sampled_from("\\ud83d'\""))),
    st.none(),
    st.integers(),
    st.floats(allow_nan=False),
)


@given(st.lists(st.lists(_CELL, max_size=6), max_size=8))
def test_lone_surrogates_are_replaced_in_every_cell_and_nothing_else_changes(rows):
    # The row screen (repr) must find every cell the plain cell-by-cell pass would change.
    from lib.ingest.core import _SURROGATE, _without_lone_surrogates

    want = [[_SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v for v in row] for row in rows]
    got = _without_lone_surrogates(_raw({"Round 1": rows})).tabs["Round 1"]
    event("has a lone surrogate" if want != rows else "has none")
    assert got == want
