"""Frames in, Plotly figures out.  Colours are colour-blind safe and the same in every chart."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from lib.textsafe import short, wrap

__all__ = ["STATUS_COLORS", "STATUS_LABELS", "STATUS_SYMBOLS", "LINE_COLORS", "likert_colors",
           "status_by_round_chart", "likert_chart", "agreement_heatmap", "trajectory_chart",
           "iqr_chart", "agreement_index_chart", "kendall_domain_chart", "flow_sankey",
           "sensitivity_chart", "participation_chart", "group_rate_chart", "frozen"]

# Okabe & Ito (2008) colour-blind-safe palette: blue = in, vermillion = out, grey = none.
STATUS_COLORS = {"consensus_in": "#0072B2", "consensus_out": "#D55E00",
                 "no_consensus": "#9E9E9E"}
STATUS_LABELS = {"consensus_in": "Consensus in", "consensus_out": "Consensus out",
                 "no_consensus": "No consensus"}
# Marker shapes repeat the status, so it survives greyscale printing and colour blindness.
STATUS_SYMBOLS = {"consensus_in": "circle", "consensus_out": "square",
                  "no_consensus": "circle-open"}
# Okabe & Ito colours not used for a status, for lines that are not statuses (series, families).
LINE_COLORS = ["#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#000000", "#8C510A"]
_GREYS = ["#D9D9D9", "#969696", "#525252", "#252525", "#000000"]
_FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=13)


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
    """k diverging colours: brown (disagree) to teal (agree), grey middle (ColorBrewer BrBG)."""
    brbg = ["#8C510A", "#BF812D", "#DFC27D", "#F6E8C3", "#C7EAE5", "#80CDC1", "#35978F",
            "#01665E"]
    half = k // 2
    left = brbg[4 - half:4] if half <= 4 else brbg[:4]
    right = brbg[4:4 + half] if half <= 4 else brbg[4:]
    return left + (["#BDBDBD"] if k % 2 else []) + right


def _layout(fig: go.Figure, title: str, height: int) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, font=dict(size=15)), font=_FONT,
                      height=height, margin=dict(l=10, r=10, t=50, b=10),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0),
                      plot_bgcolor="white")
    return fig


def status_by_round_chart(metrics: pd.DataFrame) -> go.Figure:
    """Stacked bars: statements per round by consensus status."""
    counts = (metrics.groupby(["round", "status"]).size().unstack(fill_value=0)
              .reindex(columns=list(STATUS_COLORS), fill_value=0))
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        fig.add_bar(x=[f"Round {r}" for r in counts.index], y=counts[status],
                    name=STATUS_LABELS[status], marker_color=color,
                    hovertemplate="%{x}: %{y} statements " + STATUS_LABELS[status].lower()
                    + "<extra></extra>")
    fig.update_layout(barmode="stack", yaxis_title="Statements rated")
    return _legend_below(_layout(fig, "Consensus status per round", 320))  # half-width


def likert_chart(dist: pd.DataFrame, labels: dict[int, str], title: str = "") -> go.Figure:
    """Diverging stacked bars (neutral centred), one bar per round.

    ``dist`` has columns round, answer (a score as text, 'no_opinion' or 'missing'), count.
    Percentages are of valid ratings; no-opinion and missing counts are shown in the hover.
    """
    scores = sorted(labels)
    colors = dict(zip(scores, likert_colors(len(scores)), strict=True))
    mid = (scores[0] + scores[-1]) / 2
    rounds = sorted(dist["round"].unique())
    valid = dist[~dist["answer"].isin(["no_opinion", "missing"])]
    totals = valid.groupby("round")["count"].sum().reindex(rounds, fill_value=0)
    other = dist[dist["answer"].isin(["no_opinion", "missing"])].pivot_table(
        index="round", columns="answer", values="count", aggfunc="sum").reindex(rounds)
    # Counts in one pass (a filter per bar and round took 55 ms for a statement at L size).
    n_of = valid.groupby(["round", "answer"])["count"].sum().to_dict()
    fig = go.Figure()
    for score in _center_out(scores, mid):
        ns = [int(n_of.get((r, str(score)), 0)) for r in rounds]
        pct = [100.0 * n / totals[r] if totals[r] else 0.0 for r, n in zip(rounds, ns,
                                                                            strict=True)]
        half = score == mid
        side = -1 if score < mid else 1
        for part in ((-1, 1) if half else (side,)):
            fig.add_bar(
                y=[f"Round {r}" for r in rounds], x=[part * p / (2 if half else 1) for p in pct],
                orientation="h", marker_color=colors[score], name=labels[score],
                legendgroup=str(score), legendrank=score, showlegend=part == (1 if half else side),
                customdata=[[p, n, totals[r], _other(other, r)] for r, p, n in
                            zip(rounds, pct, ns, strict=True)],
                hovertemplate=(f"{labels[score]}: " + "%{customdata[0]:.0f}% "
                               "(%{customdata[1]} of %{customdata[2]})%{customdata[3]}"
                               "<extra>%{y}</extra>"))
    fig.update_layout(barmode="relative", bargap=0.35,
                      xaxis=dict(range=[-100, 100], ticksuffix="%", zeroline=True,
                                 zerolinecolor="#444", tickvals=[-100, -50, 0, 50, 100],
                                 ticktext=["100%", "50%", "0", "50%", "100%"]),
                      yaxis=dict(autorange="reversed"))
    fig.update_layout(legend=dict(traceorder="normal"))
    return _layout(fig, wrap(title, 90, 2) if title else "", 130 + 45 * len(rounds))


def _center_out(scores: list[int], mid: float) -> list[int]:
    """Bar order for a relative stack: from the centre outwards on each side."""
    below = sorted([s for s in scores if s < mid], reverse=True)
    above = sorted([s for s in scores if s > mid])
    return [s for s in scores if s == mid] + below + above


def _other(other: pd.DataFrame, rnd: int) -> str:
    parts = []
    for col, name in (("no_opinion", "no opinion"), ("missing", "blank")):
        if col in other.columns and pd.notna(other.loc[rnd, col]) and other.loc[rnd, col] > 0:
            parts.append(f"{int(other.loc[rnd, col])} {name}")
    return f"<br>not counted: {', '.join(parts)}" if parts else ""


# --- agreement across rounds -------------------------------------------------------------------

def _esc(value: object) -> str:
    """Untrusted text for Plotly labels and hovers (Plotly renders a subset of HTML)."""
    return html.escape(str(value))


def _rounds_axis(rounds) -> dict:
    rounds = sorted(int(r) for r in rounds)
    return dict(tickvals=rounds, ticktext=[f"Round {r}" for r in rounds],
                range=[min(rounds) - 0.5, max(rounds) + 0.5], showgrid=False, zeroline=False)


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
    return [[_esc(r.statement_id), wrap(r.text, 60, 3) if isinstance(r.text, str) else "",
             int(r.n_agree) if pd.notna(r.n_agree) else 0, int(r.n),
             STATUS_LABELS.get(r.status, r.status)] for r in frame.itertuples()]


_POINT_HOVER = ("<b>%{customdata[0]}</b> · round %{x}<br>%{y:.0f}% agree "
                "(%{customdata[2]} of %{customdata[3]}) · %{customdata[4]}"
                "<br>%{customdata[1]}<extra></extra>")


def agreement_heatmap(metrics: pd.DataFrame, families: pd.DataFrame,
                      threshold: float | None = None) -> go.Figure:
    """Statements (one row per family of versions) × rounds, coloured by % agreement; a marker
    shows consensus in (●) or out (■). Needs metrics with n_agree, text and status."""
    m = _with_family(metrics, families)
    order = (m.sort_values(["first_round", "family"]).drop_duplicates("family")
             [["family", "family_label"]].reset_index(drop=True))
    latest = m.sort_values("round").groupby("family").tail(1).set_index("family")["text"]
    labels = [f"{_esc(r.family_label)}  {_esc(short(latest.get(r.family, ''), 42))}"
              for r in order.itertuples()]
    row_of = {f: i for i, f in enumerate(order["family"])}
    m = m.assign(row=m["family"].map(row_of))
    rounds = sorted(m["round"].unique())
    z = np.full((len(order), len(rounds)), np.nan)
    z[m["row"].to_numpy(), [rounds.index(r) for r in m["round"]]] = m["pct_agree"]
    hover = np.full(z.shape, "", dtype=object)
    for r, cd in zip(m.itertuples(), _hover_rows(m), strict=True):
        hover[r.row, rounds.index(r.round)] = (
            f"<b>{cd[0]}</b> · round {r.round}<br>{r.pct_agree:.0f}% agree ({cd[2]} of {cd[3]})"
            f" · {cd[4]}<br>{cd[1]}")
    fig = go.Figure(go.Heatmap(
        z=z, x=rounds, y=list(range(len(order))), text=np.where(np.isnan(z), "", np.round(z)),
        texttemplate="%{text:.0f}", textfont=dict(size=11, color="#000000"), zmin=0, zmax=100,
        colorscale=[[0, "#FFFFFF"], [1, "#8C8C8C"]], xgap=2, ygap=2,
        customdata=hover, hovertemplate="%{customdata}<extra></extra>",
        colorbar=dict(title=dict(text="% agree"), ticksuffix="%", len=min(1.0, 400 / (
            22 * len(order) + 140)), y=1, yanchor="top", thickness=12)))
    for status in ("consensus_in", "consensus_out"):
        hit = m[m["status"] == status]
        fig.add_scatter(x=hit["round"] + 0.32, y=hit["row"], mode="markers",
                        name=STATUS_LABELS[status], hoverinfo="skip",
                        marker=dict(color=STATUS_COLORS[status], size=9,
                                    symbol=STATUS_SYMBOLS[status],
                                    line=dict(color="white", width=1)))
    fig.update_yaxes(tickvals=list(range(len(order))), ticktext=labels, autorange="reversed",
                     showgrid=False, zeroline=False, tickfont=dict(size=12))
    fig.update_xaxes(**_rounds_axis(rounds), side="top")
    title = "Agreement per statement and round"
    if threshold is not None:
        title += f" (consensus threshold {threshold:g}%)"
    fig = _layout(fig, title, 140 + 22 * len(order))
    fig.update_layout(legend=dict(y=-0.01, yanchor="top", x=0), margin=dict(t=80))
    return fig


def trajectory_chart(metrics: pd.DataFrame, families: pd.DataFrame,
                     threshold: float | None = None,
                     cutoff_note: str = "") -> go.Figure:
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
        _family_trace(fig, f, LINE_COLORS[i % len(LINE_COLORS)],
                      name=_esc(f["family_label"].iloc[0]), legendgroup=_esc(fam))
    if threshold is not None:
        fig.add_hline(y=threshold, line=dict(color="#444444", dash="dash", width=1),
                      annotation_text=f"threshold {threshold:g}%{cutoff_note}",
                      annotation_position="bottom left")
    _status_legend(fig)
    fig.update_yaxes(range=[-3, 105], ticksuffix="%", title="Agreement", gridcolor="#EEEEEE")
    fig.update_xaxes(**_rounds_axis(m["round"].unique() if len(m) else [1]))
    fig = _layout(fig, "Agreement across rounds", 420)
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
            mode="lines", line=dict(color=color, width=2), hoverinfo="skip", showlegend=False)
    fig.add_scatter(
        x=m["round"].tolist(), y=m["pct_agree"].tolist(),
        mode="markers+text" if len(gap) else "lines+markers+text",
        line=dict(color=color, width=2),
        text=[_esc(sid) if end else "" for sid, end in zip(m["statement_id"], last, strict=True)],
        textposition="middle right", textfont=dict(size=11, color="#333333"),
        marker=dict(color=colors, symbol=[STATUS_SYMBOLS.get(s, "circle") for s in statuses],
                    size=10, line=dict(color=colors, width=2)),
        customdata=_hover_rows(m), hovertemplate=_POINT_HOVER, **trace)


def _status_legend(fig: go.Figure) -> None:
    """Legend entries explaining the status markers (no data)."""
    for status, label in STATUS_LABELS.items():
        fig.add_scatter(x=[None], y=[None], mode="markers", name=label, legendgroup="status",
                        marker=dict(color=STATUS_COLORS[status], symbol=STATUS_SYMBOLS[status],
                                    size=10, line=dict(color=STATUS_COLORS[status], width=2)))


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
            x=f["x"], y=f["iqr"], mode="markers", name=label,
            marker=dict(color=STATUS_COLORS[status], symbol=STATUS_SYMBOLS[status], size=8,
                        line=dict(color=STATUS_COLORS[status], width=1.5)),
            customdata=[[_esc(r.statement_id), r.round] for r in f.itertuples()],
            hovertemplate="<b>%{customdata[0]}</b> · round %{customdata[1]}<br>IQR %{y:.2f}"
                          "<extra></extra>")
    med = m.groupby("round")["iqr"].median()
    fig.add_scatter(x=med.index, y=med.values, mode="lines+markers", name="Median IQR",
                    line=dict(color="#000000", width=2), marker=dict(symbol="line-ew-open",
                                                                     size=30),
                    hovertemplate="Round %{x}: median IQR %{y:.2f}<extra></extra>")
    fig.update_yaxes(title="IQR (lower = closer agreement)", rangemode="tozero",
                     gridcolor="#EEEEEE")
    fig.update_xaxes(**_rounds_axis(m["round"].unique() if len(m) else [1]))
    return _legend_below(_layout(fig, "Spread of ratings per round", 400))


def _legend_below(fig: go.Figure) -> go.Figure:
    """Legend under the plot: for half-width charts whose legend would hit the title."""
    fig.update_layout(legend=dict(orientation="h", y=-0.12, yanchor="top", x=0))
    return fig


def agreement_index_chart(kendall: pd.DataFrame, alpha: pd.DataFrame) -> go.Figure:
    """Kendall's W and Krippendorff's alpha per round (0 = no agreement beyond chance)."""
    fig = go.Figure()
    fig.add_scatter(
        x=kendall["round"], y=kendall["w"], mode="lines+markers+text", name="Kendall's W",
        line=dict(color=LINE_COLORS[4], width=2), marker=dict(size=9),
        text=[f"{w:.2f}" if pd.notna(w) else "" for w in kendall["w"]],
        textposition="top center",
        customdata=kendall[["n_panelists", "n_statements", "chi2", "df", "p"]].to_numpy(),
        hovertemplate="Round %{x}: W = %{y:.3f}<br>%{customdata[0]} panelists × "
                      "%{customdata[1]} statements<br>χ²(%{customdata[3]}) = %{customdata[2]:.1f}"
                      ", p = %{customdata[4]:.2g}<extra></extra>")
    fig.add_scatter(
        x=alpha["round"], y=alpha["alpha"], mode="lines+markers+text",
        name="Krippendorff's α (ordinal)", line=dict(color=LINE_COLORS[0], width=2, dash="dot"),
        marker=dict(size=9, symbol="diamond"),
        text=[f"{a:.2f}" if pd.notna(a) else "" for a in alpha["alpha"]],
        textposition="bottom center",
        customdata=alpha[["n_ratings", "n_statements"]].to_numpy(),
        hovertemplate="Round %{x}: α = %{y:.3f}<br>%{customdata[0]} ratings of "
                      "%{customdata[1]} statements<extra></extra>")
    low = min(0.0, float(np.nanmin([*alpha["alpha"], 0.0])) - 0.05)
    fig.update_yaxes(range=[low, 1.05], title="Agreement index", gridcolor="#EEEEEE",
                     zeroline=True, zerolinecolor="#999999")
    fig.update_xaxes(**_rounds_axis(kendall["round"].unique() if len(kendall) else [1]))
    return _legend_below(_layout(fig, "Panel agreement per round", 400))


def kendall_domain_chart(kendall: pd.DataFrame) -> go.Figure:
    """Kendall's W per round, one line per domain (rounds where W is undefined are gaps)."""
    fig = go.Figure()
    for i, (dom, f) in enumerate(kendall.groupby("domain", sort=True)):
        fig.add_scatter(
            x=f["round"], y=f["w"], mode="lines+markers", name=_esc(short(dom, 40)),
            line=dict(color=LINE_COLORS[i % len(LINE_COLORS)], width=2),
            marker=dict(size=8), connectgaps=False,
            customdata=[[_esc(dom), r.n_panelists, r.n_statements, _esc(r.note)]
                        for r in f.itertuples()],
            hovertemplate="%{customdata[0]} · round %{x}<br>W = %{y:.3f} (%{customdata[1]} "
                          "panelists × %{customdata[2]} statements)<br>%{customdata[3]}"
                          "<extra></extra>")
    fig.update_yaxes(range=[0, 1.05], title="Kendall's W", gridcolor="#EEEEEE")
    fig.update_xaxes(**_rounds_axis(kendall["round"].unique() if len(kendall) else [1]))
    fig = _layout(fig, "Kendall's W per domain", 380)
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
    """Statements across rounds (``stats.statement_flow``): entered or added, status per round,
    then carried, revised or dropped. A status with no outgoing flow left the questionnaire
    (accepted, rejected, or still open after the last round)."""
    links = _flow_links(flow)
    keys = list(dict.fromkeys([*links["source"], *links["target"],
                               *[("s", r.round, r.status) for r in flow.itertuples()]]))
    index = {k: i for i, k in enumerate(keys)}
    rounds = sorted(flow["round"].unique())
    span = max(rounds[-1] - rounds[0], 1)
    nodes = [_flow_node(k, flow, rounds[0], span) for k in keys]
    hover = [f"{_FLOW_LINKS[k][1]}: {len(ids)} statement{'s' * (len(ids) != 1)}<br>"
             + wrap(", ".join(ids), 60, 6) for k, ids in zip(links["kind"], links["ids"],
                                                            strict=True)]
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node=dict(label=[n[0] for n in nodes], color=[n[1] for n in nodes],
                  x=[n[2] for n in nodes], y=[n[3] for n in nodes], pad=14, thickness=16,
                  line=dict(color="white", width=0.5), hovertemplate="%{label}<extra></extra>"),
        link=dict(source=links["source"].map(index), target=links["target"].map(index),
                  value=links["ids"].map(len), color=[_FLOW_LINKS[k][0] for k in links["kind"]],
                  customdata=hover, hovertemplate="%{customdata}<extra></extra>")))
    return _layout(fig, "Statements across rounds", 480)


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
            name = (f"{r.statement_id} → {r.next_statement_id}" if r.fate == "revised"
                    else r.statement_id)
            rows.append((here, there, r.fate, name))
        elif r.fate == "dropped":
            rows.append((here, ("d", r.round), "dropped", r.statement_id))
    frame = pd.DataFrame(rows, columns=["source", "target", "kind", "id"])
    frame["id"] = frame["id"].map(_esc)
    grouped = frame.groupby(["source", "target", "kind"], sort=False)["id"]
    return grouped.agg(list).rename("ids").reset_index()


