"""The vectorised Wilcoxon signed-rank test against R's wilcox.test and scipy.stats.wilcoxon.

Reference values from R 4.2.2 (Debian r-base-core), each call written beside its number.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as ss

from lib.analysis.signed_rank import _signrank_pmf, signed_rank
from lib.analysis.stability import stability

# 30 panelists rating one statement in two rounds, 5-point scale: zeros and ties, so the normal
# approximation with tie and continuity corrections.
BEFORE = [3, 4, 2, 5, 3, 3, 4, 2, 1, 3, 4, 5, 2, 3, 4, 4, 5, 1, 2, 3, 3, 3, 4, 4, 2, 5, 5, 4, 3, 2]
AFTER = [4, 4, 3, 5, 4, 2, 5, 3, 3, 4, 4, 5, 3, 3, 4, 5, 5, 2, 2, 4, 3, 4, 4, 5, 3, 5, 4, 4, 4, 3]


def one(d: list[float]) -> pd.Series:
    return signed_rank(np.array(d, dtype=float), np.zeros(len(d), dtype=int), 1).iloc[0]


def test_ties_and_zeros_match_r_normal_approximation():
    # R: wilcox.test(AFTER, BEFORE, paired=TRUE, correct=TRUE) -> V = 153, p = 0.0011580255367031
    got = one(np.subtract(AFTER, BEFORE).tolist())
    assert got["v"] == 153 and not got["exact"]
    assert got["p"] == pytest.approx(0.0011580255367031, rel=1e-12)
    # R: wilcox.test(BEFORE, AFTER, paired=TRUE) -> V = 18, same p (two-sided)
    flipped = one(np.subtract(BEFORE, AFTER).tolist())
    assert flipped["v"] == 18 and flipped["w"] == 18
    assert flipped["p"] == pytest.approx(got["p"], rel=1e-12)


def test_no_ties_no_zeros_uses_r_exact_p():
    # R: wilcox.test(c(1.5,-2.5,3.5,4.5,-5.5,6.5,7.5,8.5,-9.5,10.5)) -> V = 39, p = 0.275390625
    got = one([1.5, -2.5, 3.5, 4.5, -5.5, 6.5, 7.5, 8.5, -9.5, 10.5])
    assert got["exact"] and got["v"] == 39 and got["w"] == 16
    assert got["p"] == pytest.approx(0.275390625, rel=1e-12)
    # R: wilcox.test(c(1, 2, 3, -4)) -> V = 6, p = 0.875
    assert one([1, 2, 3, -4])["p"] == pytest.approx(0.875, rel=1e-12)


def test_all_differences_tied_match_r():
    # R: wilcox.test(c(1,1,1,1,1,-1)) -> V = 17.5, p = 0.129430674437906
    got = one([1, 1, 1, 1, 1, -1])
    assert got["v"] == 17.5 and got["p"] == pytest.approx(0.129430674437906, rel=1e-12)


def test_signrank_distribution_matches_r():
    # R: dsignrank(0:10, 4) -> 1/16 1/16 1/16 2/16 2/16 2/16 2/16 2/16 1/16 1/16 1/16
    assert np.allclose(_signrank_pmf(4) * 16, [1, 1, 1, 2, 2, 2, 2, 2, 1, 1, 1], rtol=0, atol=1e-15)
    # R: psignrank(10, 10) -> 0.0419921875
    assert _signrank_pmf(10)[:11].sum() == pytest.approx(0.0419921875, rel=1e-12)
    assert _signrank_pmf(60).sum() == pytest.approx(1, rel=1e-12)


def test_a_group_without_a_change_is_undefined_and_does_not_disturb_the_others():
    d = np.array([0.0, 0, 0, 1, 2, 3, -4])
    got = signed_rank(d, np.array([0, 0, 0, 2, 2, 2, 2]), 3)
    assert got["n"].tolist() == [0, 0, 4]
    assert got.loc[[0, 1], ["v", "w", "p"]].isna().all().all()
    assert got.loc[2, "p"] == pytest.approx(0.875)


def test_many_groups_at_once_equal_scipy_one_by_one():
    """600 seeded samples of mixed shapes in one call equal one scipy.stats.wilcoxon call each
    (exact without ties or zeros, else asymptotic with continuity correction, as R)."""
    rng = np.random.default_rng(18)
    samples = []
    for k in range(600):
        n = int(rng.integers(1, 80))
        if k % 3 == 0:
            d = rng.integers(-4, 5, n).astype(float)  # a 5-point scale: ties and zeros
        elif k % 3 == 1:
            d = rng.permutation(np.arange(1, n + 1)) * rng.choice([-1.0, 1.0], n)  # no ties
        else:
            d = np.round(rng.normal(0.3, 1, n), 1)
        samples.append(d)
    group = np.repeat(np.arange(len(samples)), [len(d) for d in samples])
    got = signed_rank(np.concatenate(samples), group, len(samples))
    for k, d in enumerate(samples):
        if (d == 0).all():
            assert math.isnan(got.loc[k, "p"])
            continue
        exact = (d != 0).all() and len(np.unique(np.abs(d))) == len(d)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = ss.wilcoxon(d, method="exact" if exact else "asymptotic", correction=True)
        assert got.loc[k, "exact"] == exact
        assert abs(got.loc[k, "w"] - ref.statistic) <= 1e-9
        assert abs(got.loc[k, "p"] - ref.pvalue) <= 1e-9


def test_stability_equals_a_scipy_call_per_statement():
    """The vectorised stability frame has, per pair, the W and p of scipy on that pair alone."""
    rng = np.random.default_rng(5)
    people = [f"p{i:02d}" for i in range(40)]
    rows = []
    for s in range(12):
        base = rng.integers(1, 6, len(people))
        for rnd in (1, 2):
            moved = np.clip(base + (rnd - 1) * rng.integers(-1, 2 + s % 2, len(people)), 1, 5)
            for who, r in zip(people, moved, strict=True):
                if rng.random() > 0.1:  # some panelists skip a statement
                    rows.append((rnd, who, f"S{s:02d}", float(r), False))
    ratings = pd.DataFrame(
        rows, columns=["round", "panelist", "statement_id", "rating", "no_opinion"]
    )
    statements = pd.DataFrame(
        [(rnd, f"S{s:02d}", "D", "text", None) for rnd in (1, 2) for s in range(12)],
        columns=["round", "statement_id", "domain", "text", "revised_from"],
    )
    got = stability(ratings, statements).set_index("statement_id")
    wide = ratings.pivot_table("rating", ["statement_id", "panelist"], "round")
    for sid, frame in wide.dropna().groupby(level=0):
        prev, cur = frame[1].to_numpy(), frame[2].to_numpy()
        ref = ss.wilcoxon(cur, prev, method="asymptotic", correction=True)
        assert got.loc[sid, "n_paired"] == len(prev)
        assert abs(got.loc[sid, "wilcoxon_w"] - ref.statistic) <= 1e-9
        assert abs(got.loc[sid, "wilcoxon_p"] - ref.pvalue) <= 1e-9
