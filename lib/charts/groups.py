"""Per stakeholder group: one statement's ratings per group (diverging bars), agreement per
group across rounds, and a statement × group heatmap.

Group labels come from the Panel tab (untrusted): every one is escaped.  Which groups a figure
shows is the caller's choice (``lib.analysis.stakeholders``: every group for the committee,
pooled for observers); :func:`group_answers` pools by the same rule.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lib.analysis.groups import BLANK, pool_small_groups
from lib.analysis.stakeholders import panel_groups
from lib.charts.base import (
    LINE_COLORS,
    STATUS_COLORS,
    STATUS_LABELS,
    STATUS_SYMBOLS,
    add_status_markers,
    agree_heatmap,
    esc,
    layout,
    rounds_axis,
)
from lib.charts.results import RoundScale, likert_chart
from lib.textsafe import short, wrap

__all__ = [
    "PANEL",
    "group_answers",
    "with_panel",
    "group_likert_chart",
    "group_heatmap",
    "group_trajectory_chart",
]

PANEL = "Whole panel"  # the row or line of every respondent, drawn first
_NOT_VALID = ("no_opinion", "missing")


def group_answers(
    ratings: pd.DataFrame,
    attributes: pd.DataFrame,
    attribute: str,
    min_size: int | None = None,
    statement_ids: list[str] | None = None,
) -> pd.DataFrame:
    """Answer counts per (round, statement, group, answer), answers as ``store.distribution_for``
    names them (a score as text, ``no_opinion``, ``missing``).

    ``ratings`` are the store's (round, panelist, statement_id, rating, no_opinion).  With
    ``min_size`` (observers), groups are pooled per round on the round's respondents, as
    ``stakeholders.pooled_group_metrics`` pools them, so the labels and counts agree with it.

    >>> r = pd.DataFrame({"round": 1, "panelist": ["P1", "P2", "P3"], "statement_id": "S1",
    ...                   "rating": [4.0, None, 2.0], "no_opinion": [False, True, False]})
    >>> a = pd.DataFrame({"panelist": ["P1", "P2", "P3"], "attribute": "Group",
    ...                   "value": ["A", "A", "B"]})
    >>> group_answers(r, a, "Group")[["group", "answer", "count"]].to_dict("records")
    [{'group': 'A', 'answer': '4', 'count': 1}, {'group': 'A', 'answer': 'no_opinion', 'count': 1}, {'group': 'B', 'answer': '2', 'count': 1}]
    """  # noqa: E501 - a doctest's output is one line
    groups = panel_groups(attributes, attribute)
    rated = (
        ratings if statement_ids is None else ratings[ratings["statement_id"].isin(statement_ids)]
    )
    lab = rated.assign(group=rated["panelist"].map(groups).fillna(BLANK).astype(str))
    if min_size is not None:
        parts = []
        for rnd, part in lab.groupby("round", sort=True):
            # the round's respondents (to every statement) decide the pooling, as in the metrics
            who = pd.Series(ratings.loc[ratings["round"] == rnd, "panelist"].unique())
            sizes = who.map(groups).fillna(BLANK).astype(str).value_counts()
            shown = pool_small_groups(sizes, min_size)
            part = part[part["group"].isin(list(shown))]
            parts.append(part.assign(group=part["group"].map(shown)))
        lab = pd.concat(parts, ignore_index=True) if parts else lab.iloc[:0]
    rating = lab["rating"]
    answer = np.where(
        rating.notna(),
        rating.fillna(0).round().astype(int).astype(str),
        np.where(lab["no_opinion"].fillna(False).astype(bool), "no_opinion", "missing"),
    )
    keys = ["round", "statement_id", "group", "answer"]
    counts = lab.assign(answer=answer).groupby(keys).size()
    return counts.rename("count").reset_index().sort_values(keys, ignore_index=True)


def with_panel(answers: pd.DataFrame) -> pd.DataFrame:
    """``answers`` with the whole panel's counts (the groups' sum) as group :data:`PANEL`."""
    keys = ["round", "statement_id", "answer"]
    panel = answers.groupby(keys, as_index=False)["count"].sum().assign(group=PANEL)
    return pd.concat([panel[answers.columns], answers], ignore_index=True)


def group_likert_chart(
    answers: pd.DataFrame,
    labels: dict[int, str],
    title: str = "",
    scale: RoundScale | None = None,
) -> go.Figure:
    """One statement's ratings in one round: a diverging bar per group (in ``answers``' order),
    labelled with the group's n (valid ratings), on the scale and colours of
    :func:`lib.charts.results.likert_chart` (which draws them: a group is one of its rows)."""
    order = list(dict.fromkeys(answers["group"]))
    row = {g: i + 1 for i, g in enumerate(order)}
    valid = answers[~answers["answer"].isin(_NOT_VALID)].groupby("group")["count"].sum()
    names = {f"Round {i}": f"{esc(g)} (n={int(valid.get(g, 0))})" for g, i in row.items()}
    dist = answers.assign(round=answers["group"].map(row))[["round", "answer", "count"]]
    per_row = {i: scale for i in row.values()} if scale is not None else None
    fig = likert_chart(dist, labels, title, per_row)
    for trace in fig.data:
        trace.y = [names[y] for y in trace.y]
    fig.update_yaxes(categoryarray=list(names.values()))
    return fig


def group_heatmap(cells: pd.DataFrame, groups: list[str], title: str = "") -> go.Figure:
    """Statements (rows, in ``cells``' order) × groups (columns, ``groups``' order), coloured by
    % agree; a marker shows consensus in (●) or out (■) within that group.

    ``cells``: statement_id, round, text, group, n, n_agree, pct_agree, status."""
    sids = list(dict.fromkeys(cells["statement_id"]))
    row = {s: i for i, s in enumerate(sids)}
    col = {g: j for j, g in enumerate(groups)}
    c = cells[cells["group"].isin(groups) & cells["pct_agree"].notna()]
    c = c.assign(i=c["statement_id"].map(row), j=c["group"].map(col))
    z = np.full((len(sids), len(groups)), np.nan)
    z[c["i"].to_numpy(), c["j"].to_numpy()] = c["pct_agree"].astype(float)
    hover = np.full(z.shape, "", dtype=object)
    for r in c.itertuples():
        hover[r.i, r.j] = _cell_hover(r)
    text = cells.drop_duplicates("statement_id").set_index("statement_id")["text"]
    colorbar = dict(title=dict(text="% agree", side="top"), ticksuffix="%", thickness=12)
    x, y = list(range(len(groups))), list(range(len(sids)))
    fig = go.Figure(agree_heatmap(z, x, y, hover, colorbar))
    add_status_markers(fig, c, "j", "i", size=8, offset=0.36, suffix=" (in that group)")
    fig.update_yaxes(
        tickvals=list(range(len(sids))),
        ticktext=[f"{esc(s)}  {esc(short(str(text.get(s, '')), 40))}" for s in sids],
        autorange="reversed",
        showgrid=False,
        zeroline=False,
    )
    fig.update_xaxes(
        tickvals=list(range(len(groups))),
        ticktext=[wrap(str(g), 16, 2) for g in groups],
        range=[-0.5, len(groups) - 0.5],
        side="top",
        showgrid=False,
        zeroline=False,
    )
    fig = layout(fig, esc(title), 210 + 24 * len(sids))
    # the legend under the rows (the groups are along the top)
    fig.update_layout(legend=dict(y=-0.02, yanchor="top", x=0), margin=dict(t=100, b=60))
    return fig


def _cell_hover(r) -> str:
    return (
        f"<b>{esc(r.statement_id)}</b> · round {int(r.round)} · {esc(r.group)}<br>"
        f"{r.pct_agree:.0f}% agree ({int(r.n_agree)} of {int(r.n)}) · "
        f"{STATUS_LABELS.get(r.status, esc(r.status))}"
    )


def group_trajectory_chart(
    rows: pd.DataFrame, threshold: float | None = None, title: str = "Agreement per group"
) -> go.Figure:
    """% agree across rounds, one line per group (in ``rows``' order; :data:`PANEL` dashed,
    black), markers in status colours and shapes, the threshold as a dashed line.

    ``rows``: round, statement_id, group, n, n_agree, pct_agree, status (one statement's
    versions: S07 → S07a is one line per group)."""
    fig = go.Figure()
    rows = rows[rows["pct_agree"].notna()]
    for i, (group, part) in enumerate(rows.groupby("group", sort=False)):
        part = part.sort_values("round")
        panel = group == PANEL
        statuses = part["status"].tolist()
        colors = [STATUS_COLORS.get(s, "#9E9E9E") for s in statuses]
        k = i - 1 if PANEL in set(rows["group"]) else i
        # the line carries the legend entry (in the group's colour), the markers the statuses
        fig.add_scatter(
            x=part["round"].tolist(),
            y=part["pct_agree"].tolist(),
            mode="lines",
            name=esc(group),
            legendgroup=f"g{i}",
            hoverinfo="skip",
            line=dict(
                color="#000000" if panel else LINE_COLORS[k % len(LINE_COLORS)],
                width=2,
                dash="dash" if panel or k >= len(LINE_COLORS) else "solid",
            ),
        )
        fig.add_scatter(
            x=part["round"].tolist(),
            y=part["pct_agree"].tolist(),
            mode="markers",
            name=esc(group),
            legendgroup=f"g{i}",
            showlegend=False,
            marker=dict(
                color=colors,
                symbol=[STATUS_SYMBOLS.get(s, "circle") for s in statuses],
                size=10,
                line=dict(color=colors, width=2),
            ),
            customdata=[_point(r) for r in part.itertuples()],
            hovertemplate="%{customdata}<extra></extra>",
        )
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line=dict(color="#444444", dash="dot", width=1),
            annotation_text=f"threshold {threshold:g}%",
            annotation_position="bottom left",
        )
    for status, label in STATUS_LABELS.items():  # legend entries for the markers (no data)
        fig.add_scatter(
            x=[None],
            y=[None],
            mode="markers",
            name=label,
            marker=dict(color=STATUS_COLORS[status], symbol=STATUS_SYMBOLS[status], size=10),
        )
    fig.update_yaxes(range=[-3, 105], ticksuffix="%", title="Agreement", gridcolor="#EEEEEE")
    fig.update_xaxes(**rounds_axis(rows["round"].unique() if len(rows) else [1]))
    fig = layout(fig, esc(title), 420)
    fig.update_layout(legend=dict(orientation="v", x=1.02, y=1, yanchor="top"))
    return fig


def _point(r) -> str:
    return (
        f"<b>{esc(r.group)}</b> · {esc(r.statement_id)} · round {int(r.round)}<br>"
        f"{r.pct_agree:.0f}% agree ({int(r.n_agree)} of {int(r.n)}) · "
        f"{STATUS_LABELS.get(r.status, esc(r.status))}"
    )
