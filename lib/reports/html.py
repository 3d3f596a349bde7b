"""The consensus report as one self-contained HTML file (``templates/report.html.j2``).

The report follows the reporting items of ACCORD 2024 and CREDES 2017 (``CHECKLIST``) and holds
aggregates only: no identity, name or pseudonym tied to a rating.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from lib.analysis.scales import ScaleMap
from lib.analysis.stability import STABILITY_RULE
from lib.charts.results import status_by_round_chart
from lib.reports import charts
from lib.reports.data import ReportData, rule_check
from lib.reports.decisions import ELIGIBILITY_ITEM, STOPPING_ITEM, eligibility_view
from lib.reports.render import Table, frame_table, render, stylesheet, table, text
from lib.reports.results import (
    final_table,
    groups_view,
    results_tables,
    scale_notes,
    scales_table,
)
from lib.reports.scale_uses import ScaleUsed, mixed, no_opinion_label, scales_used
from lib.reports.tables import dropped_items, final_statements, revisions
from lib.reports.uncertainty import ITEM as UNCERTAINTY_ITEM
from lib.reports.uncertainty import SECTION as UNCERTAINTY_SECTION
from lib.reports.uncertainty import uncertainty_view

__all__ = [  # the section builders are shared with lib.reports.docx: the same numbers in Word
    "CHECKLIST",
    "COMMENTS_SHOWN",
    "GROUP_ITEM",
    "SECTIONS",
    "comments_by_statement",
    "composition_table",
    "dropped_table",
    "html_report",
    "kendall_table",
    "panel_flow_steps",
    "paragraphs_of",
    "rates_table",
    "report_sections",
    "revisions_table",
    "stability_table",
    "statement_flow_steps",
    "statement_flow_table",
    "summary_cards",
]

# Comments the HTML report shows per statement and round; the rest are counted, and every
# comment is in the workbook's Comments sheet (at the L benchmark size, 41,000 comments made
# the report several megabytes of text).
COMMENTS_SHOWN = 10

# Reporting items of ACCORD 2024 / CREDES 2017 and where this report answers each.
CHECKLIST = [
    ("Consensus definition stated a priori, and the rule version used", "rule"),
    STOPPING_ITEM,
    ("Number invited and responding per round (response rate, attrition)", "panel"),
    ("Flow of panelists and of statements across rounds", "flow"),
    ("Final list of statements with their agreement levels", "final"),
    ("Items dropped and why; wording changes between rounds", "dropped"),
    ("Per-statement results per round", "results"),
    ("Agreement across the panel and stability between rounds", "stats"),
    ("How comments were collected and used; the comments", "comments"),
    ("Feedback given to panelists between rounds", "narrative"),
    ("Software used; data snapshot", "software"),
]
SECTIONS = {
    "narrative": "Methods and results",
    "rule": "Consensus definition",
    "panel": "Panel and response",
    "flow": "Statements across rounds",
    "final": "Final list of statements",
    "dropped": "Items dropped and wording changes",
    "results": "Per-statement results per round",
    "stats": "Panel agreement and stability",
    "comments": "Comments",
    "software": "Software and data",
    "checklist": "Reporting checklist",
}
# With stakeholder groups ([groups]): the section after "results", and its reporting item.
GROUP_SECTION = ("groups", "Results per stakeholder group")
GROUP_ITEM = ("Consensus within each stakeholder group, and how the groups agree", "groups")
_FINAL_GROUPS = (
    ("accepted", "Accepted: consensus in"),
    ("rejected", "Rejected: consensus out"),
    ("open", "No consensus after the last round"),
)


def html_report(data: ReportData) -> str:
    """The consensus report as one self-contained HTML file (plotly.js inline, no network)."""
    final = final_statements(data)
    status_chart, final_chart = _figures(data, final)
    used = scales_used(data.metrics, data.scales, data.scale)
    several = mixed(used)  # statements on a scale other than the main one
    sections, checklist = report_sections(data)
    extra_css = ["groups.css"] if data.groups is not None else []
    return render(
        "report.html.j2",
        data=data,
        sections=sections,
        css=stylesheet("base.css", "report.css", "charts.css", *extra_css),
        cards=summary_cards(data, final),
        rule_warning="" if data.config_rule == data.rule else rule_check(data),
        scales=scales_table(used) if several else None,
        scale_notes=scale_notes(used) if several else [],
        dont_know=no_opinion_label(data.scales.main),
        paragraphs=paragraphs_of(data.narrative),
        rates=rates_table(data.rates),
        panel_steps=panel_flow_steps(data.rates),
        composition=composition_table(data.panel),
        eligibility=eligibility_view(data.eligibility),
        stopping=data.stopping,
        flow_steps=statement_flow_steps(data.flow),
        flow_table=statement_flow_table(data.flow),
        status_chart=status_chart,
        final_chart=final_chart,
        final_groups=[
            (title, final_table(final[final["fate"] == fate], data.scales))
            for fate, title in _FINAL_GROUPS
        ],
        dropped=dropped_table(dropped_items(data)),
        revised=revisions_table(revisions(data)),
        results=results_tables(data),
        kendall=None if data.stats_note else kendall_table(data.kendall),
        stability=stability_table(data.stability, data.scales),
        stability_rule=STABILITY_RULE.replace("**", ""),
        comments=None if data.comments is None else comments_by_statement(data.comments),
        comments_shown=COMMENTS_SHOWN,
        groups=None if data.groups is None else groups_view(data, data.groups),
        uncertainty=uncertainty_view(data),
        checklist=table(
            ["Item", "Section"],
            [[item, {"text": sections[key], "href": f"#{key}"}] for item, key in checklist],
            nowrap=[1],
        ),
    )


def report_sections(data: ReportData) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The report's sections and checklist: with stakeholder groups, their section follows
    the per-statement results; with statements left without consensus, the areas of
    uncertainty follow the final list; each answers one more item, as does the eligibility
    of the panel when criteria were checked."""
    after = {}  # section key -> (the section after it, its reporting item)
    if data.groups is not None:
        after["results"] = (GROUP_SECTION, GROUP_ITEM)
    if data.uncertainty is not None:
        after["final"] = (UNCERTAINTY_SECTION, UNCERTAINTY_ITEM)
    sections, checklist = {}, []
    for key, name in SECTIONS.items():
        sections[key] = name
        if key in after:
            sections[after[key][0][0]] = after[key][0][1]
    for item in CHECKLIST:
        checklist.append(item)
        if item[1] in after:
            checklist.append(after[item[1]][1])
        if item[1] == "panel" and data.eligibility is not None:
            checklist.append(ELIGIBILITY_ITEM)
    return sections, checklist


