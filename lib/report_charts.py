"""Charts for reports: a Plotly figure, and print-safe HTML/CSS charts that need no JavaScript.

The HTML charts (distribution bars, flow diagrams) are plain markup with inline widths, so they
print to PDF exactly as shown and work in documents that carry no script at all (the per-panelist
feedback).  Every piece of text is HTML-escaped here; callers pass raw values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

import pandas as pd
import plotly.graph_objects as go

from lib.charts import STATUS_COLORS, STATUS_LABELS, likert_colors
from lib.textsafe import short

__all__ = ["FlowStep", "final_agreement_chart", "distribution_bar", "distribution_rows",
           "flow_diagram", "CHART_CSS"]

_FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=12)

# Styles for the HTML charts below; reports include them once in their <style>.
CHART_CSS = """
.dbar { display: flex; width: 100%; min-width: 90px; height: 13px; border: 1px solid #8a8f98;
  background: #fff; }
.dbar span { display: block; height: 100%; }
.dist { width: 100%; border-collapse: collapse; margin: 4px 0 6px; font-size: 12.5px; }
.dist td { border: 0; padding: 2px 6px; vertical-align: middle; }
.dist td.lab { width: 34%; white-space: nowrap; }
.dist td.cnt { width: 16%; text-align: right; white-space: nowrap;
  font-variant-numeric: tabular-nums; }
.dist td.you { width: 14%; white-space: nowrap; font-weight: 700; color: #8a3b00; }
.dist .track { background: #f0f2f5; height: 14px; position: relative; }
.dist .fill { height: 100%; }
.dist tr.own td { background: #fff3d6; }
.dist tr.own td.lab { font-weight: 700; }
.dist tr.own .fill { outline: 2px solid #8a3b00; outline-offset: -2px; }
.flow { display: grid; grid-template-columns: minmax(0, 3fr) minmax(0, 2fr); gap: 0 14px;
  margin: 8px 0 14px; break-inside: avoid; }
.flow .box { border: 1.5px solid #3d4852; border-radius: 4px; padding: 6px 9px; background: #fff; }
.flow .box b { display: block; }
.flow .side { border: 1px dashed #7b8794; border-radius: 4px; padding: 5px 8px;
  font-size: 12.5px; align-self: center; background: #fafbfc; }
.flow .side.empty { border: 0; background: none; }
.flow .down { grid-column: 1; text-align: center; color: #3d4852; font-size: 12px;
  padding: 2px 0; }
.flow .down::before { content: "\\2193"; display: block; font-size: 16px; line-height: 1; }
.flow .gap { grid-column: 2; }
"""


@dataclass(frozen=True)
class FlowStep:
    """One box of a flow diagram, an optional side box, and the label of the arrow below it."""

    title: str
    lines: list[str] = field(default_factory=list)
    side: list[str] = field(default_factory=list)
    arrow: str | None = None


def flow_diagram(steps: list[FlowStep], label: str) -> str:
    """A CONSORT-style vertical flow diagram: main boxes, side boxes for exits, labelled arrows."""
    parts = [f'<div class="flow" role="figure" aria-label="{escape(label)}">']
    for i, step in enumerate(steps):
        lines = "".join(f"<div>{escape(line)}</div>" for line in step.lines)
        parts.append(f'<div class="box"><b>{escape(step.title)}</b>{lines}</div>')
        side = "".join(f"<div>{escape(line)}</div>" for line in step.side)
        parts.append(f'<div class="side{"" if side else " empty"}">{side}</div>')
        if i < len(steps) - 1:
            parts.append(f'<div class="down">{escape(step.arrow or "")}</div><div class="gap">'
                         "</div>")
    parts.append("</div>")
    return "".join(parts)


def _pct(count: int, total: int) -> float:
    return 100.0 * count / total if total else 0.0


def distribution_bar(counts: dict[int, int], labels: dict[int, str]) -> str:
    """One stacked bar of the valid ratings (brown = disagree … teal = agree), for tables."""
    scores = sorted(labels)
    colors = dict(zip(scores, likert_colors(len(scores)), strict=True))
    total = sum(counts.get(s, 0) for s in scores)
    spans = []
    for s in scores:
        n = counts.get(s, 0)
        if n:
            tip = f"{labels[s]}: {n} of {total}"
            spans.append(f'<span style="width:{_pct(n, total):.1f}%;background:{colors[s]}" '
                         f'title="{escape(tip)}"></span>')
    return f'<div class="dbar" role="img" aria-label="{escape(_summary(counts, scores))}">' \
           f'{"".join(spans)}</div>'


def _summary(counts: dict[int, int], scores: list[int]) -> str:
    return "ratings " + ", ".join(f"{s}: {counts.get(s, 0)}" for s in scores)


def distribution_rows(counts: dict[int, int], labels: dict[int, str], own: int | None,
                      other: dict[str, int] | None = None) -> str:
    """A bar per answer with count and share of valid ratings; the panelist's own row marked."""
    scores = sorted(labels, reverse=True)
    colors = dict(zip(sorted(labels), likert_colors(len(labels)), strict=True))
    total = sum(counts.get(s, 0) for s in scores)
    rows = []
    for s in scores:
        n = counts.get(s, 0)
        mine = own == s
        rows.append(
            f'<tr class="{"own" if mine else "group"}" data-score="{s}">'
            f'<td class="lab">{escape(f"{s} · {labels[s]}")}</td>'
            f'<td><div class="track"><div class="fill" style="width:{_pct(n, total):.1f}%;'
            f'background:{colors[s]}"></div></div></td>'
            f'<td class="cnt">{n} ({_pct(n, total):.0f}%)</td>'
            f'<td class="you">{"◀ your rating" if mine else ""}</td></tr>')
    for name, n in (other or {}).items():
        if n:
            rows.append(f'<tr class="other"><td class="lab">{escape(name)}</td><td></td>'
                        f'<td class="cnt">{n}</td><td></td></tr>')
    return f'<table class="dist">{"".join(rows)}</table>'


def final_agreement_chart(final: pd.DataFrame, threshold: float | None,
                          agree_range: str) -> go.Figure:
    """Dots: each final statement's % agreement, coloured by status, with the threshold line.

    ``final`` has statement_id, text, pct_agree, status and round (the last round rated).
    """
    frame = final.sort_values(["pct_agree", "statement_id"]).reset_index(drop=True)
    fig = go.Figure()
    for status, color in STATUS_COLORS.items():
        part = frame[frame["status"] == status]
        if part.empty:
            continue
        fig.add_scatter(
            x=part["pct_agree"], y=part["statement_id"], mode="markers", name=STATUS_LABELS[status],
            marker=dict(color=color, size=9, line=dict(color="white", width=0.5)),
            customdata=[[escape(short(t, 80)), r] for t, r in zip(part["text"], part["round"],
                                                                   strict=True)],
            hovertemplate="%{y} (round %{customdata[1]}): %{x:.0f}% agree<br>%{customdata[0]}"
                          "<extra></extra>")
    if threshold is not None:
        fig.add_vline(x=threshold, line=dict(color="#333", dash="dash", width=1),
                      annotation_text=f"{threshold:g}%", annotation_position="top")
    fig.update_layout(
        title=dict(text=f"Final agreement per statement (% rating {escape(agree_range)})", x=0,
                   font=dict(size=14)),
        font=_FONT, height=110 + 15 * len(frame), margin=dict(l=10, r=10, t=60, b=30),
        legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0), plot_bgcolor="white",
        xaxis=dict(range=[-3, 103], ticksuffix="%", gridcolor="#e5e5e5", zeroline=False),
        yaxis=dict(categoryorder="array", categoryarray=frame["statement_id"].tolist(),
                   tickfont=dict(size=10), gridcolor="#f0f0f0"))
    return fig