_STATUS_ROW = {"consensus_in": 0, "consensus_out": 1, "no_consensus": 2}


def _flow_node(key: tuple, flow: pd.DataFrame, first: int, span: int
               ) -> tuple[str, str, float, float]:
    """Label, colour and (x, y) position of a flow node."""
    kind, rnd = key[0], key[1]
    x = 0.14 + 0.84 * (rnd - first) / span
    if kind == "s":
        n = int(((flow["round"] == rnd) & (flow["status"] == key[2])).sum())
        return (f"Round {rnd}: {STATUS_LABELS[key[2]].lower()} ({n})", STATUS_COLORS[key[2]],
                x, 0.12 + 0.3 * _STATUS_ROW[key[2]])
    if kind == "d":
        n = int(((flow["round"] == rnd) & (flow["fate"] == "dropped")).sum())
        return f"Dropped after round {rnd} ({n})", "#CC79A7", x + 0.42 / span, 0.95
    n = int(((flow["round"] == rnd) & (flow["entry"] == kind)).sum())
    label = f"Round {rnd} questionnaire ({n})" if kind == "entered" else \
        f"Added in round {rnd} ({n})"
    return label, "#9E9E9E", max(x - 0.13, 0.001), 0.5 if kind == "entered" else 0.95


def sensitivity_chart(counts: pd.DataFrame, scope: str = "last round rated") -> go.Figure:
    """Statements by status under each consensus rule (one scope), side by side."""
    c = counts[(counts["scope"] == scope) & counts["applicable"]]
    labels = [_esc(lab) for lab in c["label"]]
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        fig.add_bar(y=labels, x=c[status], orientation="h", name=STATUS_LABELS[status],
                    marker_color=color, text=c[status], textposition="inside",
                    insidetextanchor="middle",
                    hovertemplate="%{y}: %{x} " + STATUS_LABELS[status].lower()
                    + "<extra></extra>")
    fig.update_layout(barmode="stack", yaxis=dict(autorange="reversed"),
                      xaxis=dict(title="Statements", gridcolor="#EEEEEE"))
    fig = _layout(fig, f"Consensus under each rule ({scope})", 140 + 48 * max(len(c), 1))
    fig.update_layout(legend=dict(traceorder="normal"))
    return fig


