"""Across rounds: agreement per statement, spread, panel agreement, flows, other rules."""

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
    esc,
    layout,
    legend_below,
    rounds_axis,
)
from lib.textsafe import short, wrap

__all__ = [
    "agreement_heatmap",
    "trajectory_chart",
    "iqr_chart",
    "agreement_index_chart",
    "kendall_domain_chart",
    "flow_sankey",
    "sensitivity_chart",
]


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
    labels = [
        f"{esc(r.family_label)}  {esc(short(latest.get(r.family, ''), 42))}"
        for r in order.itertuples()
    ]
    row_of = {f: i for i, f in enumerate(order["family"])}
    m = m.assign(row=m["family"].map(row_of))
    rounds = sorted(m["round"].unique())
    z = np.full((len(order), len(rounds)), np.nan)
    z[m["row"].to_numpy(), [rounds.index(r) for r in m["round"]]] = m["pct_agree"]
    hover = np.full(z.shape, "", dtype=object)
    for r, cd in zip(m.itertuples(), _hover_rows(m), strict=True):
        hover[r.row, rounds.index(r.round)] = (
            f"<b>{cd[0]}</b> · round {r.round}<br>{r.pct_agree:.0f}% agree ({cd[2]} of {cd[3]})"
            f" · {cd[4]}<br>{cd[1]}"
        )
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=rounds,
            y=list(range(len(order))),
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
            colorbar=dict(
                title=dict(text="% agree"),
                ticksuffix="%",
                len=min(1.0, 400 / (22 * len(order) + 140)),
                y=1,
                yanchor="top",
                thickness=12,
            ),
        )
    )
    for status in ("consensus_in", "consensus_out"):
        hit = m[m["status"] == status]
        fig.add_scatter(
            x=hit["round"] + 0.32,
            y=hit["row"],
            mode="markers",
            name=STATUS_LABELS[status],
            hoverinfo="skip",
            marker=dict(
                color=STATUS_COLORS[status],
                size=9,
                symbol=STATUS_SYMBOLS[status],
                line=dict(color="white", width=1),
            ),
        )
    fig.update_yaxes(
        tickvals=list(range(len(order))),
        ticktext=labels,
        autorange="reversed",
        showgrid=False,
        zeroline=False,
        tickfont=dict(size=12),
    )
    fig.update_xaxes(**rounds_axis(rounds), side="top")
    title = "Agreement per statement and round"
    if threshold is not None:
        title += f" (consensus threshold {threshold:g}%)"
    fig = layout(fig, title, 140 + 22 * len(order))
    fig.update_layout(legend=dict(y=-0.01, yanchor="top", x=0), margin=dict(t=80))
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
    fig = layout(fig, "Agreement across rounds", 420)
    fig.update_layout(legend=dict(orientation="v", x=1.02, y=1, yanchor="top"))
    return fig


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

_FLOW_LINKS = {  # kind: (link colour, hover verb)
    "entered": ("rgba(158,158,158,0.35)", "Entered"),
    "added": ("rgba(158,158,158,0.35)", "Added"),
    "carried": ("rgba(120,120,120,0.30)", "Carried unchanged"),
    "revised": ("rgba(230,159,0,0.55)", "Revised"),
    "dropped": ("rgba(204,121,167,0.60)", "Dropped"),
}


def flow_sankey(flow: pd.DataFrame) -> go.Figure:
    """Statements across rounds (``lib.analysis.flow.statement_flow``): entered or added,
    status per round, then carried, revised or dropped. A status with no outgoing flow left the
    questionnaire (accepted, rejected, or still open after the last round)."""
    links = _flow_links(flow)
    keys = list(
        dict.fromkeys(
            [
                *links["source"],
                *links["target"],
                *[("s", r.round, r.status) for r in flow.itertuples()],
            ]
        )
    )
    index = {k: i for i, k in enumerate(keys)}
    rounds = sorted(flow["round"].unique())
    span = max(rounds[-1] - rounds[0], 1)
    nodes = [_flow_node(k, flow, rounds[0], span) for k in keys]
    hover = [
        f"{_FLOW_LINKS[k][1]}: {len(ids)} statement{'s' * (len(ids) != 1)}<br>"
        + wrap(", ".join(ids), 60, 6)
        for k, ids in zip(links["kind"], links["ids"], strict=True)
    ]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node=dict(
                label=[n[0] for n in nodes],
                color=[n[1] for n in nodes],
                x=[n[2] for n in nodes],
                y=[n[3] for n in nodes],
                pad=14,
                thickness=16,
                line=dict(color="white", width=0.5),
                hovertemplate="%{label}<extra></extra>",
            ),
            link=dict(
                source=links["source"].map(index),
                target=links["target"].map(index),
                value=links["ids"].map(len),
                color=[_FLOW_LINKS[k][0] for k in links["kind"]],
                customdata=hover,
                hovertemplate="%{customdata}<extra></extra>",
            ),
        )
    )
    return layout(fig, "Statements across rounds", 480)


