"""Study shapes that crashed a page, reproduced on the lib functions the pages call (issue 12.4).

Each test failed before its fix: a round tab with a header but no answers yet (the flow
diagram), an 11- to 21-point scale (Likert colours), a numeric panel attribute spanning many
orders of magnitude (binning), a study with no round read yet (participation).
"""

from __future__ import annotations

import pandas as pd
import pytest

from lib import store
from lib.analysis.flow import statement_flow
from lib.analysis.participation import participation, participation_by_attribute
from lib.charts.base import likert_colors
from lib.charts.flow import flow_sankey
from lib.charts.results import likert_chart
from lib.next_round import next_round_candidates
from tests.study_shapes import Shape, refreshed


def _frames(shape: Shape, db) -> dict[str, pd.DataFrame]:
    cfg, result = refreshed(shape, db)
    with store.connect(db) as con:
        sid = result.snapshot_id
        return {
            "metrics": store.metrics_for(con, sid),
            "statements": store.statements_for(con, sid),
        }


@pytest.mark.parametrize("points", [10, 11, 15, 21])
def test_likert_colours_give_each_point_of_a_long_scale_its_own_colour(points):
    colors = likert_colors(points)
    assert len(colors) == points and len(set(colors)) == points


def test_likert_colours_of_short_scales_are_brbg_classes():
    # ColorBrewer BrBG, 9 classes, with the centre class replaced by the neutral grey
    assert likert_colors(9) == [
        "#8C510A",
        "#BF812D",
        "#DFC27D",
        "#F6E8C3",
        "#BDBDBD",
        "#C7EAE5",
        "#80CDC1",
        "#35978F",
        "#01665E",
    ]


def test_likert_chart_draws_a_zero_to_ten_scale():
    dist = pd.DataFrame(
        {"round": 1, "statement_id": "S01", "answer": ["0", "5", "10"], "count": [1, 2, 3]}
    )
    fig = likert_chart(dist, {s: str(s) for s in range(11)}, "0–10")
    assert {bar.name for bar in fig.data} == {str(s) for s in range(11)}


def test_numeric_attribute_spanning_nine_orders_of_magnitude_is_binned():
    values = ["1", "40", "900", "7000", "2000000000"]
    panel = pd.DataFrame({"panelist": list("ABCDE"), "attribute": "Budget", "value": values})
    resp = pd.DataFrame({"round": 1, "panelist": list("ABCDE")})
    got = participation_by_attribute(resp, panel)
    assert got["group"].nunique() <= 4 and got["invited"].sum() == 5


def test_numeric_attribute_with_an_infinite_value_is_grouped_as_text():
    panel = pd.DataFrame(
        {"panelist": list("ABCDE"), "attribute": "Years", "value": ["1", "2", "3", "4", "inf"]}
    )
    got = participation_by_attribute(pd.DataFrame({"round": 1, "panelist": list("AB")}), panel)
    assert sorted(got["group"]) == ["1", "2", "3", "4", "inf"]


def test_participation_of_a_study_with_no_round_read_is_empty():
    rates = pd.DataFrame({"round": pd.Series(dtype="int32"), "invited": pd.Series(dtype="int64")})
    got = participation(pd.DataFrame({"round": [], "panelist": []}), rates)
    assert got.empty and "response_rate" in got


def test_flow_keeps_statements_open_while_the_next_round_has_no_answers(tmp_path):
    # Round 2's tab has its questions but nobody has answered: the start of every round.
    f = _frames(Shape(rounds=("full", "header"), statements=3, seed=1), tmp_path / "s.duckdb")
    assert set(f["statements"]["round"]) == {1, 2} and set(f["metrics"]["round"]) == {1}
    flow = statement_flow(f["metrics"], f["statements"])
    assert set(flow["round"]) == {1} and not flow["fate"].isin(["carried", "revised"]).any()
    fig = flow_sankey(flow)
    assert sum(fig.data[0].link.value) == 3  # each statement enters round 1


def test_flow_skips_a_round_with_no_answers_between_two_rated_rounds(tmp_path):
    f = _frames(
        Shape(rounds=("full", "header", "full"), statements=4, revise=False, seed=2),
        tmp_path / "s.duckdb",
    )
    flow = statement_flow(f["metrics"], f["statements"]).set_index(["round", "statement_id"])
    assert set(flow.index.get_level_values("round")) == {1, 3}
    # S01 is asked in rounds 1, 2 and 3: rated in 1 and 3, so it is carried from 1 to 3
    assert flow.loc[(1, "S01"), ["fate", "next_round"]].tolist() == ["carried", 3]
    flow_sankey(flow.reset_index())


def test_flow_ignores_a_listed_statement_the_round_tab_does_not_ask(tmp_path):
    # The Statements tab lists S02 for round 2 too, but round 2's form does not ask it.
    f = _frames(
        Shape(rounds=("full", "full"), statements=3, unasked=1, seed=3), tmp_path / "s.duckdb"
    )
    listed = f["statements"].set_index(["round", "statement_id"]).index
    assert (2, "S02") in listed and not (
        (f["metrics"]["round"] == 2) & (f["metrics"]["statement_id"] == "S02")
    ).any()
    flow = statement_flow(f["metrics"], f["statements"]).set_index(["round", "statement_id"])
    assert flow.loc[(1, "S02"), "fate"] != "carried"
    flow_sankey(flow.reset_index())


def test_next_round_ids_are_text_when_every_statement_reached_consensus():
    # An empty id column was float, which the Next round page's text column refuses to edit.
    m = pd.DataFrame(
        {
            "round": [1],
            "statement_id": ["S01"],
            "status": ["consensus_in"],
            "text": ["t"],
            "pct_agree": [90.0],
            "median": [5.0],
            "iqr": [0.0],
            "n": [4],
            "domain": ["A"],
        }
    )
    comments = pd.DataFrame({"round": [], "statement_id": [], "comment": []})
    plan = next_round_candidates(m, comments, m)
    assert plan.empty and pd.api.types.is_string_dtype(plan["new_id"])
