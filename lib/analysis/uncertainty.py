"""Areas of uncertainty: the statements that ended without consensus, how their agreement moved
across rounds, and the shape of the panel's disagreement (``SHAPE_RULE``).

Frames in, tidy frames out: ``areas`` (one row per statement whose last version ended without
consensus: its last metrics and shape), ``trajectories`` (the % agree of every version it
follows, round by round, revisions included) and ``comments_on`` (the panel's comments on those
versions).  ``shape`` classifies one distribution of ratings on its own scale.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lib.analysis.flow import previous_versions, statement_flow
from lib.analysis.scales import Scale, ScaleMap

__all__ = [
    "SHAPE_RULE",
    "BIMODALITY_NOTE",
    "SHAPES",
    "ENDED_WITHOUT_CONSENSUS",
    "POLARISED_MIN",
    "UNDECIDED_MIN",
    "LEANING_MIN",
    "Shape",
    "bands",
    "bimodality_coefficient",
    "shape",
    "areas",
    "trajectories",
    "comments_on",
]

# RAND/UCLA's disagreement, as a share: at least 3 of 8–10, 4 of 11–13 or 5 of 14–16 panelists
# in each extreme third (Fitch et al. 2001). 30% gives exactly these counts for every panel size
# from 8 to 16 (tests/test_uncertainty.py checks it against the published table).
POLARISED_MIN = 30.0
# At least half in the middle: the median then lies in the middle band, or at its edge, which
# is RAND/UCLA's "uncertain" by the median (4–6 of 1–9). Our choice, stated in SHAPE_RULE.
UNDECIDED_MIN = 50.0
# More than half at one end, yet short of the consensus rule: a panel leaning one way.
LEANING_MIN = 50.0
# The fates (lib.analysis.flow.statement_flow) of a last version without consensus.
ENDED_WITHOUT_CONSENSUS = ("open", "dropped")
SHAPES = ("polarised", "undecided", "leaning", "spread", "split", "no ratings")

SHAPE_RULE = (
    "The shape of the disagreement is read from the valid ratings of each statement's last "
    "version, on its own scale (no-opinion answers left out), in three bands: the consensus "
    "rule's disagree range (bottom), its agree range (top) and the points between them "
    "(middle); for every preset these are the scale's bottom, middle and top thirds (1–3, "
    "4–6, 7–9 on a 9-point scale; 1–2, 3, 4–5 on a 5-point scale). "
    f"Polarised: each end holds at least {POLARISED_MIN:g}% of the ratings, the RAND/UCLA "
    "definition of disagreement (at least 3, 4 or 5 panelists of 8–10, 11–13 or 14–16 rating "
    "in each extreme third; Fitch et al. 2001, The RAND/UCLA Appropriateness Method User's "
    f"Manual), which {POLARISED_MIN:g}% reproduces for every panel size from 8 to 16, and "
    "each end holds more ratings than the middle (an even spread such as 5, 5 and 5 of 15 is "
    "disagreement for RAND/UCLA but is not massed at the ends: it is “spread” here). "
    f"Undecided: the middle holds at least {UNDECIDED_MIN:g}%, so the median lies in it or at "
    "its edge (RAND/UCLA's “uncertain” median of 4–6). "
    f"Leaning: more than {LEANING_MIN:g}% at one end, short of the consensus rule. "
    "Spread: none of these. "
    "A Yes/No question has two answers and no middle, so polarised and undecided do not apply: "
    "its shape is “split”, with its share of Yes."
)
BIMODALITY_NOTE = (
    "bimodality: Sarle's bimodality coefficient, b = (g² + 1) / (k + 3(n − 1)² / ((n − 2)"
    "(n − 3))) with g and k the sample skewness and excess kurtosis of the valid ratings (above "
    "5/9 suggests two modes; SAS Institute; Pfister et al. 2013, Front Psychol 4:700), for "
    "information only and not used in the shape: on a few scale points and a small panel it "
    "is noisy, and a lopsided single peak can exceed 5/9; blank under 4 ratings, when all "
    "are equal, and for a Yes/No question."
)


@dataclass(frozen=True)
class Shape:
    """One distribution's bands, their counts and shares of the valid ratings, and its label."""

    label: str  # one of SHAPES
    direction: str  # "agree" or "disagree" when leaning, else ""
    n_valid: int
    bands: tuple[str, str, str]  # bottom, middle, top in words ("1–2", "3", "4–5"; "" if none)
    counts: tuple[int, int, int]
    shares: tuple[float, float, float]  # percent of n_valid (NaN when n_valid is 0)
    bimodality: float  # Sarle's b (NaN under 4 ratings, without spread, or for Yes/No)


