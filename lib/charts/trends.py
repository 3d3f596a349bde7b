"""Across rounds: agreement per statement (heatmap) and its trajectory."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

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
from lib.textsafe import short, wrap

__all__ = ["agreement_heatmap", "trajectory_chart"]


def _with_family(metrics: pd.DataFrame, families: pd.DataFrame) -> pd.DataFrame:
    fam = families[["statement_id", "family", "family_label", "first_round"]]
    out = metrics.merge(fam, on="statement_id", how="left")
    out["family"] = out["family"].fillna(out["statement_id"])
    out["family_label"] = out["family_label"].fillna(out["statement_id"])
    if "text" in out:
        out["text"] = out["text"].fillna("")
    return out


def _hover_rows(frame: pd.DataFrame) -> list[list]:
    """customdata per point: id, wrapped text, n agree, n, status label."""
    return [
        [
            esc(r.statement_id),
            wrap(r.text, 60, 3) if isinstance(r.text, str) else "",
            int(r.n_agree) if pd.notna(r.n_agree) else 0,
            int(r.n),
            STATUS_LABELS.get(r.status, r.status),
        ]
        for r in frame.itertuples()
    ]


_POINT_HOVER = (
    "<b>%{customdata[0]}</b> · round %{x}<br>%{y:.0f}% agree "
    "(%{customdata[2]} of %{customdata[3]}) · %{customdata[4]}"
    "<br>%{customdata[1]}<extra></extra>"
)


def agreement_heatmap(
    metrics: pd.DataFrame, families: pd.DataFrame, threshold: float | None = None
) -> go.Figure:
    """Statements (one row per family of versions) × rounds, coloured by % agreement; a marker
    shows consensus in (●) or out (■). Needs metrics with n_agree, text and status."""
    m = _with_family(metrics, families)
    order = (
        m.sort_values(["first_round", "family"])
        .drop_duplicates("family")[["family", "family_label"]]
        .reset_index(drop=True)
    )
    latest = m.sort_values("round").groupby("family").tail(1).set_index("family")["text"]
    # the latest version's id, then as much wording as a phone leaves room for: the chain of
    # versions (S07 → S07a → S07b) and the whole wording are in the hover
    last_id = m.sort_values("round").groupby("family").tail(1).set_index("family")["statement_id"]
    labels = [
        f"{esc(last_id.get(r.family, r.family))}  {esc(short(latest.get(r.family, ''), 24))}"
        for r in order.itertuples()
    ]
    row_of = {f: i for i, f in enumerate(order["family"])}
    m = m.assign(row=m["family"].map(row_of))
    rounds = sorted(m["round"].unique())
    z = np.full((len(order), len(rounds)), np.nan)
    z[m["row"].to_numpy(), [rounds.index(r) for r in m["round"]]] = m["pct_agree"]
    hover = np.full(z.shape, "", dtype=object)
    for r, cd in zip(m.itertuples(), _hover_rows(m), strict=True):
        chain = f" ({esc(r.family_label)})" if "→" in str(r.family_label) else ""
        hover[r.row, rounds.index(r.round)] = (
            f"<b>{cd[0]}</b>{chain} · round {r.round}<br>{r.pct_agree:.0f}% agree "
            f"({cd[2]} of {cd[3]}) · {cd[4]}<br>{cd[1]}"
        )
    # no colour bar: every cell writes its own % (a bar took a sixth of a phone's width)
    heat = agree_heatmap(z, rounds, list(range(len(order))), hover, {})
    heat.update(showscale=False)
    fig = go.Figure(heat)
    # the marker in the cell's upper right corner, clear of the number written in its middle
    add_status_markers(fig, m.assign(row=m["row"] - 0.3), "round", "row", size=7, offset=0.4)
    fig.update_yaxes(
        tickvals=list(range(len(order))),
        ticktext=labels,
        range=[len(order) - 0.5, -0.5],  # first row on top; no padding the markers would add
        showgrid=False,
        zeroline=False,
        tickfont=dict(size=12),
    )
    # "Round" over the number: three or more rounds fit a phone's width without turning
    # (more rounds: the numbers under one axis title "Round")
    axis = rounds_axis(rounds)
    many = len(rounds) > 3
    axis["ticktext"] = [str(r) if many else f"Round<br>{r}" for r in rounds]
    fig.update_xaxes(**axis, side="top", tickangle=0, title="Round" if many else None)
    subtitle = "% agree in each round"
    if threshold is not None:
        subtitle += f"; consensus threshold {threshold:g}%"
    fig = layout(fig, "Agreement per statement and round", 190 + 22 * len(order), subtitle)
    fig.update_layout(margin=dict(t=125 if many else 105))  # room for the axis title
    return fig


def trajectory_chart(
    metrics: pd.DataFrame,
    families: pd.DataFrame,
    threshold: float | None = None,
    cutoff_note: str = "",
) -> go.Figure:
    """% agreement across rounds, one line per family of versions (S07 → S07a → S07b is one
    line), markers in status colours and shapes, and the threshold as a dashed line."""
    m = _with_family(metrics, families).sort_values(["family", "round"])
    fams = list(dict.fromkeys(m.sort_values(["first_round", "family"])["family"]))
    fig = go.Figure()
    if len(fams) > len(LINE_COLORS):
        # Grey lines without a legend: one trace, families apart by a gap (a trace per family
        # took 130 ms of Plotly validation for a 36-statement domain at 2,000 panelists).
        m = m.assign(order=m["family"].map({f: i for i, f in enumerate(fams)}))
        m = m.sort_values(["order", "round"]).reset_index(drop=True)
        _family_trace(fig, m, "#9E9E9E", name="Statements", showlegend=False)
    for i, fam in enumerate(fams if len(fams) <= len(LINE_COLORS) else []):
        f = m[m["family"] == fam]
        _family_trace(
            fig,
            f,
            LINE_COLORS[i % len(LINE_COLORS)],
            name=esc(f["family_label"].iloc[0]),
            legendgroup=esc(fam),
        )
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line=dict(color="#444444", dash="dash", width=1),
            annotation_text=f"threshold {threshold:g}%{cutoff_note}",
            annotation_position="bottom left",
        )
    _status_legend(fig)
    fig.update_yaxes(range=[-3, 105], ticksuffix="%", title="Agreement", gridcolor="#EEEEEE")
    fig.update_xaxes(**rounds_axis(m["round"].unique() if len(m) else [1]))
    # the legend below (layout's): beside the plot it took half a phone's width
    return layout(fig, "Agreement across rounds", 460)


def _family_trace(fig: go.Figure, m: pd.DataFrame, color: str, **trace: Any) -> None:
    """% agree by round for the families in ``m`` (sorted by family, then round): a line per
    family, status-coloured markers, the latest statement id after each family's last point.

    One family is one trace.  Several are two: their lines in one trace, apart by a None gap
    where the family changes, and every point in another (Plotly.js drops some text labels of
    a trace with gaps, so the labelled points carry none)."""
    last = m["family"].ne(m["family"].shift(-1)).to_numpy()
    gap = np.flatnonzero(last[:-1]) + 1  # where each next family starts
    statuses = m["status"].tolist()
    colors = [STATUS_COLORS.get(s, "#9E9E9E") for s in statuses]
    if len(gap):
        fig.add_scatter(
            x=np.insert(m["round"].to_numpy(dtype=object), gap, None).tolist(),
            y=np.insert(m["pct_agree"].to_numpy(dtype=object), gap, None).tolist(),
            mode="lines",
            line=dict(color=color, width=2),
            hoverinfo="skip",
            showlegend=False,
        )
    fig.add_scatter(
        x=m["round"].tolist(),
        y=m["pct_agree"].tolist(),
        mode="markers+text" if len(gap) else "lines+markers+text",
        line=dict(color=color, width=2),
        text=[esc(sid) if end else "" for sid, end in zip(m["statement_id"], last, strict=True)],
        textposition="middle right",
        textfont=dict(size=11, color="#333333"),
        marker=dict(
            color=colors,
            symbol=[STATUS_SYMBOLS.get(s, "circle") for s in statuses],
            size=10,
            line=dict(color=colors, width=2),
        ),
        customdata=_hover_rows(m),
        hovertemplate=_POINT_HOVER,
        **trace,
    )


def _status_legend(fig: go.Figure) -> None:
    """Legend entries explaining the status markers (no data)."""
    for status, label in STATUS_LABELS.items():
        fig.add_scatter(
            x=[None],
            y=[None],
            mode="markers",
            name=label,
            legendgroup="status",
            marker=dict(
                color=STATUS_COLORS[status],
                symbol=STATUS_SYMBOLS[status],
                size=10,
                line=dict(color=STATUS_COLORS[status], width=2),
            ),
        )
