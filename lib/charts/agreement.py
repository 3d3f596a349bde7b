"""Spread and panel-level agreement across rounds: IQR, Kendall's W and Krippendorff's alpha."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lib.charts.base import (
    LINE_COLORS,
    STATUS_COLORS,
    STATUS_LABELS,
    STATUS_SYMBOLS,
    esc,
    layout,
    legend_below,
    rounds_axis,
)
from lib.textsafe import short

__all__ = ["iqr_chart", "agreement_index_chart", "kendall_domain_chart"]


def iqr_chart(metrics: pd.DataFrame) -> go.Figure:
    """IQR of each statement per round (points in status colours, equal values side by side)
    with the median IQR per round as a line."""
    m = metrics.dropna(subset=["iqr"]).sort_values(["round", "status", "statement_id"])
    k = m.groupby(["round", "iqr"])["statement_id"].transform("size")
    i = m.groupby(["round", "iqr"]).cumcount()
    step = np.minimum(0.05, 0.7 / k)  # a beeswarm on a discrete axis: at most 0.7 wide
    m = m.assign(x=m["round"] + (i - (k - 1) / 2) * step)
    fig = go.Figure()
    for status, label in STATUS_LABELS.items():
        f = m[m["status"] == status]
        fig.add_scatter(
            x=f["x"],
            y=f["iqr"],
            mode="markers",
            name=label,
            marker=dict(
                color=STATUS_COLORS[status],
                symbol=STATUS_SYMBOLS[status],
                size=8,
                line=dict(color=STATUS_COLORS[status], width=1.5),
            ),
            customdata=[[esc(r.statement_id), r.round] for r in f.itertuples()],
            hovertemplate="<b>%{customdata[0]}</b> · round %{customdata[1]}<br>IQR %{y:.2f}"
            "<extra></extra>",
        )
    med = m.groupby("round")["iqr"].median()
    fig.add_scatter(
        x=med.index,
        y=med.values,
        mode="lines+markers",
        name="Median IQR",
        line=dict(color="#000000", width=2),
        marker=dict(symbol="line-ew-open", size=30),
        hovertemplate="Round %{x}: median IQR %{y:.2f}<extra></extra>",
    )
    fig.update_yaxes(
        title="IQR (lower = closer agreement)", rangemode="tozero", gridcolor="#EEEEEE"
    )
    fig.update_xaxes(**rounds_axis(m["round"].unique() if len(m) else [1]))
    return legend_below(layout(fig, "Spread of ratings per round", 400))


def agreement_index_chart(kendall: pd.DataFrame, alpha: pd.DataFrame) -> go.Figure:
    """Kendall's W and Krippendorff's alpha per round (0 = no agreement beyond chance)."""
    fig = go.Figure()
    fig.add_scatter(
        x=kendall["round"],
        y=kendall["w"],
        mode="lines+markers+text",
        name="Kendall's W",
        line=dict(color=LINE_COLORS[4], width=2),
        marker=dict(size=9),
        text=[f"{w:.2f}" if pd.notna(w) else "" for w in kendall["w"]],
        textposition="top center",
        customdata=kendall[["n_panelists", "n_statements", "chi2", "df", "p"]].to_numpy(),
        hovertemplate="Round %{x}: W = %{y:.3f}<br>%{customdata[0]} panelists × "
        "%{customdata[1]} statements<br>χ²(%{customdata[3]}) = %{customdata[2]:.1f}"
        ", p = %{customdata[4]:.2g}<extra></extra>",
    )
    fig.add_scatter(
        x=alpha["round"],
        y=alpha["alpha"],
        mode="lines+markers+text",
        name="Krippendorff's α (ordinal)",
        line=dict(color=LINE_COLORS[0], width=2, dash="dot"),
        marker=dict(size=9, symbol="diamond"),
        text=[f"{a:.2f}" if pd.notna(a) else "" for a in alpha["alpha"]],
        textposition="bottom center",
        customdata=alpha[["n_ratings", "n_statements"]].to_numpy(),
        hovertemplate="Round %{x}: α = %{y:.3f}<br>%{customdata[0]} ratings of "
        "%{customdata[1]} statements<extra></extra>",
    )
    low = min(0.0, float(np.nanmin([*alpha["alpha"], 0.0])) - 0.05)
    fig.update_yaxes(
        range=[low, 1.05],
        title="Agreement index",
        gridcolor="#EEEEEE",
        zeroline=True,
        zerolinecolor="#999999",
    )
    fig.update_xaxes(**rounds_axis(kendall["round"].unique() if len(kendall) else [1]))
    return legend_below(layout(fig, "Panel agreement per round", 400))


def kendall_domain_chart(kendall: pd.DataFrame) -> go.Figure:
    """Kendall's W per round, one line per domain (rounds where W is undefined are gaps)."""
    fig = go.Figure()
    for i, (dom, f) in enumerate(kendall.groupby("domain", sort=True)):
        fig.add_scatter(
            x=f["round"],
            y=f["w"],
            mode="lines+markers",
            name=esc(short(dom, 40)),
            line=dict(color=LINE_COLORS[i % len(LINE_COLORS)], width=2),
            marker=dict(size=8),
            connectgaps=False,
            customdata=[
                [esc(dom), r.n_panelists, r.n_statements, esc(r.note)] for r in f.itertuples()
            ],
            hovertemplate="%{customdata[0]} · round %{x}<br>W = %{y:.3f} (%{customdata[1]} "
            "panelists × %{customdata[2]} statements)<br>%{customdata[3]}"
            "<extra></extra>",
        )
    fig.update_yaxes(range=[0, 1.05], title="Kendall's W", gridcolor="#EEEEEE")
    fig.update_xaxes(**rounds_axis(kendall["round"].unique() if len(kendall) else [1]))
    fig = layout(fig, "Kendall's W per domain", 380)
    fig.update_layout(legend=dict(orientation="v", y=1, yanchor="top", x=1.02))
    return fig


# --- flows -------------------------------------------------------------------------------------
