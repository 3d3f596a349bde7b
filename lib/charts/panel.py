"""The panel: who was invited and responded per round, and response by panel attribute."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from lib.charts.base import GREYS, esc, layout, legend_below

__all__ = ["participation_chart", "group_rate_chart"]


def participation_chart(part: pd.DataFrame) -> go.Figure:
    """Invited and responded per round, with the response rate and those lost since the last
    round."""
    x = [f"Round {r}" for r in part["round"]]
    fig = go.Figure()
    fig.add_bar(
        x=x,
        y=part["invited"],
        name="Invited",
        marker_color=GREYS[0],
        hovertemplate="%{x}: %{y} invited<extra></extra>",
    )
    fig.add_bar(
        x=x,
        y=part["responded"],
        name="Responded",
        marker_color=GREYS[2],
        text=[f"{r:.0f}%" for r in part["response_rate"]],
        textposition="outside",
        customdata=part[["response_rate", "lost", "new"]].fillna(0).to_numpy(),
        hovertemplate="%{x}: %{y} responded (%{customdata[0]:.0f}%)<br>"
        "%{customdata[1]:.0f} lost since the previous round, "
        "%{customdata[2]:.0f} new<extra></extra>",
    )
    fig.update_layout(
        barmode="group",
        bargap=0.3,
        yaxis=dict(
            title="Panelists", gridcolor="#EEEEEE", range=[0, 1.18 * max(part["invited"].max(), 1)]
        ),
    )
    return legend_below(layout(fig, "Invited and responding, per round", 340))


def group_rate_chart(by_attr: pd.DataFrame, attribute: str) -> go.Figure:
    """Response rate per group of one panel attribute, one bar per round (hidden groups left
    out)."""
    f = by_attr[(by_attr["attribute"] == attribute) & (by_attr["hidden"] == "")]
    fig = go.Figure()
    for i, (rnd, g) in enumerate(f.groupby("round", sort=True)):
        fig.add_bar(
            x=[esc(v) for v in g["group"]],
            y=g["response_rate"],
            name=f"Round {rnd}",
            marker_color=GREYS[min(i, len(GREYS) - 1)],
            customdata=g[["responded", "invited"]].to_numpy(),
            hovertemplate="%{x}, round " + str(rnd) + ": %{y:.0f}% "
            "(%{customdata[0]} of %{customdata[1]})<extra></extra>",
        )
    fig.update_layout(
        barmode="group",
        yaxis=dict(range=[0, 105], ticksuffix="%", title="Response rate", gridcolor="#EEEEEE"),
    )
    return legend_below(layout(fig, f"Response rate by {esc(attribute).lower()}", 360))
