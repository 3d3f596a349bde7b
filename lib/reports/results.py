"""The consensus report's per-statement tables, each row read on the statement's own scale.

A Likert row shows its median and IQR and its share rating in the agree range; a Yes/No row
(``[[scales]]`` with ``type = "yes_no"``) its share answering Yes, with no median or IQR.  Each
row's bar has its own scale's points and labels, and no-opinion answers that count in the
denominator of the percentages are a grey segment of their own, their count and share written
under it.  ``scales_table`` and ``scale_notes`` state the scales of a study rated on more than
one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from lib.analysis.scales import Scale, ScaleMap
from lib.charts.base import STATUS_LABELS
from lib.reports import charts
from lib.reports.render import Table, number, table, text
from lib.reports.scale_uses import (
    ScaleUsed,
    agree_words,
    no_opinion_label,
    no_opinion_text,
    point_labels,
    scale_name,
)

if TYPE_CHECKING:
    from lib.reports.data import ReportData

__all__ = ["final_table", "results_tables", "scales_table", "scale_notes"]


def _agree(r: Any, scale: Scale) -> dict[str, str]:
    """% agree (a Yes/No question's % yes) with its votes out of the denominator of the
    percentage, and the Wilson interval as a second line."""
    denom = r.denominator if pd.notna(r.denominator) else r.n
    votes = f"{int(r.n_agree)}/{int(denom)}" if pd.notna(denom) and denom else "–"
    share = number(r.pct_agree, "{:.0f}%")
    if scale.yes_no and pd.notna(r.pct_agree):
        share += " " + scale.point_labels()[1]  # "86% Yes"
    cell = {"text": f"{share} ({votes})"}
    if pd.notna(r.ci_low):
        cell["small"] = f"95% CI {r.ci_low:.0f}–{r.ci_high:.0f}"
    return cell


def _median(r: Any, scale: Scale) -> str:
    """Median (IQR); blank for a Yes/No question, where neither means anything."""
    if scale.yes_no:
        return ""
    return f"{number(r.median)} ({number(r.q1)}–{number(r.q3)})"


def _statement(r: Any) -> dict[str, str]:
    return {"text": text(r.text), "small": text(r.domain)}


def final_table(frame: pd.DataFrame, scales: ScaleMap) -> Table | None:
    """The final statements of one outcome: agreement (% yes for a Yes/No question) and,
    where it means something, median and IQR."""
    if frame.empty:
        return None
    rows = []
    for r in frame.itertuples():
        scale = scales.scale_for(r.round, r.statement_id)
        rows.append(
            [text(r.statement_id), _statement(r), str(r.round), _agree(r, scale), _median(r, scale)]
        )
    return table(
        ["ID", "Statement", "Round", "Agree", "Median (IQR)"],
        rows,
        num=[2, 3, 4],
        widths=[7, 57, 7, 15, 14],
    )


def _counts(dist: pd.DataFrame) -> dict[tuple[int, str], dict[int, int]]:
    valid = dist[~dist["answer"].isin(["no_opinion", "missing"])]
    out: dict[tuple[int, str], dict[int, int]] = {}
    for r in valid.itertuples():
        out.setdefault((r.round, r.statement_id), {})[int(r.answer)] = int(r.count)
    return out


def _no_opinion_counts(dist: pd.DataFrame) -> dict[tuple[int, str], int]:
    said = dist[dist["answer"] == "no_opinion"]
    return {(r.round, r.statement_id): int(r.count) for r in said.itertuples()}


def _ratings_cell(
    counts: dict[int, int], labels: dict[int, str], scale: Scale, no_opinion: int
) -> dict[str, str]:
    """The ratings bar on the statement's own scale; no-opinion answers counted in the
    denominator are a segment of their own, and a line under the bar gives their count and
    share (of the same denominator as % agree)."""
    numbered = not scale.yes_no
    if not scale.no_opinion_in_denominator:
        return {"bar": charts.distribution_bar(counts, labels, numbered=numbered)}
    label = no_opinion_label(scale)
    total = sum(counts.get(s, 0) for s in labels) + no_opinion
    share = f"{100 * no_opinion / total:.0f}%" if total else "–"
    return {
        "bar": charts.distribution_bar(counts, labels, (label, no_opinion), numbered),
        "small": f"{label}: {no_opinion} of {total} ({share})",
    }


def results_tables(data: ReportData) -> list[tuple[int, Table]]:
    """Per round, each statement's ratings bar, n, agreement, median and status, each on the
    statement's own scale."""
    counts, out = _counts(data.distribution), []
    no_op = _no_opinion_counts(data.distribution)
    head = ["ID", "Statement", "Ratings", "n", "Agree", "Median (IQR)", "Status"]
    for rnd, frame in data.metrics.groupby("round", sort=True):
        rows = []
        for r in frame.itertuples():
            scale = data.scales.scale_for(rnd, r.statement_id)
            key = (rnd, r.statement_id)
            labels = point_labels(scale, data.scale)
            rows.append(
                [
                    text(r.statement_id),
                    _statement(r),
                    _ratings_cell(counts.get(key, {}), labels, scale, no_op.get(key, 0)),
                    str(int(r.n)),
                    _agree(r, scale),
                    _median(r, scale),
                    {
                        "status": text(r.status),
                        "label": STATUS_LABELS.get(r.status, r.status),
                        "small": text(r.fate_detail),
                    },
                ]
            )
        out.append((rnd, table(head, rows, num=[3, 4, 5], widths=[7, 40, 13, 5, 13, 10, 12])))
    return out


def scales_table(used: list[ScaleUsed]) -> Table:
    """The scales of a study rated on more than one: where each was used, its answers, its
    rule and how its no-opinion answers count."""
    rows = [
        [
            scale_name(u.scale),
            u.where,
            u.answers,
            {"text": u.scale.rule.label, "small": u.scale.rule.describe()},
            no_opinion_text(u.scale),
        ]
        for u in used
    ]
    return table(
        ["Scale", "Used in", "Answers", "Consensus rule", "No-opinion answers"],
        rows,
        widths=[14, 16, 22, 30, 18],
        nowrap=(),
    )


def scale_notes(used: list[ScaleUsed]) -> list[str]:
    """How to read a row on each scale: what Agree counts and how its bar runs."""
    out = []
    for u in used:
        lo, hi = u.scale.min, u.scale.max
        dk = no_opinion_label(u.scale) if u.scale.no_opinion_in_denominator else ""
        of = f"valid answers and “{dk}” answers" if dk else "valid answers"
        bar = f"from {u.labels[lo]} (left) to {u.labels[hi]} (right)"
        bar += f", then “{dk}” (grey; count and share under the bar)" if dk else ""
        extra = "; no median or IQR (a Yes/No question has none)" if u.scale.yes_no else ""
        out.append(
            f"{scale_name(u.scale)}, {u.where}: Agree = share "
            f"{agree_words(u.scale, u.labels)} of {of}; the bar runs {bar}{extra}."
        )
    return out
