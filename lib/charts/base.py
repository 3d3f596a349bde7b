"""What every chart shares: status colours, labels and symbols, the layout, frozen figures."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import plotly.graph_objects as go

__all__ = [
    "agree_heatmap",
    "add_status_markers",
    "STATUS_COLORS",
    "STATUS_LABELS",
    "STATUS_SYMBOLS",
    "STATUS_MARKED",
    "STATUS_TEXT_COLORS",
    "LINE_COLORS",
    "GREYS",
    "FONT",
    "frozen",
    "likert_colors",
    "layout",
    "legend_below",
    "LEGEND_BELOW",
    "esc",
    "rounds_axis",
]

# Okabe & Ito (2008) colour-blind-safe palette: blue = in, vermillion = out, grey = none.
STATUS_COLORS = {"consensus_in": "#0072B2", "consensus_out": "#D55E00", "no_consensus": "#9E9E9E"}
STATUS_LABELS = {
    "consensus_in": "Consensus in",
    "consensus_out": "Consensus out",
    "no_consensus": "No consensus",
}
# Marker shapes repeat the status, so it survives greyscale printing and colour blindness.
STATUS_SYMBOLS = {
    "consensus_in": "circle",
    "consensus_out": "square",
    "no_consensus": "circle-open",
}
# A status in a table cell: the chart's marker as a character before the label (● in, ■ out,
# ○ none), the text in the status colour (a darker grey for "none": #9E9E9E on white is too
# faint for text, WCAG 1.4.3), so a row reads the same as the charts beside it.
STATUS_MARKED = {
    "consensus_in": "● Consensus in",
    "consensus_out": "■ Consensus out",
    "no_consensus": "○ No consensus",
}
STATUS_TEXT_COLORS = {
    "consensus_in": "#0072B2",
    "consensus_out": "#B34700",
    "no_consensus": "#5F5F5F",
}
# Okabe & Ito colours not used for a status, for lines that are not statuses (series, families).
LINE_COLORS = ["#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#000000", "#8C510A"]
GREYS = ["#D9D9D9", "#969696", "#525252", "#252525", "#000000"]
FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=13)


class _FrozenFigure(go.Figure):
    """A finished figure that computed its dict form once (see :func:`frozen`)."""

    _frozen_dict: dict

    def to_dict(self) -> dict:  # noqa: D102 - same meaning as go.Figure.to_dict
        return self._frozen_dict


def frozen(fig: Any) -> Any:
    """``fig``, finished: ``to_dict()`` returns one dict computed now, not a new one per call
    (anything but a ``go.Figure`` is returned as it is).

    ``st.plotly_chart`` calls ``to_dict()`` on every rerun: a deep copy of the whole figure and
    a walk that base64-encodes its arrays (1-2 ms per chart, measured at the S and L benchmark
    sizes).  For a figure cached across reruns that work is the same every time.  Nothing may
    change ``fig`` or the dict afterwards: changes would not reach ``to_dict()``.  (The one
    change made to it, ``plotly.io.to_json`` popping each trace's ``uid``, is a no-op: no
    builder here sets one.)
    """
    if type(fig) is not go.Figure:
        return fig
    as_dict = fig.to_dict()
    fig.__class__ = _FrozenFigure
    fig._frozen_dict = as_dict
    return fig


def likert_colors(k: int) -> list[str]:
    """k diverging colours: brown (disagree) to teal (agree), grey middle (ColorBrewer BrBG).

    Up to 9 points each side takes BrBG's own classes; a longer scale (0–10, up to 21 points)
    spreads each side evenly between BrBG's darkest and lightest, so no two scores share one.

    >>> likert_colors(5)
    ['#DFC27D', '#F6E8C3', '#BDBDBD', '#C7EAE5', '#80CDC1']
    >>> len(set(likert_colors(21)))
    21
    """
    half = k // 2
    left = _BRBG[4 - half : 4] if half <= 4 else _ramp(_BRBG[:4], half)
    right = _BRBG[4 : 4 + half] if half <= 4 else _ramp(_BRBG[4:], half)
    return left + (["#BDBDBD"] if k % 2 else []) + right


_BRBG = ["#8C510A", "#BF812D", "#DFC27D", "#F6E8C3", "#C7EAE5", "#80CDC1", "#35978F", "#01665E"]


def _ramp(anchors: list[str], n: int) -> list[str]:
    """``n`` colours evenly along the piecewise-linear path through ``anchors`` (hex, RGB)."""
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in anchors], dtype=float)
    at = np.linspace(0, len(anchors) - 1, n)
    channels = [np.interp(at, np.arange(len(anchors)), rgb[:, j]) for j in range(3)]
    return ["#{:02X}{:02X}{:02X}".format(*(round(ch[i]) for ch in channels)) for i in range(n)]


# The legend under the plot, placed from the bottom of the whole figure ("container"): Plotly
# then widens the bottom margin to fit it, so it never covers the axis title, the plot or the
# chart's title however many rows it wraps onto on a phone (a legend above the plot grows up
# over the title; one placed below the plot in plot units lands on the axis title).
LEGEND_BELOW = dict(orientation="h", yref="container", y=0, yanchor="bottom", x=0)


def layout(fig: go.Figure, title: str, height: int, subtitle: str = "") -> go.Figure:
    """The shared look: title (and a smaller ``subtitle`` under it, so a long title need not
    run off a phone's screen), font, height, margins, legend below, white plot."""
    # the title held at the top of the figure: axis labels on top (a heatmap's) stay clear of it
    title_ = dict(text=title, x=0, font=dict(size=15), yref="container", y=1, yanchor="top")
    title_["pad"] = dict(t=12)
    if subtitle:
        title_["subtitle"] = dict(text=subtitle, font=dict(size=12, color="#555555"))
    fig.update_layout(
        title=title_,
        font=FONT,
        height=height,
        margin=dict(l=10, r=10, t=70 if subtitle else 50, b=10),
        legend=LEGEND_BELOW,
        plot_bgcolor="white",
    )
    return fig


def esc(value: object) -> str:
    """Untrusted text for Plotly labels and hovers (Plotly renders a subset of HTML)."""
    return html.escape(str(value))


def rounds_axis(rounds: Any) -> dict:
    """An x axis with one tick per round, labelled "Round k"."""
    rounds = sorted(int(r) for r in rounds)
    return dict(
        tickvals=rounds,
        ticktext=[f"Round {r}" for r in rounds],
        range=[min(rounds) - 0.5, max(rounds) + 0.5],
        showgrid=False,
        zeroline=False,
    )


def legend_below(fig: go.Figure) -> go.Figure:
    """Legend under the plot (``LEGEND_BELOW``; the default of :func:`layout`)."""
    fig.update_layout(legend=LEGEND_BELOW)
    return fig


def agree_heatmap(z: np.ndarray, x: list, y: list, hover: np.ndarray, colorbar: dict) -> go.Heatmap:
    """A heatmap of % agree (0–100, white to grey), each cell's rounded value written in it and
    its hover text from ``hover``: the agreement heatmaps of Trends share this look."""
    return go.Heatmap(
        z=z,
        x=x,
        y=y,
        text=np.where(np.isnan(z), "", np.round(z)),
        texttemplate="%{text:.0f}",
        textfont=dict(size=11, color="#000000"),
        zmin=0,
        zmax=100,
        colorscale=[[0, "#FFFFFF"], [1, "#8C8C8C"]],
        xgap=2,
        ygap=2,
        customdata=hover,
        hovertemplate="%{customdata}<extra></extra>",
        colorbar=colorbar,
    )


def add_status_markers(
    fig: go.Figure, frame: Any, x: str, y: str, size: int, offset: float, suffix: str = ""
) -> None:
    """A marker beside each heatmap cell with consensus in (●) or out (■): ``frame``'s
    ``status`` per cell at columns ``x`` (shifted right by ``offset``) and ``y``."""
    for status in ("consensus_in", "consensus_out"):
        hit = frame[frame["status"] == status]
        fig.add_scatter(
            x=hit[x] + offset,
            y=hit[y],
            mode="markers",
            name=STATUS_LABELS[status] + suffix,
            hoverinfo="skip",
            marker=dict(
                color=STATUS_COLORS[status],
                size=size,
                symbol=STATUS_SYMBOLS[status],
                line=dict(color="white", width=1),
            ),
        )
