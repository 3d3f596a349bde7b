"""How solid each result is: the Wilson interval of % agree, the vote cut-off, votes to flip."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pandas as pd

from lib.analysis.consensus import apply_rule
from lib.analysis.rules import EPS, Rule, cutoff_votes
from lib.analysis.scales import ScaleMap, by_scale

__all__ = ["FLIP_RULE", "wilson_interval", "solidity", "solidity_by_scale"]

FLIP_RULE = (
    "Votes to flip: the fewest panelists who would have to answer differently (moving between "
    "the agree, neutral and disagree ranges, with the number of valid ratings unchanged) for the "
    "rule to give a different status. Computed for percentage rules; rules that also test the "
    "median or IQR are not covered."
)


def wilson_interval(k, n, confidence: float = 0.95):
    """Wilson score interval for k successes out of n, as proportions (NaN when n = 0).

    Works on scalars or arrays. Newcombe (1998), Stat Med 17:857, method 3.

    >>> [round(x, 4) for x in wilson_interval(81, 263)]
    [0.2553, 0.3662]
    """
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    k_arr, n_arr = np.asarray(k, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k_arr / n_arr
        centre = (k_arr + z * z / 2) / (n_arr + z * z)
        half = z / (n_arr + z * z) * np.sqrt(k_arr * (1 - p) + z * z / 4)
        # k = 0 and k = n have exact bounds 0 and 1 (rounding would leave 1e-17 or 0.999…).
        lo = np.where(n_arr > 0, np.where(k_arr == 0, 0.0, np.clip(centre - half, 0, 1)), np.nan)
        hi = np.where(
            n_arr > 0, np.where(k_arr == n_arr, 1.0, np.clip(centre + half, 0, 1)), np.nan
        )
    if lo.ndim == 0:
        return float(lo), float(hi)
    return lo, hi


def solidity(metrics: pd.DataFrame, rule: Rule, denom_no_opinion: bool = False) -> pd.DataFrame:
    """Per (round, statement): Wilson 95% interval of % agree, the vote cut-off and the votes
    that would flip the status (``FLIP_RULE``). ``metrics`` must use ``rule``'s agree range."""
    m = apply_rule(metrics, rule)
    denom = m["n"] + (m["n_no_opinion"] if denom_no_opinion else 0)
    lo, hi = wilson_interval(m["n_agree"].to_numpy(), denom.to_numpy())
    out = pd.DataFrame(
        {
            "round": m["round"],
            "statement_id": m["statement_id"],
            "n": m["n"],
            "denominator": denom,
            "n_agree": m["n_agree"],
            "n_disagree": m["n_disagree"],
            "pct_agree": m["pct_agree"],
            "ci_low": 100 * lo,
            "ci_high": 100 * hi,
            "cutoff": [cutoff_votes(rule.threshold, int(d)) for d in denom],
            "status": m["status"],
        }
    )
    flips = [
        _flip(int(r.n), int(r.denominator), int(r.n_agree), int(r.n_disagree), r.status, rule)
        for r in out.itertuples()
    ]
    out["votes_to_flip"] = [f[0] for f in flips]
    out["flip_to"] = [f[1] for f in flips]
    out["note"] = [f[2] for f in flips]
    return out.reset_index(drop=True)


def solidity_by_scale(metrics: pd.DataFrame, scales: ScaleMap) -> pd.DataFrame:
    """:func:`solidity` with each statement's own scale (its rule and denominator); for a
    Yes/No question the interval is that of the share answering Yes."""
    return by_scale(metrics, scales, lambda m, s: solidity(m, s.rule, s.no_opinion_in_denominator))


def _flip(
    n: int, denom: int, agree: int, disagree: int, status: str, rule: Rule
) -> tuple[float, str | None, str]:
    """Votes to flip (``FLIP_RULE``): the fewest moves from (agree, disagree) of n valid
    ratings to a split with another status, the status there, and a note.

    A percentage rule makes each status a box in the (agree', disagree') plane: consensus in is
    agree' >= A and disagree' <= D, consensus out is disagree' >= A and agree' <= D (outside the
    first box), where A is the fewest votes that reach the threshold and D the most that stay
    under the opposite cap.  So for each disagree' the splits of one status are one interval of
    agree', and the moves to reach agree' (max(|Δagree|, |Δdisagree|, |Δagree + Δdisagree|),
    convex in agree') are fewest at the interval's point nearest the unconstrained optimum.
    That is O(n) per statement; the scan of every split it replaced took 15 s for the 800
    statement-rounds of the L benchmark (2,000 panelists).  Ties go to the first split in
    (agree, disagree) order, as that scan did; ``tests/test_stats.py`` checks every split of
    small panels against ``apply_rule``.
    """
    if (
        rule.method != "rule"
        or rule.median_agree is not None
        or rule.median_disagree is not None
        or rule.max_iqr is not None
    ):
        return np.nan, None, "rule tests the median or IQR: votes to flip not computed"
    if n == 0 or denom == 0:
        return np.nan, None, "no valid ratings"
    counts = np.arange(n + 1)
    pct = 100 * counts / denom  # as apply_rule computes it, so the comparisons agree exactly
    reach = np.ones(n + 1, bool) if rule.threshold is None else pct >= rule.threshold - EPS
    under = np.ones(n + 1, bool) if rule.max_opposite is None else pct < rule.max_opposite - EPS
    fewest = int(reach.argmax()) if reach.any() else n + 1  # A: reach is monotone rising
    most = int(np.flatnonzero(under)[-1]) if under.any() else -1  # D: under is monotone falling
    d2 = counts  # every disagree' (agree' <= n - disagree')
    room = n - d2
    base = rule.min_n <= n
    in_on = base & (d2 <= most)
    out_on = base & (rule.median_disagree is None) & (d2 >= fewest)
    below_in = np.where(in_on, fewest - 1, room)  # agree' that is not consensus in
    boxes = {  # status: (lowest agree', highest agree') for each disagree'; empty when lo > hi
        "consensus_in": (np.where(in_on, fewest, n + 1), room),
        "consensus_out": (
            np.where(out_on, 0, n + 1),
            np.minimum.reduce([np.full(n + 1, most), room, below_in]),
        ),
        "no_consensus": (np.where(out_on, most + 1, 0), np.minimum(room, below_in)),
    }
    y = d2 - disagree
    best: tuple | None = None
    for target, (lo, hi) in boxes.items():
        if target == status:
            continue
        ok = lo <= hi
        if not ok.any():
            continue
        x = np.clip(np.minimum(0, -y), lo - agree, hi - agree)  # smallest best Δagree
        moves = np.maximum.reduce([abs(x), abs(y), abs(x + y)])
        moves = np.where(ok, moves, n + 1)
        key = np.lexsort((d2, x + agree, moves))[0]  # fewest moves, then agree', disagree'
        cand = (int(moves[key]), int(x[key] + agree), int(d2[key]), target)
        if ok[key] and (best is None or cand[:3] < best[:3]):
            best = cand
    if best is None:
        return np.nan, None, "no answer pattern gives another status"
    return best[0], best[3], ""
