"""The drafted methods-and-results text: numbers from the report, prose in a template."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from lib.analysis.uncertainty import LEANING_MIN, POLARISED_MIN, UNDECIDED_MIN
from lib.reports.render import render_text
from lib.reports.scale_uses import mixed, scales_used
from lib.reports.tables import TERMINAL
from lib.reports.uncertainty import shape_counts

if TYPE_CHECKING:
    from lib.reports.data import ReportData

__all__ = ["draft_narrative"]


def draft_narrative(data: ReportData) -> str:
    """A methods-and-results text with the numbers filled in, for the coordinator to edit
    (``templates/narrative.txt.j2``)."""
    m, rates = data.metrics, data.rates
    ended = m[m["fate"].isin(TERMINAL)]["fate"].value_counts()
    return render_text(
        "narrative.txt.j2",
        n_rounds=len(rates),
        invited=int(rates["invited"].max()),
        lo=min(data.scale),
        hi=max(data.scale),
        scale=data.scale,
        no_opinion=data.no_opinion,
        in_denominator=data.no_opinion_in_denominator,
        rule=data.rule,
        # Statements with consensus that were still rated in the next round.
        rerated=int(((m["status"] != "no_consensus") & (m["fate"] == "carried")).sum()),
        software=data.software,
        rates=list(rates.itertuples()),
        flow=list(data.flow.itertuples()),
        last_round=int(rates["round"].max()),
        ended={f: int(ended.get(f, 0)) for f in TERMINAL},
        kendall=_kendall(data.kendall),
        uses=_uses(data),
        groups=_groups(data),
        stopping=_stopping(data),
        eligibility=_eligibility(data),
        uncertain=_uncertain(data),
        shape_rule={"polarised": POLARISED_MIN, "undecided": UNDECIDED_MIN, "leaning": LEANING_MIN},
    )


def _stopping(data: ReportData) -> dict[str, Any] | None:
    """The stopping rule as the text states it (``rule``: a clause, or "" when none was
    pre-registered), its decision after the last round (None: not judged) and the open
    statements by their stability (``parts``: (count, words), counts above zero)."""
    s = data.stopping
    if s is None:
        return None
    clause = s.rule.describe() if s.rule is not None else ""
    v = s.verdict
    return {
        "rule": clause[:1].lower() + clause[1:],
        "decision": None if v is None else v.decision,
        "last_round": None if v is None else v.last_round,
        "n_open": 0 if v is None else v.n_open,
        # the open statements by their stability between their last two rounds
        "parts": []
        if v is None or not v.n_open
        else [
            (n, word)
            for n, word in (
                (v.n_moving, "still moving"),
                (v.n_stable, "stable"),
                (v.n_not_assessable, "not assessable"),
            )
            if n
        ],
    }


def _eligibility(data: ReportData) -> dict[str, Any] | None:
    """The criteria's wording and how many invited experts met them, or did not: counts only."""
    e = data.eligibility
    if e is None:
        return None
    c = e.counts
    short = [
        f"{r.n_not_met} not meeting “{r.attribute}” ({r.test})"
        for r in c.itertuples()
        if r.n_not_met
    ]
    short += [
        f"{r.n_missing} with no value for “{r.attribute}”" for r in c.itertuples() if r.n_missing
    ]
    return {
        "wordings": list(c["wording"]),
        "n_eligible": int(c["n_eligible"].iloc[0]),
        "short": short,
    }


def _uncertain(data: ReportData) -> dict[str, Any] | None:
    """How many statements ended without consensus, by the shape of their last ratings."""
    u = data.uncertainty
    if u is None:
        return None
    return {"n": len(u.areas), "counts": shape_counts(u.areas)}


def _groups(data: ReportData) -> dict[str, Any] | None:
    """The stakeholder groups as the text states them: the attribute, the groups shown, the
    study-level choice, and how the groups agreed on each statement's final version."""
    g = data.groups
    if g is None:
        return None
    final = data.metrics.loc[data.metrics["fate"].isin(TERMINAL), ["round", "statement_id"]]
    kinds = final.merge(g.concordance, on=["round", "statement_id"])["concordance"]
    counts = kinds.value_counts()
    return {
        "attribute": g.choice.attribute,
        "labels": g.labels,
        "consensus": g.choice.consensus,
        "min_groups": g.choice.min_groups,
        "pooled": g.pooled,
        "min_size": g.min_group_size,
        "n_final": len(final),
        "every": int(counts.get("consensus in every group", 0)),
        "panel_only": int(counts.get("panel only", 0)),
        "discordant": int(counts.get("discordant", 0)),
    }


def _uses(data: ReportData) -> list[dict[str, Any]]:
    """Each scale and where it was used, when some statements had a scale other than the main
    one (none otherwise: the text then states the study's one scale)."""
    used = scales_used(data.metrics, data.scales, data.scale)
    if not mixed(used):
        return []
    return [
        {
            "rounds": list(u.rounds),
            "ids": list(u.ids),
            "others": u.others,
            "yes_no": u.scale.yes_no,
            "name": u.scale.name,
            "lo": u.scale.min,
            "hi": u.scale.max,
            "labels": u.labels,
            "rule": u.scale.rule,
            "no_opinion": u.scale.no_opinion,
            "in_denominator": u.scale.no_opinion_in_denominator,
        }
        for u in used
    ]


def _kendall(k: pd.DataFrame) -> list[tuple[int, float]]:
    """(round, W) of the rounds where W was computed."""
    if k.empty or not {"round", "w"} <= set(k.columns):
        return []
    return [(r, w) for r, w in zip(k["round"], k["w"], strict=True) if pd.notna(w)]
