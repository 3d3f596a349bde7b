"""Scales: how a question is answered and judged, and which statement of which round uses which.

A study has a main scale and may give rounds (or listed statements of a round) their own — a
9-point round 1 then a 5-point round 2, or a final Yes/No inclusion vote.  Analysis functions
that count votes take a :class:`ScaleMap` and work scale by scale (:meth:`ScaleMap.split`).
Pure Python and pandas; ``lib.config`` builds the map from a study's ``[scale]`` and
``[[scales]]`` tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from lib.analysis.rules import Rule

__all__ = ["Scale", "ScaleUse", "ScaleMap", "QUANTILE_COLUMNS", "by_scale"]

# metrics that mean nothing for a Yes/No question (its share of Yes is % agree)
QUANTILE_COLUMNS = ["median", "q1", "q3", "iqr", "mean", "sd", "min", "max", "p30", "p70"]


@dataclass(frozen=True, eq=False)
class Scale:
    """How one question is answered and judged: its points, labels, no-opinion answers, rule.

    The main scale has the name ``""``.  A Yes/No scale runs 0 (No) to 1 (Yes); its rule
    counts the share answering Yes.
    """

    name: str
    min: int
    max: int
    labels: dict[str, int]
    no_opinion: tuple[str, ...]
    rule: Rule
    no_opinion_in_denominator: bool = False
    yes_no: bool = False

    def points(self) -> list[int]:
        """Every point of the scale, lowest first."""
        return list(range(self.min, self.max + 1))

    def point_labels(self) -> dict[int, str]:
        """One label per point: the configured label (the first given for it), else the number.

        >>> from lib.analysis.rules import yes_no_rule
        >>> Scale("Vote", 0, 1, {"Yes": 1, "No": 0, "Sim": 1}, (), yes_no_rule({})).point_labels()
        {0: 'No', 1: 'Yes'}
        """
        names: dict[int, str] = {}
        for label, score in self.labels.items():
            names.setdefault(score, label)
        return {p: names.get(p, str(p)) for p in self.points()}

    def describe(self) -> str:
        """The scale in a few words, as methods text states it: 'Yes/No' or '1–9'."""
        return "Yes/No" if self.yes_no else f"{self.min}–{self.max}"

    def same_as(self, other: Scale) -> bool:
        """Whether ratings on the two scales can be compared (stability between rounds)."""
        return (self.min, self.max, self.yes_no) == (other.min, other.max, other.yes_no)

    def __hash__(self) -> int:  # cache keys: equal content, equal hash
        return hash((self.name, self.min, self.max, self.yes_no, self.rule))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scale) and self.__dict__ == other.__dict__


@dataclass(frozen=True)
class ScaleUse:
    """A ``[[scales]]`` entry: a scale and where it applies (listed statements of some rounds,
    or every statement of those rounds when ``statements`` is empty)."""

    scale: Scale
    rounds: frozenset[int]
    statements: frozenset[str] = frozenset()  # case-folded statement IDs

    def applies(self, rnd: int, statement_id: str) -> bool:
        """Whether this scale is the one of ``statement_id`` in round ``rnd``."""
        if rnd not in self.rounds:
            return False
        return not self.statements or str(statement_id).casefold() in self.statements


@dataclass(frozen=True)
class ScaleMap:
    """The main scale and the ``[[scales]]`` entries: which scale each (round, statement) has.

    A statement-level entry wins over a round-level one, and a later entry over an earlier.
    """

    main: Scale
    uses: tuple[ScaleUse, ...] = ()

    @classmethod
    def single(cls, rule: Rule, lo: int, hi: int, denom: bool = False) -> ScaleMap:
        """A study on one scale ``lo``–``hi`` judged by ``rule``."""
        return cls(Scale("", lo, hi, {}, (), rule, denom))

    def scale_for(self, rnd: int, statement_id: str) -> Scale:
        """The scale statement ``statement_id`` is rated on in round ``rnd``."""
        for use in self._order():
            if use.applies(rnd, statement_id):
                return use.scale
        return self.main

    def _order(self) -> list[ScaleUse]:
        listed = [u for u in reversed(self.uses) if u.statements]
        return listed + [u for u in reversed(self.uses) if not u.statements]

    def rule_sentences(self) -> list[str]:
        """The consensus rule in sentences: the main one, then each other scale's with where
        it applies ("Inclusion vote (round 3, Yes/No): …").

        >>> from lib.analysis.rules import preset
        >>> ScaleMap.single(preset("pct75", 1, 5), 1, 5).rule_sentences()
        ['Consensus rule: Consensus in: ≥ 75% rate 4–5; consensus out: the mirror image on 1–2.']
        """
        out = [f"Consensus rule: {self.main.rule.describe()}."]
        for use in self.uses:
            rounds = ", ".join(str(r) for r in sorted(use.rounds))
            where = f"round{'s' if len(use.rounds) > 1 else ''} {rounds}"
            if use.statements:
                where += f", statements {', '.join(sorted(use.statements)).upper()}"
            scale = use.scale
            out.append(f"{scale.name} ({where}, {scale.describe()}): {scale.rule.describe()}.")
        return out

    def all_scales(self) -> list[Scale]:
        """The main scale, then each ``[[scales]]`` entry's."""
        return [self.main, *(u.scale for u in self.uses)]

    @property
    def mixed(self) -> bool:
        """Whether any statement may have a scale other than the main one."""
        return bool(self.uses)

    def names(self, frame: pd.DataFrame) -> pd.Series:
        """The scale name of each row of a frame with ``round`` and ``statement_id``."""
        if not self.uses or frame.empty:
            return pd.Series("", index=frame.index, dtype=object)
        keys = frame[["round", "statement_id"]].drop_duplicates()
        named = {
            (r, s): self.scale_for(int(r), s).name
            for r, s in zip(keys["round"], keys["statement_id"], strict=True)
        }
        pairs = zip(frame["round"], frame["statement_id"], strict=True)
        return pd.Series([named[p] for p in pairs], index=frame.index, dtype=object)

    def described(self, frame: pd.DataFrame) -> pd.Series:
        """Each row's scale in a few words ("1–7", "Yes/No"), for a table's Scale column."""
        words = {s.name: s.describe() for s in self.all_scales()}
        return self.names(frame).map(words)

    def split(self, frame: pd.DataFrame) -> list[tuple[Scale, pd.DataFrame]]:
        """``frame`` (with ``round`` and ``statement_id``) cut into one part per scale used;
        the whole frame on the main scale when there are no other scales."""
        if not self.uses:
            return [(self.main, frame)]
        names = self.names(frame)
        by_name = {s.name: s for s in self.all_scales()}
        return [(by_name[n], frame[names == n]) for n in dict.fromkeys(names)]


def by_scale(
    frame: pd.DataFrame, scales: ScaleMap, fn: Callable[[pd.DataFrame, Scale], pd.DataFrame]
) -> pd.DataFrame:
    """``fn(part, scale)`` for each scale's part of ``frame``, concatenated in (round,
    statement) order; ``fn`` of the whole frame when the study has one scale."""
    parts = [fn(part, scale) for scale, part in scales.split(frame)]
    if len(parts) == 1:
        return parts[0]
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["round", "statement_id"], kind="stable", ignore_index=True)