def _words(lo: float, hi: float) -> str:
    return f"{lo:g}" if lo == hi else f"{lo:g}–{hi:g}"


def bands(scale: Scale) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """The points of the bottom (disagree range), middle and top (agree range) bands.

    >>> from lib.analysis.rules import preset
    >>> bands(Scale("", 1, 9, {}, (), preset("pct75", 1, 9)))
    ((1, 2, 3), (4, 5, 6), (7, 8, 9))
    """
    lo, hi = scale.rule.disagree, scale.rule.agree
    points = scale.points()
    bottom = tuple(p for p in points if lo[0] <= p <= lo[1])
    top = tuple(p for p in points if hi[0] <= p <= hi[1])
    middle = tuple(p for p in points if p not in bottom and p not in top)
    return bottom, middle, top


def bimodality_coefficient(values: np.ndarray | list[float]) -> float:
    """Sarle's bimodality coefficient with the sample (bias-corrected) skewness and excess
    kurtosis; NaN under 4 values or when they are all equal.

    >>> round(bimodality_coefficient([1] * 7 + [5] * 7), 3)
    0.677
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n < 4:
        return float("nan")
    d = x - x.mean()
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    if m2 == 0:
        return float("nan")
    g = np.sqrt(n * (n - 1)) / (n - 2) * m3 / m2**1.5
    k = (n - 1) / ((n - 2) * (n - 3)) * ((n + 1) * m4 / m2**2 - 3 * (n - 1))
    return float((g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3))))


def _label(counts: tuple[int, int, int], n: int, yes_no: bool, middle: bool) -> tuple[str, str]:
    """The shape's label and (for leaning) direction; counts compared as 100·k ≥ t·n, so a
    share at the threshold is not lost to rounding."""
    bottom, mid, top = counts
    if n == 0:
        return "no ratings", ""
    if yes_no:
        return "split", ""
    ends = 100 * min(bottom, top) >= POLARISED_MIN * n
    if ends and mid < min(bottom, top):
        return "polarised", ""
    if middle and 100 * mid >= UNDECIDED_MIN * n:
        return "undecided", ""
    if 100 * top > LEANING_MIN * n:
        return "leaning", "agree"
    if 100 * bottom > LEANING_MIN * n:
        return "leaning", "disagree"
    return "spread", ""


def shape(counts: Mapping[int, int], scale: Scale) -> Shape:
    """The shape of one distribution of valid ratings (score -> count) on ``scale``
    (``SHAPE_RULE``).

    >>> from lib.analysis.rules import preset
    >>> five = Scale("", 1, 5, {}, (), preset("pct75", 1, 5))
    >>> s = shape({1: 4, 2: 1, 3: 2, 4: 3, 5: 4}, five)
    >>> s.label, s.counts
    ('polarised', (5, 2, 7))
    """
    parts = bands(scale)
    got = tuple(sum(int(counts.get(p, 0)) for p in part) for part in parts)
    n = sum(int(counts.get(p, 0)) for p in scale.points())
    shares = tuple(100 * c / n if n else float("nan") for c in got)
    label, direction = _label(got, n, scale.yes_no, bool(parts[1]))
    if scale.yes_no:  # two answers: their labels, and no bimodality to speak of
        names = scale.point_labels()
        words = (names[scale.min], "", names[scale.max])
        return Shape(label, direction, n, words, got, shares, float("nan"))
    values = np.repeat(scale.points(), [int(counts.get(p, 0)) for p in scale.points()])
    words = tuple(_words(part[0], part[-1]) if part else "" for part in parts)
    return Shape(label, direction, n, words, got, shares, bimodality_coefficient(values))


def _counts(distribution: pd.DataFrame) -> dict[tuple[int, str], dict[int, int]]:
    """(round, statement) -> score -> count of the valid ratings of a distribution frame."""
    valid = distribution[~distribution["answer"].isin(["no_opinion", "missing"])]
    out: dict[tuple[int, str], dict[int, int]] = {}
    for r in valid.itertuples():
        out.setdefault((int(r.round), r.statement_id), {})[int(r.answer)] = int(r.count)
    return out


def _chains(metrics: pd.DataFrame, statements: pd.DataFrame) -> dict[tuple[int, str], list]:
    """(round, statement) -> the rated versions it follows, earliest first, itself last."""
    rated = metrics[["round", "statement_id"]].drop_duplicates()
    prev = previous_versions(statements.merge(rated, on=["round", "statement_id"]))
    back = {
        (int(r.round), r.statement_id): (int(r.prev_round), r.prev_statement_id)
        for r in prev.itertuples()
    }
    out = {}
    for key in zip(rated["round"].astype(int), rated["statement_id"], strict=True):
        chain, node = [key], key
        while node in back and back[node] not in chain:
            node = back[node]
            chain.append(node)
        out[key] = chain[::-1]
    return out


def _ended(metrics: pd.DataFrame, statements: pd.DataFrame) -> pd.DataFrame:
    """The metrics rows of the last versions that ended without consensus, with their fate."""
    fates = statement_flow(metrics, statements)[["round", "statement_id", "fate"]]
    m = metrics.drop(columns=["fate"], errors="ignore").merge(fates, on=["round", "statement_id"])
    ended = m[m["fate"].isin(ENDED_WITHOUT_CONSENSUS)]
    return ended.sort_values(["round", "statement_id"]).reset_index(drop=True)


def areas(
    metrics: pd.DataFrame,
    statements: pd.DataFrame,
    distribution: pd.DataFrame,
    scales: ScaleMap,
) -> pd.DataFrame:
    """One row per statement whose last version ended without consensus (after the last
    round, or dropped by the steering committee): its last metrics, the versions it went
    through, the change in % agree since the first, and the shape of its ratings.

    ``metrics``: ``store.metrics_for`` (extra columns kept); ``statements``:
    ``store.statements_for``; ``distribution``: ``store.distribution_for``."""
    ended = _ended(metrics, statements)
    chains = _chains(metrics, statements)
    pct = metrics.set_index(["round", "statement_id"])["pct_agree"]
    counts = _counts(distribution)
    rows = []
    for r in ended.itertuples(index=False):
        key = (int(r.round), r.statement_id)
        scale = scales.scale_for(*key)
        s = shape(counts.get(key, {}), scale)
        chain = chains.get(key, [key])
        same = all(scales.scale_for(*k).same_as(scale) for k in chain)
        first = pct.get(chain[0], np.nan)
        rows.append(
            {
                **r._asdict(),
                "scale": scale.name,
                "yes_no": scale.yes_no,
                "versions": " → ".join(dict.fromkeys(sid for _, sid in chain)),
                "first_round": chain[0][0],
                "n_rounds": len(chain),
                "change": r.pct_agree - first if same and len(chain) > 1 else np.nan,
                "shape": s.label,
                "leaning": s.direction,
                "n_valid": s.n_valid,
                "bottom": s.bands[0],
                "middle": s.bands[1],
                "top": s.bands[2],
                "n_bottom": s.counts[0],
                "n_middle": s.counts[1],
                "n_top": s.counts[2],
                "pct_bottom": s.shares[0],
                "pct_middle": s.shares[1],
                "pct_top": s.shares[2],
                "bimodality": s.bimodality,
            }
        )
    columns = [*ended.columns, "scale", "yes_no", "versions", "first_round", "n_rounds"]
    columns += ["change", "shape", "leaning", "n_valid", "bottom", "middle", "top"]
    columns += ["n_bottom", "n_middle", "n_top", "pct_bottom", "pct_middle", "pct_top"]
    return pd.DataFrame(rows, columns=[*columns, "bimodality"])


def trajectories(
    areas_frame: pd.DataFrame, metrics: pd.DataFrame, statements: pd.DataFrame
) -> pd.DataFrame:
    """For each row of ``areas`` (its ``statement_id``), every version it follows, round by
    round: ``version`` (the id rated), ``n``, ``pct_agree`` and ``status``."""
    chains = _chains(metrics, statements)
    m = metrics.set_index(["round", "statement_id"])
    rows = []
    for r in areas_frame.itertuples():
        key = (int(r.round), r.statement_id)
        for step, (rnd, sid) in enumerate(chains.get(key, [key]), start=1):
            at = m.loc[(rnd, sid)]
            rows.append((r.statement_id, step, rnd, sid, at["n"], at["pct_agree"], at["status"]))
    columns = ["statement_id", "step", "round", "version", "n", "pct_agree", "status"]
    return pd.DataFrame(rows, columns=columns)


def comments_on(trajectory: pd.DataFrame, comments: pd.DataFrame) -> pd.DataFrame:
    """The comments on every version of each statement of ``trajectories``, in the stored
    (non-identifying) order of ``comments`` (``store.comments_for``)."""
    keys = trajectory[["statement_id", "round", "version"]]
    said = comments.rename(columns={"statement_id": "version"})
    out = keys.merge(said, on=["round", "version"], how="inner", sort=False)
    return out[["statement_id", "round", "version", "comment"]].reset_index(drop=True)
