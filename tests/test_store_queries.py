"""Store queries read through Arrow give the frame DuckDB's ``.df()`` gives, NULLs and all."""

from __future__ import annotations

import pandas as pd
import pytest

from lib import store
from lib.store.database import read_frame

RATINGS = """
    SELECT round, panelist, statement_id, rating, no_opinion FROM ratings
    WHERE snapshot_id = $sid AND ($rnd IS NULL OR round = $rnd)
    ORDER BY round, statement_id, panelist"""


def _as_df(con, sid: int, rnd: int | None = None) -> pd.DataFrame:
    """The query of ``ratings_for`` through ``read_frame`` (DuckDB's ``.df()``)."""
    return read_frame(con, RATINGS, {"sid": sid, "rnd": rnd})


def test_ratings_of_the_demo_study_equal_duckdbs_own_frame(demo_db):
    with store.connect(demo_db, read_only=True) as con:
        sid = store.latest_snapshot_id(con)
        whole = store.ratings_for(con, sid)
        assert len(whole) > 0 and whole["rating"].isna().any()  # blanks among them
        pd.testing.assert_frame_equal(whole, _as_df(con, sid))
        pd.testing.assert_frame_equal(store.ratings_for(con, sid, 2), _as_df(con, sid, 2))


@pytest.mark.parametrize(
    "rows",
    [
        [],  # an empty result: DuckDB gives object columns, Arrow would give str
        [(1, "P1", "S1", 3.0, False), (1, "P2", "S1", None, True)],  # a blank rating
        [(1, "P1", "S1", 3.0, None), (None, None, None, None, None)],  # NULL bool, int, str
    ],
    ids=["empty", "blank-rating", "nulls"],
)
def test_ratings_with_nulls_or_none_equal_duckdbs_own_frame(fresh_db, rows):
    with store.connect(fresh_db) as con:
        for row in rows:
            con.execute(
                "INSERT INTO ratings (snapshot_id, round, panelist, statement_id, rating, "
                "no_opinion) VALUES (7, ?, ?, ?, ?, ?)",
                list(row),
            )
        got = store.ratings_for(con, 7)
        pd.testing.assert_frame_equal(got, _as_df(con, 7))
        assert len(got) == len(rows)
