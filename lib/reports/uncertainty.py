"""The report's "Areas of uncertainty": the statements that ended without consensus, their last
results, their agreement round by round and the shape of the panel's ratings
(``lib.analysis.uncertainty``), with the panel's comments where the report carries comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from lib.analysis import uncertainty
from lib.analysis.scales import Scale, ScaleMap
from lib.reports import charts
from lib.reports.render import Table, number, table, text
from lib.reports.scale_uses import scale_name

if TYPE_CHECKING:
    from lib.reports.data import ReportData

__all__ = [
    "SECTION",
    "ITEM",
    "SHEET",
    "BY_ROUND_SHEET",
    "Uncertainty",
    "uncertainty_of",
    "shape_words",
    "shape_counts",
    "uncertainty_view",
    "uncertainty_sheets",
]

SECTION = ("uncertainty", "Areas of uncertainty")
ITEM = (
    "Areas of uncertainty: statements without consensus, how their agreement moved and the "
    "shape of the disagreement",
    "uncertainty",
)
SHEET, BY_ROUND_SHEET = "Areas of uncertainty", "Uncertainty by round"
_SHEET_COLUMNS = [
    "statement_id",
    "round",
    "domain",
    "text",
    "versions",
    "fate",
    "n",
    "pct_agree",
    "ci_low",
    "ci_high",
    "median",
    "q1",
    "q3",
    "iqr",
    "status",
    "first_round",
    "change",
    "shape",
    "leaning",
    "bottom",
    "middle",
    "top",
    "n_bottom",
    "n_middle",
    "n_top",
    "pct_bottom",
    "pct_middle",
    "pct_top",
    "bimodality",
]
_FATE = {"open": "no consensus after round {round}", "dropped": "dropped after round {round}"}


@dataclass(frozen=True)
class Uncertainty:
    """The statements that ended without consensus (``uncertainty.areas``), every version they
    followed (``uncertainty.trajectories``) and the comments on them (None: not in this
    report)."""

    areas: pd.DataFrame
    by_round: pd.DataFrame
    comments: pd.DataFrame | None


def uncertainty_of(
    metrics: pd.DataFrame,
    statements: pd.DataFrame,
    distribution: pd.DataFrame,
    scales: ScaleMap,
    comments: pd.DataFrame | None,
) -> Uncertainty | None:
    """The areas of uncertainty of a report; None when every statement reached consensus."""
    found = uncertainty.areas(metrics, statements, distribution, scales)
    if found.empty:
        return None
    steps = uncertainty.trajectories(found, metrics, statements)
    said = None if comments is None else uncertainty.comments_on(steps, comments)
    return Uncertainty(found, steps, said)


def shape_words(r: Any, scale: Scale) -> tuple[str, str]:
    """A statement's shape as the report names it ("polarised", "leaning to agree", "split:
    56% Yes") and its bands' shares ("1–2: 36% · 3: 14% · 4–5: 50%")."""
    if r.shape == "no ratings":
        return "no ratings", ""
    if r.shape == "split":
        labels = scale.point_labels()
        return (
            f"split: {r.pct_top:.0f}% {labels[1]}",
            f"{labels[1]}: {r.pct_top:.0f}% · {labels[0]}: {r.pct_bottom:.0f}%",
        )
    name = f"leaning to {r.leaning}" if r.shape == "leaning" else r.shape
    parts = [(r.bottom, r.pct_bottom), (r.middle, r.pct_middle), (r.top, r.pct_top)]
    return name, " · ".join(f"{band}: {pct:.0f}%" for band, pct in parts if band)


def shape_counts(areas: pd.DataFrame) -> list[tuple[str, int]]:
    """(shape as the text names it, count) in ``SHAPES`` order, leaning split by direction;
    shapes no statement has are left out."""
    words = [
        f"leaning to {lean}" if shape == "leaning" else shape
        for shape, lean in zip(areas["shape"], areas["leaning"], strict=True)
    ]
    counts = pd.Series(words).value_counts()
    order = ["polarised", "undecided", "leaning to agree", "leaning to disagree", "spread"]
    order += ["split", "no ratings"]
    return [(w, int(counts[w])) for w in order if w in counts.index]