def _figures(data: ReportData, final: pd.DataFrame) -> list[str]:
    """The report's chart divs, in document order; plotly.js is inlined once, with the first."""
    lo, hi = data.rule.agree
    shown = final[final["fate"] != "dropped"]
    used = scales_used(shown, data.scales, data.scale)
    if mixed(used):
        agree_range, lines = _agree_ranges(used)
        final_chart = charts.final_agreement_chart(shown, None, agree_range, lines)
    else:
        final_chart = charts.final_agreement_chart(shown, data.rule.threshold, f"{lo:g}–{hi:g}")
    figs = [_for_print(status_by_round_chart(data.metrics)), _for_print(final_chart)]
    config = {"displaylogo": False, "responsive": True, "displayModeBar": False}
    return [
        fig.to_html(
            full_html=False, include_plotlyjs=i == 0, div_id=f"chart-{i + 1}", config=config
        )
        for i, fig in enumerate(figs)
    ]


def _for_print(fig: go.Figure) -> go.Figure:
    """The chart with its y labels clear of the plot: Plotly sets them flush against it, and
    printed text runs a little wider than on screen, so on paper "Round 1" ran into its bar.
    An invisible 6 px tick keeps them apart, and the left margin is wide enough for the
    labels (about 7 px a character at 12 px) whatever the width the page is printed at."""
    labels = [str(v) for trace in fig.data if trace.y is not None for v in trace.y]
    widest = max((len(x) for x in labels), default=0)
    return fig.update_layout(margin_l=22 + 7 * widest).update_yaxes(
        ticks="outside", ticklen=6, tickcolor="rgba(0,0,0,0)"
    )


