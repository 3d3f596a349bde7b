"""Which scale each statement was rated on, as the documents state it.

A study may give rounds (or listed statements of a round) their own scale (``[[scales]]``,
``lib.analysis.scales``): a 7-point round 1, then a Yes/No inclusion vote.  The documents then
say so — the methods text names each scale and its rule, a table row shows its own answers, a
Yes/No row its share of Yes — and fall back to the study's one scale when every statement was
rated on it, so a single-scale study's documents read as they always did.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from lib.analysis.scales import Scale, ScaleMap

__all__ = [
    "clean_labels",
    "ScaleUsed",
    "DONT_KNOW_COLOR",
    "point_labels",
    "row_scales",
    "scales_used",
    "mixed",
    "agree_words",
    "no_opinion_label",
    "no_opinion_text",
    "scale_name",
]

# The "Don't know" segment of a bar and row: a grey apart from the grey middle of a Likert scale
# (charts.css draws it striped as well, so it survives greyscale printing).
DONT_KNOW_COLOR = "#8C8C8C"


@dataclass(frozen=True)
class ScaleUsed:
    """One scale and where a snapshot's statements were rated on it."""

    scale: Scale
    labels: dict[int, str]  # point -> label, lowest first
    rounds: tuple[int, ...]
    ids: tuple[str, ...] = ()  # the statements of ``rounds`` rated on it; () = all of them
    others: bool = False  # the statements of the round that another scale does not list

    @property
    def where(self) -> str:
        """Where the scale was used, in words: 'rounds 1 and 2', 'round 3: S01, S07a'."""
        rounds = " and ".join(map(str, self.rounds))
        head = f"round{'s' if len(self.rounds) > 1 else ''} {rounds}"
        if self.others:
            return f"{head}: the other statements"
        return f"{head}: {', '.join(self.ids)}" if self.ids else head

    @property
    def answers(self) -> str:
        """Its answers, lowest and highest: 'Yes/No' or '1 = Not important … 7 = Essential'."""
        if self.scale.yes_no:
            return f"{self.labels[1]} / {self.labels[0]}"
        lo, hi = self.scale.min, self.scale.max
        words = clean_labels(self.labels)  # "1 = Not important", never "1 = 1 - Not important"
        return f"{lo} = {words[lo]} … {hi} = {words[hi]}"


def clean_labels(labels: dict[int, str]) -> dict[int, str]:
    """A scale's labels without the score a Forms-style label repeats: "1 - Strongly disagree"
    becomes "Strongly disagree"; a label that is only its score ("2") stays as it is.

    >>> clean_labels({1: "1 - Strongly disagree", 2: "2", 3: "3. Agree", 4: "Yes"})
    {1: 'Strongly disagree', 2: '2', 3: 'Agree', 4: 'Yes'}
    """
    out = {}
    for score, label in labels.items():
        words = re.sub(rf"^\s*{score}\s*(?:[-–—.:=)]\s*|\s+(?=\D))", "", str(label)).strip()
        out[score] = words or str(score)
    return out


def point_labels(scale: Scale, main_labels: dict[int, str]) -> dict[int, str]:
    """A scale's label per point; the main scale's as the study's reports always showed them."""
    return main_labels if not scale.name else scale.point_labels()


def row_scales(frame: pd.DataFrame, scales: ScaleMap) -> list[Scale]:
    """The scale of each row of a frame with ``round`` and ``statement_id``."""
    by_name = {s.name: s for s in scales.all_scales()}
    return [by_name[n] for n in scales.names(frame)]


def scales_used(
    metrics: pd.DataFrame, scales: ScaleMap, main_labels: dict[int, str]
) -> list[ScaleUsed]:
    """Each scale the snapshot's statements were rated on and where, in round order (rounds
    rated wholly on one scale run together: 'rounds 1 and 2')."""
    names = scales.names(metrics)
    by_name = {s.name: s for s in scales.all_scales()}
    out: list[ScaleUsed] = []
    for rnd, part in metrics.assign(_scale=names.to_numpy()).groupby("round", sort=True):
        counts = part["_scale"].value_counts(sort=True)
        for name in counts.index:
            scale = by_name[name]
            ids = (
                () if len(counts) == 1 else tuple(part.loc[part["_scale"] == name, "statement_id"])
            )
            # the round's most used scale is "the other statements" beside the listed ones
            others = len(counts) > 1 and name == counts.index[0]
            last = out[-1] if out else None
            if last and last.scale is scale and not ids and not last.ids and not last.others:
                out[-1] = ScaleUsed(scale, last.labels, (*last.rounds, int(rnd)))
                continue
            labels = point_labels(scale, main_labels)
            out.append(ScaleUsed(scale, labels, (int(rnd),), () if others else ids, others))
    return out


def mixed(used: list[ScaleUsed]) -> bool:
    """Whether any statement was rated on a scale other than the study's main one."""
    return any(u.scale.name for u in used)


def agree_words(scale: Scale, labels: dict[int, str]) -> str:
    """What counts as agreeing on ``scale``: 'rating 6–7', or 'answering Yes'."""
    if scale.yes_no:
        return f"answering {labels[1]}"
    lo, hi = scale.rule.agree
    return f"rating {lo:g}–{hi:g}"


def no_opinion_label(scale: Scale) -> str:
    """The scale's (first) no-opinion answer, as the panel saw it."""
    return scale.no_opinion[0] if scale.no_opinion else "No opinion"


def no_opinion_text(scale: Scale) -> str:
    """The scale's no-opinion answers and whether they count in the denominator."""
    said = ", ".join(f"“{x}”" for x in scale.no_opinion) or "none offered"
    counted = "counted in" if scale.no_opinion_in_denominator else "left out of"
    return f"{said}; {counted} the denominator"


def scale_name(scale: Scale) -> str:
    """A scale's name and range: 'Inclusion vote (Yes/No)', 'Main scale (1–7)'."""
    return f"{scale.name or 'Main scale'} ({scale.describe()})"
