"""The consensus report's per-statement tables, each row read on the statement's own scale.

A Likert row shows its median and IQR and its share rating in the agree range; a Yes/No row
(``[[scales]]`` with ``type = "yes_no"``) its share answering Yes, with no median or IQR.  Each
row's bar has its own scale's points and labels, and no-opinion answers that count in the
denominator of the percentages are a grey segment of their own, their count and share written
under it.  ``scales_table`` and ``scale_notes`` state the scales of a study rated on more than
one.  ``group_tables`` sets each stakeholder group's result beside the whole panel's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from lib.analysis.groups import pooling_rule
from lib.analysis.scales import Scale, ScaleMap
from lib.analysis.stakeholders import CONCORDANCE_RULE, VERDICT_RULES
from lib.charts.base import STATUS_LABELS
from lib.reports import charts
from lib.reports.groups import ALL, GroupResults, group_noun
from lib.reports.render import Table, number, rule_definition, table, text
from lib.reports.scale_uses import (
    ScaleUsed,
    agree_words,
    no_opinion_label,
    no_opinion_text,
    point_labels,
    scale_name,
)
from lib.reports.tables import final_statements

if TYPE_CHECKING:
    from lib.reports.data import ReportData

__all__ = [
    "GROUP_STATUS",
    "final_table",
    "group_tables",
    "groups_view",
    "results_tables",
    "scales_table",
    "scale_notes",
]

# A group's status in a narrow column (the report's text gives the key).
GROUP_STATUS = {"consensus_in": "In", "consensus_out": "Out", "no_consensus": "None"}


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
            {"text": u.scale.rule.label, "small": rule_definition(u.scale.rule)},
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


def _group_cell(r: Any, scale: Scale) -> dict[str, str] | str:
    """One group's result: its status, % agree (% yes) with votes out of the denominator, and
    median (IQR) where the scale has one; an en dash when the group did not rate it."""
    if r is None or not r.n:
        return "–"
    counted = scale.no_opinion_in_denominator and pd.notna(r.n_no_opinion)
    denom = int(r.n) + (int(r.n_no_opinion) if counted else 0)
    share = number(r.pct_agree, "{:.0f}%")
    if scale.yes_no and pd.notna(r.pct_agree):
        share += " " + scale.point_labels()[1]
    cell = {
        "status": text(r.status),
        "label": GROUP_STATUS.get(r.status, r.status),
        "text": f"{share} ({int(r.n_agree)}/{denom})",
    }
    if not scale.yes_no:
        cell["small"] = f"{number(r.median)} ({number(r.q1)}–{number(r.q3)})"
    return cell


def _across(c: Any) -> dict[str, str]:
    """How the groups' verdicts agree, and the gap between the extreme groups."""
    if c is None:
        return {"text": "–"}
    cell = {"text": text(c.concordance)}
    if pd.notna(c.gap) and c.gap > 0:
        cell["small"] = f"gap {c.gap:.0f} points"
    return cell


def _group_table(
    keys: list[tuple[int, str, Any]], g: GroupResults, scales: ScaleMap, head: list[str]
) -> Table:
    """Rows ``keys`` (round, statement, its metrics row) with a column per group of ``head``."""
    cells = {(r.round, r.statement_id, r.group): r for r in g.rows.itertuples()}
    conc = {(c.round, c.statement_id): c for c in g.concordance.itertuples()}
    study = g.choice.consensus != "panel"
    rows = []
    for rnd, sid, m in keys:
        scale = scales.scale_for(rnd, sid)
        row = [{"text": text(sid), "small": f"round {rnd}"}, _statement(m)]
        row += [_group_cell(cells.get((rnd, sid, x)), scale) for x in [ALL, *g.labels]]
        row.append(_across(conc.get((rnd, sid))))
        if study:
            status = cells[(rnd, sid, ALL)].status_study
            row.append({"status": text(status), "label": GROUP_STATUS.get(status, status)})
        rows.append(row)
    heads = [*head, "Across groups", *(["Study"] if study else [])]
    # the groups' columns as wide as the statement's allows (a group's name on one line)
    k, extra = len(head) - 2, 12 + (8 if study else 0)
    w = max(8, min(14, (100 - 7 - 17 - extra) // k))
    widths = [7, 100 - 7 - k * w - extra, *[w] * k, 12, *([8] if study else [])]
    return table(heads, rows, widths=widths)


def group_tables(data: ReportData, g: GroupResults) -> tuple[Table, list[tuple[int, Table]]]:
    """Each statement's final version, then every statement of each round, with each group's
    result beside the whole panel's, how the groups agree and (under a study-level choice
    other than the panel's) the study's status."""
    final = final_statements(data)
    labels = ["ID", "Statement", "All", *g.labels]
    keys = [(r.round, r.statement_id, r) for r in final.itertuples()]
    out = _group_table(keys, g, data.scales, labels)
    sizes = g.rows.drop_duplicates(["round", "group"]).set_index(["round", "group"])["n_panelists"]
    rounds = []
    for rnd, frame in data.metrics.groupby("round", sort=True):
        head = ["ID", "Statement"] + [
            f"{x} ({int(sizes[(rnd, x)])})" if (rnd, x) in sizes.index else x
            for x in [ALL, *g.labels]
        ]
        keys = [(rnd, r.statement_id, r) for r in frame.itertuples()]
        rounds.append((int(rnd), _group_table(keys, g, data.scales, head)))
    return out, rounds


def groups_view(data: ReportData, g: GroupResults) -> dict[str, Any]:
    """What the HTML report says of the stakeholder groups: the study-level choice, the rules
    of concordance and pooling, and the tables of results per group."""
    final, rounds = group_tables(data, g)
    choice = g.choice
    return {
        "attribute": choice.attribute,
        "noun": group_noun(choice.attribute),
        "labels": g.labels,
        "choice": choice.describe(),
        "verdict": VERDICT_RULES.get(choice.consensus, choice.consensus),
        "min_groups": choice.min_groups,
        "study_column": choice.consensus != "panel",
        "concordance_rule": CONCORDANCE_RULE,
        "pooled": pooling_rule(g.min_size) if g.min_size is not None else "",
        "changed": "" if g.now == choice else _groups_changed(g),
        "status_key": GROUP_STATUS,
        "final": final,
        "rounds": rounds,
    }


def _groups_changed(g: GroupResults) -> str:
    """The warning when the study configuration's [groups] is no longer the snapshot's."""
    now = "has no [groups] table" if g.now is None else f"says: {g.now.describe()}"
    return f"DIFFERENT: the study configuration now {now}; refresh to recompute"