def _agree_ranges(used: list[ScaleUsed]) -> tuple[str, dict[str, float]]:
    """The chart's agree ranges in words ('6–7 on 1–7; yes on Yes/No') and its threshold
    lines (scales in words -> threshold; one line per threshold)."""
    ranges: dict[str, str] = {}
    by_threshold: dict[float, list[str]] = {}
    for u in used:
        scale = u.scale
        name = scale.describe()
        ranges[name] = "yes" if scale.yes_no else f"{scale.rule.agree[0]:g}–{scale.rule.agree[1]:g}"
        if scale.rule.threshold is not None and name not in by_threshold.get(
            scale.rule.threshold, []
        ):
            by_threshold.setdefault(scale.rule.threshold, []).append(name)
    words = "; ".join(f"{r} on {name}" for name, r in ranges.items())
    return words, {", ".join(names): t for t, names in by_threshold.items()}


def summary_cards(data: ReportData, final: pd.DataFrame) -> list[tuple[str, int]]:
    ends = final["fate"].value_counts()
    return [
        ("Panelists invited", int(data.rates["invited"].max())),
        ("Rounds", len(data.rates)),
        (f"Statements ({data.metrics['statement_id'].nunique()} wordings)", len(final)),
        ("Accepted", int(ends.get("accepted", 0))),
        ("Rejected", int(ends.get("rejected", 0))),
        ("No consensus", int(ends.get("open", 0) + ends.get("dropped", 0))),
    ]


def paragraphs_of(narrative: str) -> list[str]:
    return [p.strip() for p in narrative.split("\n\n") if p.strip()]


def rates_table(rates: pd.DataFrame) -> Table:
    return frame_table(
        rates,
        {
            "round": "Round",
            "invited": "Invited",
            "responded": "Responded",
            "response_rate": "Response rate",
            "new": "First time",
            "retained": "Retained",
            "lost": "Lost since previous round",
        },
        {"response_rate": "{:.0f}%", "retained": "{:.0f}", "lost": "{:.0f}"},
    )


def panel_flow_steps(r: pd.DataFrame) -> list[charts.FlowStep]:
    """The flow of panelists: invited, then per round who responded, did not or was lost."""
    steps = [charts.FlowStep("Invited", [f"{int(r['invited'].max())} experts"])]
    for row in r.itertuples():
        side = [f"{row.invited - row.responded} did not respond"]
        if pd.notna(row.lost) and row.lost:
            side.append(f"{int(row.lost)} lost since round {row.round - 1}")
        if row.round != r["round"].min() and row.new:
            side.append(f"{int(row.new)} responded for the first time")
        steps.append(
            charts.FlowStep(
                f"Round {row.round}",
                [f"{row.responded} responded ({row.response_rate:.0f}%)"],
                side,
            )
        )
    return steps


def composition_table(panel: pd.DataFrame) -> Table | None:
    if panel.empty:
        return None
    return frame_table(panel, {"attribute": "Attribute", "value": "Value", "count": "Panelists"})


def statement_flow_steps(f: pd.DataFrame) -> list[charts.FlowStep]:
    """The flow of statements: per round how they entered, ended, and went on."""
    steps = []
    for i, r in enumerate(f.itertuples()):
        lines = [
            x
            for x in (
                f"{r.entered} entered" if r.entered else "",
                f"{r.carried_in} rated again" if r.carried_in else "",
                f"{r.revised_in} with revised wording" if r.revised_in else "",
                f"{r.added} added" if r.added else "",
            )
            if x
        ]
        side = [
            f"{n} {label}"
            for n, label in (
                (r.accepted, "accepted (consensus in)"),
                (r.rejected, "rejected (consensus out)"),
                (r.dropped, "dropped without consensus"),
                (r.open, "no consensus (last round)"),
            )
            if n
        ]
        nxt = f.iloc[i + 1] if i + 1 < len(f) else None
        arrow = (
            None
            if nxt is None
            else (
                f"{r.to_next_round} rated again · "
                f"{r.revised_for_next} revised · "
                f"{nxt['added']} added"
            )
        )
        steps.append(
            charts.FlowStep(f"Round {r.round}: {r.rated} statements rated", lines, side, arrow)
        )
    return steps