# --- panel -------------------------------------------------------------------------------------

def participation_chart(part: pd.DataFrame) -> go.Figure:
    """Invited and responded per round, with the response rate and those lost since the last
    round."""
    x = [f"Round {r}" for r in part["round"]]
    fig = go.Figure()
    fig.add_bar(x=x, y=part["invited"], name="Invited", marker_color=_GREYS[0],
                hovertemplate="%{x}: %{y} invited<extra></extra>")
    fig.add_bar(x=x, y=part["responded"], name="Responded", marker_color=_GREYS[2],
                text=[f"{r:.0f}%" for r in part["response_rate"]], textposition="outside",
                customdata=part[["response_rate", "lost", "new"]].fillna(0).to_numpy(),
                hovertemplate="%{x}: %{y} responded (%{customdata[0]:.0f}%)<br>"
                              "%{customdata[1]:.0f} lost since the previous round, "
                              "%{customdata[2]:.0f} new<extra></extra>")
    fig.update_layout(barmode="group", bargap=0.3,
                      yaxis=dict(title="Panelists", gridcolor="#EEEEEE",
                                 range=[0, 1.18 * max(part["invited"].max(), 1)]))
    return _legend_below(_layout(fig, "Invited and responding, per round", 340))


def group_rate_chart(by_attr: pd.DataFrame, attribute: str) -> go.Figure:
    """Response rate per group of one panel attribute, one bar per round (hidden groups left
    out)."""
    f = by_attr[(by_attr["attribute"] == attribute) & (by_attr["hidden"] == "")]
    fig = go.Figure()
    for i, (rnd, g) in enumerate(f.groupby("round", sort=True)):
        fig.add_bar(x=[_esc(v) for v in g["group"]], y=g["response_rate"],
                    name=f"Round {rnd}", marker_color=_GREYS[min(i, len(_GREYS) - 1)],
                    customdata=g[["responded", "invited"]].to_numpy(),
                    hovertemplate="%{x}, round " + str(rnd) + ": %{y:.0f}% "
                    "(%{customdata[0]} of %{customdata[1]})<extra></extra>")
    fig.update_layout(barmode="group", yaxis=dict(range=[0, 105], ticksuffix="%",
                                                  title="Response rate", gridcolor="#EEEEEE"))
    return _legend_below(_layout(fig, f"Response rate by {_esc(attribute).lower()}", 360))
