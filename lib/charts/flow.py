"""Where statements went (flow across rounds) and how other consensus rules would classify them."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from lib.charts.base import (
    STATUS_COLORS,
    STATUS_LABELS,
    esc,
    layout,
)
from lib.textsafe import wrap

__all__ = ["flow_sankey", "sensitivity_chart"]


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


def sensitivity_chart(counts: pd.DataFrame, scope: str = "final versions") -> go.Figure:
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
    subtitle = f"Statements counted: {esc(scope)}"
    fig = layout(fig, "Consensus under each rule", 160 + 48 * max(len(c), 1), subtitle)
    fig.update_layout(legend=dict(traceorder="normal"))
    return fig