def statement_flow_table(f: pd.DataFrame) -> Table:
    return frame_table(
        f,
        {
            "round": "Round",
            "rated": "Rated",
            "added": "Added",
            "revised_in": "Revised wording",
            "consensus_in": "Consensus in",
            "consensus_out": "Consensus out",
            "no_consensus": "No consensus",
            "dropped": "Dropped",
        },
    )


def dropped_table(dropped: pd.DataFrame) -> Table:
    rows = [
        [text(r.statement_id), str(r.round), text(r.text), text(r.reason)]
        for r in dropped.itertuples()
    ]
    return table(["ID", "Round", "Statement", "Why"], rows, num=[1], widths=[7, 7, 50, 36])


def revisions_table(revs: pd.DataFrame) -> Table:
    rows = [
        [
            str(r.round),
            f"{text(r.revised_from)} → {text(r.statement_id)}",
            text(r.previous_text),
            text(r.text),
        ]
        for r in revs.itertuples()
    ]
    return table(
        ["Round", "IDs", "Previous wording", "New wording"],
        rows,
        num=[0],
        widths=[7, 13, 40, 40],
        nowrap=[1],
    )


def kendall_table(k: pd.DataFrame) -> Table:
    return frame_table(
        k,
        {
            "round": "Round",
            "n_panelists": "Panelists",
            "n_statements": "Statements",
            "w": "Kendall's W",
            "chi2": "χ²",
            "df": "df",
            "p": "p",
            "note": "Note",
        },
        {"w": "{:.3f}", "chi2": "{:.1f}", "p": "{:.3g}", "df": "{:.0f}"},
    )


def stability_table(s: pd.DataFrame, scales: ScaleMap) -> Table | None:
    if s.empty:
        return None
    return frame_table(
        s.assign(verdict=_verdicts(s, scales)),
        {
            "round": "Round",
            "statement_id": "ID",
            "prev_statement_id": "Compared with",
            "n_paired": "Paired",
            "pct_changed": "Changed",
            "cv_change_pct": "CV change",
            "wilcoxon_p": "Wilcoxon p",
            "mcnemar_p": "McNemar p",
            "verdict": "Verdict",
        },
        {
            "pct_changed": "{:.0f}%",
            "cv_change_pct": "{:+.0f}%",
            "wilcoxon_p": "{:.3g}",
            "mcnemar_p": "{:.3g}",
        },
    )


def _verdicts(s: pd.DataFrame, scales: ScaleMap) -> list[str]:
    """Each comparison's verdict; one between two scales says which ('not comparable: 1–7 in
    round 1, Yes/No in round 2')."""
    out = []
    for r in s.itertuples():
        if r.verdict != "not comparable":
            out.append(r.verdict)
            continue
        was = scales.scale_for(r.prev_round, r.prev_statement_id).describe()
        now = scales.scale_for(r.round, r.statement_id).describe()
        out.append(f"not comparable: {was} in round {r.prev_round:g}, {now} in round {r.round:g}")
    return out


def comments_by_statement(comments: pd.DataFrame) -> list[tuple[Any, list[tuple[str, list[str]]]]]:
    """Per round, per statement, its comments as text (in the stored order)."""
    return [
        (
            rnd,
            [
                (text(sid), [text(c) for c in part["comment"]])
                for sid, part in frame.groupby("statement_id", sort=True)
            ],
        )
        for rnd, frame in comments.groupby("round", sort=True)
    ]