def _flow_links(flow: pd.DataFrame) -> pd.DataFrame:
    """(source node, target node, kind, [statement ids]) from a statement flow."""
    status_of = flow.set_index(["round", "statement_id"])["status"]
    rows = []
    for r in flow.itertuples():
        here = ("s", r.round, r.status)
        if r.entry in ("entered", "added"):
            rows.append(((r.entry, r.round), here, r.entry, r.statement_id))
        if r.fate in ("carried", "revised"):
            there = ("s", int(r.next_round), status_of[(r.next_round, r.next_statement_id)])
            name = (
                f"{r.statement_id} → {r.next_statement_id}"
                if r.fate == "revised"
                else r.statement_id
            )
            rows.append((here, there, r.fate, name))
        elif r.fate == "dropped":
            rows.append((here, ("d", r.round), "dropped", r.statement_id))
    frame = pd.DataFrame(rows, columns=["source", "target", "kind", "id"])
    frame["id"] = frame["id"].map(esc)
    grouped = frame.groupby(["source", "target", "kind"], sort=False)["id"]
    return grouped.agg(list).rename("ids").reset_index()


_STATUS_ROW = {"consensus_in": 0, "consensus_out": 1, "no_consensus": 2}


def _flow_node(
    key: tuple, flow: pd.DataFrame, first: int, span: int
) -> tuple[str, str, float, float]:
    """Label, colour and (x, y) position of a flow node."""
    kind, rnd = key[0], key[1]
    x = 0.14 + 0.84 * (rnd - first) / span
    if kind == "s":
        n = int(((flow["round"] == rnd) & (flow["status"] == key[2])).sum())
        return (
            f"Round {rnd}: {STATUS_LABELS[key[2]].lower()} ({n})",
            STATUS_COLORS[key[2]],
            x,
            0.12 + 0.3 * _STATUS_ROW[key[2]],
        )
    if kind == "d":
        n = int(((flow["round"] == rnd) & (flow["fate"] == "dropped")).sum())
        return f"Dropped after round {rnd} ({n})", "#CC79A7", x + 0.42 / span, 0.95
    n = int(((flow["round"] == rnd) & (flow["entry"] == kind)).sum())
    label = (
        f"Round {rnd} questionnaire ({n})" if kind == "entered" else f"Added in round {rnd} ({n})"
    )
    return label, "#9E9E9E", max(x - 0.13, 0.001), 0.5 if kind == "entered" else 0.95


def sensitivity_chart(counts: pd.DataFrame, scope: str = "last round rated") -> go.Figure:
    """Statements by status under each consensus rule (one scope), side by side."""
    c = counts[(counts["scope"] == scope) & counts["applicable"]]
    labels = [esc(lab) for lab in c["label"]]
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        fig.add_bar(
            y=labels,
            x=c[status],
            orientation="h",
            name=STATUS_LABELS[status],
            marker_color=color,
            text=c[status],
            textposition="inside",
            insidetextanchor="middle",
            hovertemplate="%{y}: %{x} " + STATUS_LABELS[status].lower() + "<extra></extra>",
        )
    fig.update_layout(
        barmode="stack",
        yaxis=dict(autorange="reversed"),
        xaxis=dict(title="Statements", gridcolor="#EEEEEE"),
    )
    fig = layout(fig, f"Consensus under each rule ({scope})", 140 + 48 * max(len(c), 1))
    fig.update_layout(legend=dict(traceorder="normal"))
    return fig
