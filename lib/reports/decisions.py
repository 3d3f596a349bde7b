"""The study's own pre-registered decisions as a report states them: the stopping rule and
whether it was met after the last round (``lib.analysis.stopping``), and the panel against its
eligibility criteria (``lib.analysis.eligibility``), in counts only — never who.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib.analysis import eligibility, stopping
from lib.config import StoppingRule
from lib.reports.render import frame_table

__all__ = [
    "ELIGIBILITY_ITEM",
    "STOPPING_ITEM",
    "Stopping",
    "Eligibility",
    "stopping_of",
    "eligibility_of",
    "criteria_frame",
    "eligibility_view",
]

# Reporting items (ACCORD 2024) these answer, and the report's section that answers each.
STOPPING_ITEM = ("Stopping rule stated a priori, and whether it was met", "rule")
ELIGIBILITY_ITEM = ("Panel eligibility criteria, and how many invited experts met them", "panel")


@dataclass(frozen=True)
class Stopping:
    """The stopping rule (None: none pre-registered) in a sentence, and its verdict after the
    last round (None, with ``note``, when it could not be judged)."""

    rule: StoppingRule | None
    described: str
    verdict: stopping.Verdict | None
    note: str = ""

    @property
    def reasons(self) -> list[str]:
        """The verdict's reasons, without the sentence that restates the rule."""
        if self.verdict is None:
            return []
        return [r for r in self.verdict.reasons if r != self.described]


@dataclass(frozen=True)
class Eligibility:
    """The panel against the pre-registered criteria: counts per criterion and the sentence
    ACCORD asks for ("15 invited, 14 eligible; 1 missing COI disclosed")."""

    counts: pd.DataFrame  # eligibility.counts: one row per criterion, no pseudonym
    sentence: str
    rule: str = eligibility.ELIGIBILITY_RULE


def stopping_of(
    rule: StoppingRule | None, metrics: pd.DataFrame, stab: pd.DataFrame, stats_note: str
) -> Stopping:
    """The stopping rule and its verdict after the last round rated; not judged when the
    stability between rounds could not be computed (``stats_note``)."""
    described = stopping.describe(rule)
    if stats_note:
        why = "Not judged: the stability between rounds could not be computed (see above)."
        return Stopping(rule, described, None, why)
    try:
        return Stopping(rule, described, stopping.verdict(metrics, stab, rule))
    except ValueError as exc:  # nothing rated yet: there is nothing to judge
        return Stopping(rule, described, None, f"Not judged: {exc}.")


def eligibility_of(results: pd.DataFrame | None, n_invited: int) -> Eligibility | None:
    """Counts per criterion and the summary sentence; None when the snapshot checked no
    criterion (a study without ``[[eligibility]]``, or a snapshot from before)."""
    if results is None or results.empty:
        return None
    counts = eligibility.counts(results, n_invited)
    return Eligibility(counts, eligibility.summary_sentence(counts, n_invited))


def criteria_frame(e: Eligibility) -> pd.DataFrame:
    """Per criterion: its wording, the Panel column and test, and how many met it, did not,
    or had no value — the report's table and the workbook's sheet."""
    return e.counts[["wording", "attribute", "test", "n_met", "n_not_met", "n_missing"]]


def eligibility_view(e: Eligibility | None) -> dict[str, Any] | None:
    """What the HTML report's panel section says of eligibility: the sentence, the table of
    counts per criterion and the rule; None without criteria."""
    if e is None:
        return None
    table = frame_table(
        criteria_frame(e),
        {
            "wording": "Criterion",
            "attribute": "Panel column",
            "test": "Test",
            "n_met": "Met",
            "n_not_met": "Not met",
            "n_missing": "Missing",
        },
    )
    return {"sentence": e.sentence, "table": table, "rule": e.rule}
