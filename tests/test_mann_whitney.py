"""The Mann-Whitney U test of the Panel page's attrition check against pingouin's ``mwu``
(the external reference it replaced, which calls ``scipy.stats.mannwhitneyu``), on random
samples: exact p for small samples without ties, the normal approximation otherwise."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from lib.analysis.participation import mann_whitney


@pytest.mark.parametrize("seed", range(4))
def test_mann_whitney_gives_pingouins_u_and_p(seed):
    pg = pytest.importorskip("pingouin")
    rng = np.random.default_rng(seed)
    exact = asymptotic = 0
    for k in range(60):
        n1, n2 = int(rng.integers(2, 13)), int(rng.integers(2, 25))
        if k % 3 == 0:  # ratings: ties, so the normal approximation with its tie correction
            x, y = (rng.integers(1, 6, n).astype(float) for n in (n1, n2))
        else:
            x, y = rng.normal(0, 1, n1), rng.normal(0.4, 1, n2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = pg.mwu(x, y).iloc[0]
        u, p = mann_whitney(x, y)
        assert u == pytest.approx(ref["U_val"], abs=1e-9)
        assert p == pytest.approx(ref["p_val"], abs=1e-12)
        small, tied = min(n1, n2) <= 8, len(set(np.concatenate([x, y]))) < n1 + n2
        exact += small and not tied
        asymptotic += not (small and not tied)
    assert exact and asymptotic  # both paths were compared


def test_exact_p_hand_worked():
    # x = [1, 2], y = [3, 4, 5]: U = 0; 2 of the C(5, 2) = 10 rank sets are as extreme
    # (U = 0 or U = 6), so p = 0.2; swapping the samples gives U = 6 and the same p
    assert mann_whitney(np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])) == (0.0, 0.2)
    assert mann_whitney(np.array([3.0, 4.0, 5.0]), np.array([1.0, 2.0])) == (6.0, 0.2)
