"""lib.charts.*: each figure carries the data it claims to, in the shared status colours, with
untrusted text escaped."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from lib.analysis.flow import families, statement_flow
from lib.charts import agreement as agreement_charts
from lib.charts import base, panel, results, trends
from lib.charts import flow as flow_charts
from lib.charts.base import STATUS_COLORS

STATEMENTS = pd.DataFrame(
    {
        "round": [1, 1, 1, 2, 2, 3],
        "statement_id": ["S01", "S02", "S03", "S02", "S03a", "S03b"],
        "domain": ["A", "A", "B", "A", "B", "B"],
        "text": ["One <b>bold</b> claim", "Two", "Three", "Two", "Three, revised", "Three again"],
        "revised_from": [None, None, None, None, "S03", "S03a"],
    }
)
METRICS = STATEMENTS.assign(
    n=15,
    n_agree=[14, 9, 3, 12, 8, 13],
    pct_agree=[93.3, 60, 20, 80, 53.3, 86.7],
    iqr=[0.5, 1.0, 2.0, 0.5, 1.0, 0.0],
    median=[5, 4, 2, 4, 4, 4.0],
    status=[
        "consensus_in",
        "no_consensus",
        "no_consensus",
        "consensus_in",
        "no_consensus",
        "consensus_in",
    ],
)
FAMILIES = families(STATEMENTS)


def _spec(fig: go.Figure) -> str:
    return json.dumps(fig.to_plotly_json(), default=str)


def test_heatmap_has_one_row_per_family_and_marks_consensus():
    fig = trends.agreement_heatmap(METRICS, FAMILIES, 75)
    heat = fig.data[0]
    assert np.asarray(heat.z).shape == (3, 3)  # S01, S02, S03 → S03a → S03b; three rounds
    assert np.asarray(heat.z)[2].tolist() == pytest.approx([20, 53.3, 86.7])
    marks = {t.name: t for t in fig.data[1:]}
    assert marks["Consensus in"].marker.color == STATUS_COLORS["consensus_in"]
    assert len(marks["Consensus in"].x) == 3


def test_charts_escape_statement_text():
    for fig in (
        trends.agreement_heatmap(METRICS, FAMILIES),
        trends.trajectory_chart(METRICS, FAMILIES, 75),
    ):
        spec = _spec(fig)
        assert "<b>bold</b>" not in spec and "&lt;b&gt;bold" in spec


def test_trajectory_follows_revisions_as_one_line():
    fig = trends.trajectory_chart(METRICS, FAMILIES, 75, " (12 of 15 votes)")
    lines = {t.name: t for t in fig.data if t.mode == "lines+markers+text"}
    assert list(lines["S03 → S03a → S03b"].y) == pytest.approx([20, 53.3, 86.7])
    assert list(lines["S03 → S03a → S03b"].marker.color) == [
        STATUS_COLORS["no_consensus"],
        STATUS_COLORS["no_consensus"],
        STATUS_COLORS["consensus_in"],
    ]
    assert fig.layout.shapes[0].y0 == 75  # the threshold line


def test_trajectory_of_many_statements_is_two_grey_traces_lines_broken_between_them():
    # More families than line colours: every line in one trace, a None gap between families
    # (so each family is its own line), and every point in one more trace, with the statuses
    # and the end labels of the frame.
    ids = [f"S{i:02d}" for i in range(1, 9)]
    st = pd.DataFrame(
        {
            "round": [1] * 8 + [2] * 8,
            "statement_id": ids * 2,
            "domain": "A",
            "text": "t",
            "revised_from": None,
        }
    )
    pct = [10.0 * i for i in range(1, 9)] + [10.0 * i + 5 for i in range(1, 9)]
    m = st.assign(
        n=10,
        n_agree=[int(p // 10) for p in pct],
        pct_agree=pct,
        iqr=1.0,
        median=4.0,
        status=["consensus_in" if p >= 75 else "no_consensus" for p in pct],
    )
    fig = trends.trajectory_chart(m, families(st), 75)
    (lines,) = [t for t in fig.data if t.mode == "lines"]
    (points,) = [t for t in fig.data if t.mode == "markers+text"]
    assert lines.showlegend is False and lines.line.color == "#9E9E9E"
    ys = list(lines.y)
    assert ys.count(None) == 7  # 8 lines
    segments = np.split(np.array(ys, dtype=object), [i for i, y in enumerate(ys) if y is None])
    assert [[y for y in seg if y is not None] for seg in segments] == [
        [10.0 * i, 10.0 * i + 5] for i in range(1, 9)
    ]
    assert None not in points.y and sorted(points.y) == sorted(pct)
    assert [t for t in points.text if t] == ids
    assert list(points.marker.color).count(STATUS_COLORS["consensus_in"]) == 3  # 75, 80, 85
    assert len(points.customdata) == len(m)


def test_a_frozen_figure_serialises_as_it_did():
    fig = trends.trajectory_chart(METRICS, FAMILIES, 75)
    before = pio.to_json(fig)
    frozen = base.frozen(fig)
    assert isinstance(frozen, go.Figure) and pio.to_json(frozen) == before
    assert frozen.to_dict() is frozen.to_dict()  # computed once
    assert base.frozen(frozen) is frozen and base.frozen({"data": []}) == {"data": []}


def test_iqr_chart_points_and_median_line():
    fig = agreement_charts.iqr_chart(METRICS)
    points = sum(len(t.y) for t in fig.data if t.name in base.STATUS_LABELS.values())
    median = next(t for t in fig.data if t.name == "Median IQR")
    assert points == len(METRICS) and list(median.y) == [1.0, 0.75, 0.0]


def test_agreement_index_chart_plots_w_and_alpha():
    kendall = pd.DataFrame(
        {
            "round": [1, 2],
            "w": [0.56, np.nan],
            "n_panelists": [11, 2],
            "n_statements": [40, 1],
            "chi2": [240.7, np.nan],
            "df": [39, 0],
            "p": [1e-30, np.nan],
        }
    )
    alpha = pd.DataFrame(
        {"round": [1, 2], "alpha": [0.47, -0.1], "n_ratings": [593, 30], "n_statements": [40, 2]}
    )
    fig = agreement_charts.agreement_index_chart(kendall, alpha)
    assert [t.name for t in fig.data] == ["Kendall's W", "Krippendorff's α (ordinal)"]
    assert fig.layout.yaxis.range[0] < -0.1  # room for a negative alpha


def test_kendall_domain_chart_has_one_line_per_domain():
    k = pd.DataFrame(
        {
            "round": [1, 1, 2],
            "domain": ["A", "B", "A"],
            "w": [0.5, 0.7, 0.4],
            "n_panelists": 10,
            "n_statements": 3,
            "note": "",
        }
    )
    assert [t.name for t in agreement_charts.kendall_domain_chart(k).data] == ["A", "B"]


def test_sankey_flows_add_up():
    flow = statement_flow(METRICS, STATEMENTS)
    fig = flow_charts.flow_sankey(flow)
    sankey = fig.data[0]
    labels = list(sankey.node.label)
    assert "Round 1 questionnaire (3)" in labels and "Round 3: consensus in (1)" in labels
    # Entered 3; S02 carried and S03 revised into round 2; S03a revised into round 3.
    assert sum(sankey.link.value) == 3 + 2 + 1
    colors = dict(zip(labels, sankey.node.color, strict=True))
    assert colors["Round 2: consensus in (1)"] == STATUS_COLORS["consensus_in"]


def test_sensitivity_chart_stacks_statuses_per_rule():
    counts = pd.DataFrame(
        {
            "rule": ["a", "b", "c"],
            "label": ["Rule A", "Rule B", "RAND"],
            "scope": "round 1",
            "consensus_in": [3, 4, None],
            "consensus_out": [1, 1, None],
            "no_consensus": [2, 1, None],
            "applicable": [True, True, False],
        }
    )
    fig = flow_charts.sensitivity_chart(counts, "round 1")
    assert [t.marker.color for t in fig.data] == list(STATUS_COLORS.values())
    assert list(fig.data[0].y) == ["Rule A", "Rule B"]


def test_participation_chart_shows_invited_and_responded():
    part = pd.DataFrame(
        {
            "round": [1, 2],
            "invited": [15, 15],
            "responded": [15, 14],
            "response_rate": [100, 93.3],
            "new": [15, 0],
            "lost": [np.nan, 1],
        }
    )
    fig = panel.participation_chart(part)
    assert [list(t.y) for t in fig.data] == [[15, 15], [15, 14]]


def test_group_rate_chart_leaves_hidden_groups_out():
    by = pd.DataFrame(
        {
            "attribute": "Country",
            "group": ["X", "Y"],
            "round": 1,
            "invited": [6, np.nan],
            "responded": [5, np.nan],
            "response_rate": [83.3, np.nan],
            "hidden": ["", "fewer than 5"],
        }
    )
    fig = panel.group_rate_chart(by, "Country")
    assert list(fig.data[0].x) == ["X"]


def test_existing_charts_still_work():
    fig = results.status_by_round_chart(METRICS)
    assert [t.marker.color for t in fig.data] == list(STATUS_COLORS.values())
    dist = pd.DataFrame(
        {"round": [1, 1, 1], "answer": ["1", "5", "no_opinion"], "count": [2, 8, 1]}
    )
    likert = results.likert_chart(dist, {1: "No", 2: "2", 3: "3", 4: "4", 5: "Yes"})
    legend = [t.name for t in likert.data if t.showlegend]
    assert sorted(legend, key=lambda n: next(t.legendrank for t in likert.data if t.name == n)) == [
        "No",
        "2",
        "3",
        "4",
        "Yes",
    ]