def _share(pct: float, scale: Scale) -> str:
    return number(pct, "{:.0f}%") + (f" {scale.point_labels()[1]}" if scale.yes_no else "")


def _last(r: Any, scale: Scale) -> dict[str, str]:
    """% agree (% yes) with its votes and Wilson interval; median (IQR) and n under it."""
    denom = r.denominator if pd.notna(r.denominator) else r.n
    votes = f"{int(r.n_agree)}/{int(denom)}" if pd.notna(denom) and denom else "–"
    small = [] if pd.isna(r.ci_low) else [f"95% CI {r.ci_low:.0f}–{r.ci_high:.0f}"]
    if not scale.yes_no:
        small.append(f"median {number(r.median)} ({number(r.q1)}–{number(r.q3)})")
    return {"text": f"{_share(r.pct_agree, scale)} ({votes})", "small": " · ".join(small)}


def _across(steps: pd.DataFrame, scales: ScaleMap, last: Scale) -> dict[str, str]:
    """The sparkline of % agree per round and the same in words ("R1 40% → R2 53%")."""
    points, words = [], []
    for s in steps.itertuples():
        scale = scales.scale_for(s.round, s.version)
        share = _share(s.pct_agree, scale)
        points.append((f"Round {s.round} ({s.version}): {share}", float(s.pct_agree)))
        words.append(f"R{s.round} {share}")
    return {
        "bar": charts.agreement_spark(points, last.rule.threshold),
        "small": " → ".join(words),
    }


def _table(data: ReportData, u: Uncertainty) -> Table:
    rows = []
    for r in u.areas.itertuples():
        scale = data.scales.scale_for(r.round, r.statement_id)
        name, shares = shape_words(r, scale)
        fate = _FATE.get(r.fate, r.fate).format(round=r.round)
        history = f" · versions {r.versions}" if "→" in r.versions else ""
        steps = u.by_round[u.by_round["statement_id"] == r.statement_id]
        rows.append(
            [
                text(r.statement_id),
                {"text": text(r.text), "small": f"{text(r.domain)} · {fate}{history}"},
                _last(r, scale),
                _across(steps, data.scales, scale),
                {"text": name, "small": shares},
            ]
        )
    return table(
        ["ID", "Statement", "Last result", "Agreement by round", "Shape"],
        rows,
        num=[2],
        widths=[7, 43, 16, 17, 17],
    )


def _comments(u: Uncertainty) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Per statement with comments, per round (and the version rated then), its comments as
    text."""
    if u.comments is None:
        return []
    out = []
    for sid in u.areas["statement_id"]:
        mine = u.comments[u.comments["statement_id"] == sid]
        rounds = [
            (
                f"round {rnd}" + (f" ({version})" if version != sid else ""),
                [text(c) for c in part["comment"]],
            )
            for (rnd, version), part in mine.groupby(["round", "version"], sort=True)
        ]
        if rounds:
            out.append((text(sid), rounds))
    return out


def uncertainty_view(data: ReportData) -> dict[str, Any] | None:
    """What the HTML report's section holds: the table, the shape rule and the comments (None:
    the report carries no comments)."""
    u = data.uncertainty
    if u is None:
        return None
    return {
        "n": len(u.areas),
        "counts": shape_counts(u.areas),
        "table": _table(data, u),
        "rule": uncertainty.SHAPE_RULE,
        "comments": None if u.comments is None else _comments(u),
    }


def _scale_names(rounds: pd.Series, ids: pd.Series, data: ReportData) -> list[str]:
    return [scale_name(data.scales.scale_for(r, s)) for r, s in zip(rounds, ids, strict=True)]


def uncertainty_sheets(data: ReportData) -> dict[str, pd.DataFrame]:
    """The workbook's sheets: one row per statement, then its agreement round by round."""
    u = data.uncertainty
    if u is None:
        return {}
    areas = u.areas[[c for c in _SHEET_COLUMNS if c in u.areas.columns]]
    by_round = u.by_round.drop(columns="step")
    if data.scales.mixed:  # each row's scale, as the other sheets name it
        areas = areas.assign(scale=_scale_names(areas["round"], areas["statement_id"], data))
        by_round = by_round.assign(scale=_scale_names(by_round["round"], by_round["version"], data))
    return {SHEET: areas, BY_ROUND_SHEET: by_round}
