"""lib.analysis statistics: each against an independent reference (source in a comment)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
import scipy.stats as ss

from lib.analysis import format_p
from lib.analysis._common import groups, wide, wide_groups
from lib.analysis.agreement import kendall_w, krippendorff_alpha
from lib.analysis.consensus import apply_rule, compute_metrics
from lib.analysis.flow import families, statement_flow
from lib.analysis.participation import (
    attrition_groups,
    attrition_test,
    participation,
    participation_by_attribute,
)
from lib.analysis.rules import preset, rule_from_config
from lib.analysis.sensitivity import sensitivity_by_statement, sensitivity_counts
from lib.analysis.solidity import _flip, solidity, wilson_interval
from lib.analysis.stability import STABILITY_RULE, stability

ROOT = Path(__file__).resolve().parent.parent
Z95 = NormalDist().inv_cdf(0.975)


def ratings_frame(matrix, statements=None, rnd=1, panelists=None) -> pd.DataFrame:
    """Tidy ratings from a panelists × statements matrix (NaN = blank)."""
    matrix = np.asarray(matrix, dtype=float)
    statements = statements or [f"S{j + 1:02d}" for j in range(matrix.shape[1])]
    panelists = panelists or [f"P{i + 1:02d}" for i in range(matrix.shape[0])]
    rows = [
        (rnd, p, s, matrix[i, j], False)
        for i, p in enumerate(panelists)
        for j, s in enumerate(statements)
    ]
    return pd.DataFrame(rows, columns=["round", "panelist", "statement_id", "rating", "no_opinion"])


def textbook_w(matrix) -> float:
    """W = 12·S / (m²(n³ − n) − m·ΣT), ties corrected (Kendall 1948; DELPHI.md)."""
    x = np.asarray(matrix, dtype=float)
    m, n = x.shape
    ranks = np.array([ss.rankdata(row) for row in x])
    s = ((ranks.sum(axis=0) - m * (n + 1) / 2) ** 2).sum()
    t = sum(((c := np.unique(row, return_counts=True)[1]) ** 3 - c).sum() for row in x)
    return 12 * s / (m**2 * (n**3 - n) - m * t)


# The anxiety data of R irr::kendall / DescTools::KendallW documentation: 20 subjects rated by
# 3 raters.  Here the raters are panelists and the subjects statements.
ANXIETY = [
    [3, 3, 3, 4, 5, 5, 2, 3, 5, 2, 2, 6, 1, 5, 2, 2, 1, 2, 4, 3],
    [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4],
    [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2],
]


# --- Kendall's W -------------------------------------------------------------------------------


def test_kendall_w_matches_textbook_formula_and_scipy_on_the_irr_anxiety_data():
    got = kendall_w(ratings_frame(ANXIETY)).iloc[0]
    # Two independent references computed here: the textbook formula, and scipy's
    # tie-corrected Friedman χ² (W = χ² / (m(n − 1))).  Both give 0.5397, χ²(19) = 30.76.
    fried = ss.friedmanchisquare(*np.asarray(ANXIETY, dtype=float).T)
    assert got["w"] == pytest.approx(textbook_w(ANXIETY), rel=1e-12)
    assert got["w"] == pytest.approx(fried.statistic / (3 * 19), rel=1e-12)
    assert got["w"] == pytest.approx(0.5397, abs=5e-5)
    assert got["chi2"] == pytest.approx(fried.statistic) and got["df"] == 19
    assert got["p"] == pytest.approx(fried.pvalue)


def test_kendall_w_hand_computed_without_ties():
    # By hand: rank sums 4, 5, 9, 12; mean 7.5; S = 41; W = 12·41 / (9·60) = 0.9111;
    # χ² = m(n − 1)W = 8.2 with 3 df.
    got = kendall_w(ratings_frame([[1, 2, 3, 4], [1, 2, 3, 4], [2, 1, 3, 4]])).iloc[0]
    assert got["w"] == pytest.approx(492 / 540) and got["chi2"] == pytest.approx(8.2)
    assert got["df"] == 3


def test_kendall_w_hand_computed_with_ties():
    # By hand: ranks (3.5, 3.5, 2, 1), (3, 3, 3, 1), (4, 3, 2, 1); rank sums 10.5, 9.5, 7, 3;
    # S = 33.5; ΣT = (2³ − 2) + (3³ − 3) = 30; W = 12·33.5 / (9·60 − 3·30) = 402/450.
    got = kendall_w(ratings_frame([[5, 5, 3, 1], [4, 4, 4, 2], [5, 4, 3, 2]])).iloc[0]
    assert got["w"] == pytest.approx(402 / 450)


def test_kendall_w_is_undefined_when_every_rating_is_tied():
    got = kendall_w(ratings_frame([[4, 4, 4], [5, 5, 5], [3, 3, 3]])).iloc[0]
    assert math.isnan(got["w"]) and "same rating" in got["note"]


def test_kendall_w_needs_two_panelists():
    got = kendall_w(ratings_frame([[1, 2, 3, 4]])).iloc[0]
    assert math.isnan(got["w"]) and "fewer than 2 panelists" in got["note"]


def test_kendall_w_drops_panelists_with_a_missing_rating_and_says_so():
    data = [[1, 2, 3, 4], [1, 2, 3, 4], [2, 1, 3, 4], [np.nan, 1, 2, 3]]
    got = kendall_w(ratings_frame(data)).iloc[0]
    assert got["n_panelists"] == 3 and got["panelists_dropped"] == 1
    assert got["w"] == pytest.approx(492 / 540) and "1 panelist(s) left out" in got["note"]


def test_kendall_w_per_domain_splits_statements():
    r = ratings_frame([[1, 2, 3, 4], [1, 2, 3, 4], [2, 1, 3, 4]])
    st = pd.DataFrame(
        {
            "round": 1,
            "statement_id": ["S01", "S02", "S03", "S04"],
            "domain": ["A", "A", "B", "B"],
            "text": "",
            "revised_from": None,
        }
    )
    got = kendall_w(r, st, by_domain=True).set_index("domain")
    # Domain B: all three rank S03 < S04 (W = 1); domain A: 2 agree, 1 reversed:
    # rank sums 4, 5; S = 0.5; W = 12·0.5 / (9·6) = 1/9.
    assert got.loc["B", "w"] == pytest.approx(1.0) and got.loc["A", "w"] == pytest.approx(1 / 9)


def seeded_ratings(seed: int, rounds: int = 3, panelists: int = 40, statements: int = 12):
    """Random 1–5 ratings (many ties), ~4 % blank, rows shuffled; statements in domains A–C,
    one statement of round 1 without a domain."""
    rng = np.random.default_rng(seed)
    frames = [
        ratings_frame(
            np.where(
                rng.random((panelists, statements)) < 0.04,
                np.nan,
                rng.integers(1, 6, (panelists, statements)),
            ),
            rnd=rnd,
        )
        for rnd in range(1, rounds + 1)
    ]
    ratings = pd.concat(frames).sample(frac=1, random_state=seed).reset_index(drop=True)
    st = ratings[["round", "statement_id"]].drop_duplicates()
    st = st.assign(domain=[f"{'ABC'[i % 3]}" for i in range(len(st))], text="", revised_from=None)
    st = st[~((st["round"] == 1) & (st["statement_id"] == "S01"))]
    return ratings, st


def pingouin_kendall(frame: pd.DataFrame) -> tuple[float, float, float, int]:
    """W, χ², p and complete panelists from pingouin.friedman on the complete cases, as
    kendall_w computed them before it ranked the matrix itself."""
    import pingouin as pg

    matrix = frame.pivot_table("rating", "panelist", "statement_id").dropna(axis=1, how="all")
    complete = matrix.dropna()
    long = complete.stack().rename("rating").reset_index()
    row = pg.friedman(long, dv="rating", within="statement_id", subject="panelist").iloc[0]
    return row["W"], row["Q"], row["p_unc"], len(complete)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kendall_w_equals_pingouin_friedman_on_seeded_random_data(seed):
    ratings, st = seeded_ratings(seed)
    got = kendall_w(ratings, st).set_index("round")
    for rnd, frame in ratings.groupby("round"):
        w, q, p, m = pingouin_kendall(frame)
        assert got.loc[rnd, "n_panelists"] == m and got.loc[rnd, "df"] == 11
        assert got.loc[rnd, "w"] == pytest.approx(w, rel=1e-12, abs=1e-12)
        assert got.loc[rnd, "chi2"] == pytest.approx(q, rel=1e-12, abs=1e-12)
        assert got.loc[rnd, "p"] == pytest.approx(p, rel=1e-12, abs=1e-300)


def test_kendall_w_per_domain_equals_pingouin_friedman_on_seeded_random_data():
    ratings, st = seeded_ratings(4, panelists=25)
    got = kendall_w(ratings, st, by_domain=True).set_index(["round", "domain"])
    domains = ratings.merge(st, on=["round", "statement_id"], how="left").fillna(
        {"domain": "(no domain)"}
    )
    assert ("(no domain)" in got.loc[1].index) and len(got) == 10  # 3 rounds × A–C, + S01
    for (rnd, dom), frame in domains.groupby(["round", "domain"]):
        if frame["statement_id"].nunique() < 2:
            assert math.isnan(got.loc[(rnd, dom), "w"])
            continue
        w, q, p, m = pingouin_kendall(frame)
        assert got.loc[(rnd, dom), "n_panelists"] == m
        assert got.loc[(rnd, dom), "w"] == pytest.approx(w, rel=1e-12, abs=1e-12)
        assert got.loc[(rnd, dom), "p"] == pytest.approx(p, rel=1e-12, abs=1e-300)


def first_ratings(frame: pd.DataFrame) -> np.ndarray:
    """Panelists × statements (sorted ids) of the first non-blank rating, by pandas."""
    first = frame.groupby(["panelist", "statement_id"])["rating"].first().unstack()
    return first.reindex(
        index=sorted(frame["panelist"].dropna().unique()),
        columns=sorted(frame["statement_id"].dropna().unique()),
    ).to_numpy()


@pytest.mark.parametrize("by_domain", [False, True])
def test_wide_groups_equal_the_first_ratings_of_each_group(by_domain):
    ratings, st = seeded_ratings(5, panelists=15, statements=6)
    # a repeated cell (its first rating counts), ratings without a panelist or statement id
    extra = ratings.iloc[[0, 1, 2]].assign(rating=9.0)
    extra.loc[extra.index[1], "panelist"] = None
    extra.loc[extra.index[2], "statement_id"] = None
    ratings = pd.concat([ratings, extra], ignore_index=True)
    want = [(key, first_ratings(frame)) for key, frame in groups(ratings, st, by_domain)]
    got = list(wide_groups(ratings, st, by_domain))
    assert [k for k, _ in got] == [k for k, _ in want]
    for (_, a), (_, b) in zip(got, want, strict=True):
        np.testing.assert_array_equal(a, b)


# --- Krippendorff's alpha -------------------------------------------------------------------

# Krippendorff (2011) "Computing Krippendorff's Alpha-Reliability", the 4-observer, 12-unit
# example with missing data (also the test data of the krippendorff package,
# tests/test_krippendorff.py: ordinal alpha = 0.815).
K2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, np.nan, np.nan, np.nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, np.nan, 3],
    [np.nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, np.nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, np.nan],
]


def hand_ordinal_alpha(matrix) -> float:
    """Ordinal alpha from the coincidence matrix (Krippendorff 2011, section C)."""
    x = np.asarray(matrix, dtype=float)
    values = np.unique(x[~np.isnan(x)])
    o = np.zeros((len(values), len(values)))
    for unit in x.T:
        v = unit[~np.isnan(unit)]
        if len(v) < 2:
            continue
        for i, a in enumerate(v):
            for j, b in enumerate(v):
                if i != j:
                    o[np.searchsorted(values, a), np.searchsorted(values, b)] += 1 / (len(v) - 1)
    n_c = o.sum(axis=1)
    delta = np.array(
        [
            [
                (n_c[min(c, k) : max(c, k) + 1].sum() - (n_c[c] + n_c[k]) / 2) ** 2
                for k in range(len(values))
            ]
            for c in range(len(values))
        ]
    )
    n = n_c.sum()
    return 1 - (n - 1) * (o * delta).sum() / (np.outer(n_c, n_c) * delta).sum()


def test_krippendorff_alpha_reproduces_krippendorff_2011():
    got = krippendorff_alpha(ratings_frame(K2011)).iloc[0]
    assert round(got["alpha"], 3) == 0.815  # published
    assert got["alpha"] == pytest.approx(hand_ordinal_alpha(K2011), rel=1e-9)
    assert got["n_statements"] == 11  # unit 12 has one value only: not pairable


def test_krippendorff_alpha_matches_a_hand_calculation_on_random_likert_data():
    rng = np.random.default_rng(7)
    data = rng.integers(1, 6, size=(9, 12)).astype(float)
    data[rng.random(data.shape) < 0.1] = np.nan
    got = krippendorff_alpha(ratings_frame(data)).iloc[0]["alpha"]
    assert got == pytest.approx(hand_ordinal_alpha(data), rel=1e-9)


def test_krippendorff_alpha_is_undefined_with_one_value_or_one_statement():
    same = krippendorff_alpha(ratings_frame([[4, 4], [4, 4]])).iloc[0]
    one = krippendorff_alpha(ratings_frame([[4], [5], [3]])).iloc[0]
    assert math.isnan(same["alpha"]) and "same value" in same["note"]
    assert math.isnan(one["alpha"]) and "fewer than 2 statements" in one["note"]


# --- stability -------------------------------------------------------------------------------


def two_rounds(prev, cur, prev_id="S01", cur_id="S01") -> tuple[pd.DataFrame, pd.DataFrame]:
    r1 = ratings_frame(np.array(prev, dtype=float)[:, None], [prev_id], rnd=1)
    r2 = ratings_frame(np.array(cur, dtype=float)[:, None], [cur_id], rnd=2)
    st = pd.DataFrame(
        {
            "round": [1, 2],
            "statement_id": [prev_id, cur_id],
            "domain": "A",
            "text": "",
            "revised_from": [None, prev_id if cur_id != prev_id else None],
        }
    )
    return pd.concat([r1, r2], ignore_index=True), st


def wilcoxon_normal_p(prev, cur) -> float:
    """R wilcox.test(paired=TRUE) with ties: zeros dropped, normal approximation, tie-corrected
    variance n(n+1)(2n+1)/24 − Σ(t³ − t)/48, continuity correction 0.5 (Hollander & Wolfe)."""
    d = np.asarray(cur, dtype=float) - np.asarray(prev, dtype=float)
    d = d[d != 0]
    n = len(d)
    r = ss.rankdata(np.abs(d))
    w_plus = r[d > 0].sum()
    _, t = np.unique(np.abs(d), return_counts=True)
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24 - (t**3 - t).sum() / 48)
    z = w_plus - n * (n + 1) / 4
    z = (z - math.copysign(0.5, z)) / sigma
    return 2 * (1 - NormalDist().cdf(abs(z)))


def test_wilcoxon_exact_without_ties_by_hand():
    # d = 1, 2, 3, 4 all positive: W− = 0; exact two-sided p = 2 · (1/2⁴) = 0.125.
    ratings, st = two_rounds([1, 1, 1, 1], [2, 3, 4, 5])
    got = stability(ratings, st, agree=(4, 5)).iloc[0]
    assert got["wilcoxon_w"] == 0 and got["wilcoxon_p"] == pytest.approx(0.125)


def test_wilcoxon_with_ties_uses_rs_normal_approximation():
    prev = [3, 3, 4, 2, 3, 4, 3, 5, 2, 3, 4, 3]
    cur = [4, 4, 4, 3, 3, 5, 4, 5, 3, 4, 4, 2]
    ratings, st = two_rounds(prev, cur)
    got = stability(ratings, st, agree=(4, 5)).iloc[0]
    assert got["wilcoxon_p"] == pytest.approx(wilcoxon_normal_p(prev, cur), rel=1e-9)
    assert got["wilcoxon_p"] == pytest.approx(  # and scipy's own asymptotic version
        ss.wilcoxon(cur, prev, method="asymptotic", correction=True).pvalue, rel=1e-9
    )


def test_mcnemar_exact_by_hand():
    # 5 panelists leave the agree range, 1 joins it: exact two-sided p =
    # 2 · P(X ≤ 1 | Bin(6, 1/2)) = 2 · 7/64 = 0.21875 (McNemar 1947, exact binomial form).
    prev = [4, 4, 4, 4, 4, 2, 5, 5, 1, 1]
    cur = [3, 3, 3, 3, 3, 4, 5, 5, 1, 1]
    ratings, st = two_rounds(prev, cur)
    got = stability(ratings, st, agree=(4, 5)).iloc[0]
    assert (got["n_from_agree"], got["n_to_agree"]) == (5, 1)
    assert got["mcnemar_p"] == pytest.approx(14 / 64)


def test_share_changed_and_cv_change_by_hand():
    prev, cur = [3, 3, 4, 4, 5], [4, 4, 4, 4, 5]
    ratings, st = two_rounds(prev, cur)
    got = stability(ratings, st, agree=(4, 5)).iloc[0]
    cv_prev = np.std(prev, ddof=1) / np.mean(prev)  # SD / mean, sample SD
    cv = np.std(cur, ddof=1) / np.mean(cur)
    assert got["n_changed"] == 2 and got["pct_changed"] == pytest.approx(40)
    assert got["cv_change_pct"] == pytest.approx(100 * (cv - cv_prev) / cv_prev)


def test_nobody_changing_is_stable_and_says_why_tests_are_undefined():
    ratings, st = two_rounds([4, 4, 3, 5, 2], [4, 4, 3, 5, 2])
    got = stability(ratings, st, agree=(4, 5)).iloc[0]
    assert got["verdict"] == "stable" and math.isnan(got["wilcoxon_p"])
    assert math.isnan(got["mcnemar_p"])
    assert "all differences zero" in got["note"] and "no discordant pairs" in got["note"]


def test_too_few_paired_ratings_is_not_assessable():
    ratings, st = two_rounds([4, 5], [3, 5])
    got = stability(ratings, st, agree=(4, 5)).iloc[0]
    assert got["verdict"] == "not assessable" and "too few paired ratings" in got["note"]


def test_a_large_shift_is_still_moving():
    ratings, st = two_rounds([2, 2, 3, 3, 2, 3, 2, 3, 3, 2], [4, 4, 5, 4, 4, 5, 4, 4, 5, 4])
    assert stability(ratings, st, agree=(4, 5)).iloc[0]["verdict"] == "still moving"


def test_stability_follows_revisions():
    ratings, st = two_rounds([3, 3, 4, 2, 3], [4, 3, 4, 3, 3], prev_id="S07", cur_id="S07a")
    got = stability(ratings, st, agree=(4, 5)).iloc[0]
    assert (got["statement_id"], got["prev_statement_id"], got["revised"]) == ("S07a", "S07", True)
    assert got["n_paired"] == 5


def test_stability_rule_is_stated():
    assert "15%" in STABILITY_RULE and "Wilcoxon" in STABILITY_RULE


# --- Wilson interval, cut-off and votes to flip --------------------------------------------


def hand_wilson(k: int, n: int) -> tuple[float, float]:
    """Wilson (1927) score interval, written out: (2k + z² ± z√(z² + 4k(n − k)/n)) / 2(n + z²)."""
    root = Z95 * math.sqrt(Z95**2 + 4 * k * (n - k) / n)
    return (
        (2 * k + Z95**2 - root) / (2 * (n + Z95**2)),
        (2 * k + Z95**2 + root) / (2 * (n + Z95**2)),
    )


def test_wilson_interval_matches_newcombe_1998():
    # Newcombe (1998) Stat Med 17:857, Table I, method 3: 81/263 -> 0.2553 to 0.3662.
    lo, hi = wilson_interval(81, 263)
    assert (round(lo, 4), round(hi, 4)) == (0.2553, 0.3662)
    assert (lo, hi) == pytest.approx(hand_wilson(81, 263))


def test_wilson_interval_with_no_successes_and_with_arrays():
    lo, hi = wilson_interval(0, 10)  # upper bound z²/(n + z²) = 0.2775
    assert lo == 0 and hi == pytest.approx(Z95**2 / (10 + Z95**2))
    los, his = wilson_interval(np.array([12, 15]), np.array([15, 15]))
    assert los[0] == pytest.approx(hand_wilson(12, 15)[0]) and his[1] == pytest.approx(1.0)


def test_wilson_interval_is_nan_without_ratings():
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


def metric_row(n_agree: int, n_disagree: int, n: int = 15) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "round": [1],
            "statement_id": ["S01"],
            "n": [n],
            "n_no_opinion": [0],
            "n_agree": [n_agree],
            "n_disagree": [n_disagree],
            "pct_agree": [100 * n_agree / n],
            "pct_disagree": [100 * n_disagree / n],
            "pct_neutral": [0.0],
            "median": [4.0],
            "iqr": [1.0],
            "p30": [3.0],
            "p70": [5.0],
        }
    )


@pytest.mark.parametrize(
    ("agree", "disagree", "status", "flip", "cut"),
    [
        (12, 0, "consensus_in", 1, 12),  # 75% of 15 = 11.25 -> 12 votes; one fewer falls short
        (14, 0, "consensus_in", 3, 12),  # 14 - 12 + 1
        (11, 0, "no_consensus", 1, 12),  # one more vote reaches 12
        (2, 13, "consensus_out", 2, 12),  # 13 - 12 + 1 on the disagree side
    ],
)
def test_solidity_pct75_cutoff_and_votes_to_flip_by_hand(agree, disagree, status, flip, cut):
    got = solidity(metric_row(agree, disagree), preset("pct75", 1, 5)).iloc[0]
    assert (got["status"], got["votes_to_flip"], got["cutoff"]) == (status, flip, cut)
    assert (got["ci_low"], got["ci_high"]) == pytest.approx(
        tuple(100 * x for x in hand_wilson(agree, 15))
    )


def test_solidity_comet_counts_the_opposite_cap():
    # COMET 70/15, n = 15: in needs >= 11 agree and <= 2 disagree (3/15 = 20% is not < 15%).
    # 13 agree, 0 disagree: three votes must move (13 -> 10 agree, or 2 neutral + 1 agree to
    # disagree); 11 agree, 2 disagree: one vote (a neutral or agree to disagree).
    rule = preset("comet_70_15", 1, 5)
    assert solidity(metric_row(13, 0), rule).iloc[0]["votes_to_flip"] == 3
    assert solidity(metric_row(11, 2), rule).iloc[0]["votes_to_flip"] == 1


@pytest.mark.parametrize(
    "rule",
    [
        preset("median_iqr", 1, 5),
        # a percentage rule whose "consensus out" also tests the median: the flip count would need
        # the median of every split, so it is not computed (it used to report 0 votes)
        rule_from_config({"preset": "pct75", "median_disagree": [1, 2]}, 1, 5),
    ],
)
def test_solidity_does_not_count_flips_for_median_rules(rule):
    got = solidity(metric_row(12, 0), rule).iloc[0]
    assert math.isnan(got["votes_to_flip"]) and "median or IQR" in got["note"]


def test_stability_counts_a_panelist_once_and_skips_ratings_without_one():
    # B rated S01 twice in round 1 (only a failed de-duplication could do that): the first
    # rating counts; a rating without a panelist pairs with nobody.
    r = pd.DataFrame(
        {
            "round": [1, 1, 1, 1, 2, 2, 2],
            "panelist": ["A", "B", "B", None, "A", "B", None],
            "statement_id": "S01",
            "rating": [1.0, 2, 5, 3, 1, 4, 3],
            "no_opinion": False,
        }
    )
    st = pd.DataFrame({"round": [1, 2], "statement_id": "S01", "revised_from": None})
    row = stability(r, st).iloc[0]
    assert (row["n_paired"], row["n_changed"], row["mean_prev"]) == (2, 1, 1.5)


def test_wide_matrix_equals_pandas_first_and_drops_rows_without_ids():
    r = pd.DataFrame(
        {
            "panelist": ["a", "b", None, "a", "b", "c"],
            "statement_id": ["S1", "S2", "S1", "S1", None, "S2"],
            "rating": [1.0, np.nan, 5, 2, 4, np.nan],
        }
    )
    want = r.groupby(["panelist", "statement_id"])["rating"].first().unstack()
    got = wide(r).loc[want.index, want.columns]
    pd.testing.assert_frame_equal(got, want, check_names=False)
    assert wide(r).loc["b", "S1"] != 5  # the id-less rating lands in nobody's cell


# --- sensitivity ----------------------------------------------------------------------------


def test_sensitivity_compares_rules_and_says_rand_ucla_does_not_apply():
    # S01: 11 of 15 agree, nobody disagrees: 73% -> COMET in (>= 70%, < 15% opposite), not
    # pct75.  S02: 15 of 15 agree under every rule.
    data = np.column_stack([[4] * 11 + [3] * 4, [5] * 15])
    per = sensitivity_by_statement(ratings_frame(data), 1, 5)
    counts = sensitivity_counts(per, 1, 5)
    per = per.set_index("statement_id")
    assert per.loc["S01", "pct75"] == "no_consensus"
    assert per.loc["S01", "comet_70_15"] == "consensus_in"
    assert per.loc["S01", "rules_disagree"] and not per.loc["S02", "rules_disagree"]
    rand = counts[counts["rule"] == "rand_ucla"].iloc[0]
    assert not rand["applicable"] and "needs 1–9" in rand["note"]


def test_sensitivity_counts_match_compute_metrics():
    rng = np.random.default_rng(3)
    r = ratings_frame(rng.integers(1, 10, size=(15, 8)))
    counts = sensitivity_counts(sensitivity_by_statement(r, 1, 9), 1, 9)
    rand = preset("rand_ucla", 1, 9)
    expected = compute_metrics(r, rand)["status"].value_counts()
    row = counts[(counts["rule"] == "rand_ucla") & (counts["scope"] == "round 1")].iloc[0]
    assert row["applicable"] and row["consensus_in"] == expected.get("consensus_in", 0)


def test_sensitivity_does_not_repeat_the_study_rule_as_a_preset():
    from dataclasses import replace

    study = replace(preset("pct75", 1, 5), version="v1")
    per = sensitivity_by_statement(ratings_frame([[4, 5], [5, 5]]), 1, 5, base_rule=study)
    counts = sensitivity_counts(per, 1, 5, base_rule=study)
    assert "study_rule" in per and "pct75" not in per
    assert counts.loc[counts["rule"] == "study_rule", "label"].iloc[0].startswith("This study")


# --- lineage, flow, participation -------------------------------------------------------------

STATEMENTS = pd.DataFrame(
    {
        "round": [1, 1, 1, 1, 2, 2, 2, 3],
        "statement_id": ["S01", "S02", "S03", "S04", "S02", "S03a", "S05", "S03b"],
        "domain": "A",
        "text": "",
        "revised_from": [None, None, None, None, None, "S03", None, "S03a"],
    }
)
METRICS = STATEMENTS[["round", "statement_id"]].assign(
    status=[
        "consensus_in",
        "no_consensus",
        "no_consensus",
        "no_consensus",
        "consensus_out",
        "no_consensus",
        "no_consensus",
        "no_consensus",
    ]
)


def test_families_join_every_version():
    fam = families(STATEMENTS).set_index("statement_id")
    assert fam.loc["S03b", "family"] == "S03" and fam.loc["S03a", "versions"] == 3
    assert fam.loc["S03", "family_label"] == "S03 → S03a → S03b"


def test_statement_flow_names_entry_and_fate():
    flow = statement_flow(METRICS, STATEMENTS).set_index(["round", "statement_id"])
    assert flow.loc[(1, "S01"), "fate"] == "accepted"
    assert flow.loc[(1, "S02"), "fate"] == "carried"
    assert flow.loc[(1, "S03"), "fate"] == "revised"
    assert flow.loc[(1, "S04"), "fate"] == "dropped"
    assert flow.loc[(2, "S02"), "fate"] == "rejected"
    assert flow.loc[(2, "S05"), "entry"] == "added"
    assert flow.loc[(3, "S03b"), ["entry", "fate"]].tolist() == ["revised", "open"]


def test_participation_counts_new_retained_and_lost():
    resp = pd.DataFrame({"round": [1, 1, 1, 2, 2, 3], "panelist": ["A", "B", "C", "A", "B", "A"]})
    rates = pd.DataFrame({"round": [1, 2, 3], "invited": [4, 4, 4]})
    got = participation(resp, rates).set_index("round")
    assert got.loc[1, "response_rate"] == 75
    assert got.loc[3, ["responded", "retained", "lost"]].tolist() == [1, 1, 1]
    assert got.loc[2, "attrition_pct"] == pytest.approx(100 / 3)


def test_participation_by_attribute_pools_small_groups_without_naming_them():
    panel = pd.DataFrame(
        {
            "panelist": list("ABCDEFGHIJKLMNOP"),
            "attribute": "Setting",
            "value": ["Hospital"] * 6 + ["Academic"] * 5 + ["Private"] * 3 + ["Clinic"] * 2,
        }
    )
    resp = pd.DataFrame({"round": 1, "panelist": list("ABCDEFGHIJKL")})  # M-P did not answer
    got = participation_by_attribute(resp, panel, min_group_size=5).set_index("group")
    # hand count: Private (3) + Clinic (2) = 5, pooled; none of the five responded
    assert got.index.tolist() == ["Academic", "Hospital", "Other (groups under 5)"]
    assert got["invited"].tolist() == [5, 6, 5] and got["responded"].tolist() == [5, 6, 1]
    assert not {"Private", "Clinic"} & set(got.to_csv().split(","))


def test_participation_by_attribute_pool_too_small_takes_the_next_smallest_group():
    panel = pd.DataFrame(
        {"panelist": list("ABCDEFGH"), "attribute": "Country", "value": ["X"] * 5 + ["Y"] * 3}
    )
    resp = pd.DataFrame({"round": 1, "panelist": list("ABCDEFGH")})
    got = participation_by_attribute(resp, panel, min_group_size=5)
    # Y (3) alone would be shown as total − X: X joins the pool
    assert got["group"].tolist() == ["Other (groups under 5)"] and got["invited"].tolist() == [8]


def test_participation_by_attribute_of_a_panel_under_the_minimum_is_hidden():
    panel = pd.DataFrame({"panelist": list("ABC"), "attribute": "Country", "value": "X"})
    got = participation_by_attribute(pd.DataFrame({"round": 1, "panelist": ["A"]}), panel, 5)
    assert got["hidden"].tolist() == ["fewer than 5 panelists in all"]
    assert got["invited"].isna().all() and "X" not in got["group"].tolist()


def test_attrition_of_one_dropout_is_not_shown():
    r = ratings_frame([[5, 5], [4, 4], [4, 5], [2, 1]], rnd=1)
    resp = pd.DataFrame(
        {
            "round": [1, 1, 1, 1, 2, 2, 2],
            "panelist": ["P01", "P02", "P03", "P04"] + ["P01", "P02", "P03"],
        }
    )
    groups = attrition_groups(r, resp, agree=(4, 5), min_group_size=3).set_index("group")
    assert groups["n_panelists"].tolist() == [3, 1]  # counts stay: "lost: 1" is shown anyway
    assert groups[["n_ratings", "mean_rating", "pct_agree"]].isna().all().all()
    test = attrition_test(r, resp, min_group_size=3).iloc[0]
    assert pd.isna(test["u"]) and "fewer than 3" in test["note"]
    unsuppressed = attrition_groups(r, resp, agree=(4, 5)).set_index("group")
    assert unsuppressed.loc["dropped out", "mean_rating"] == 1.5  # P04's two ratings: 2, 1


def test_participation_by_attribute_groups_numbers_into_ranges():
    years = [7, 8, 9, 10, 11, 12, 14, 15, 16, 18, 19, 20, 22, 24, 27]
    panel = pd.DataFrame(
        {
            "panelist": [f"P{i}" for i in range(15)],
            "attribute": "Years",
            "value": [str(y) for y in years],
        }
    )
    resp = pd.DataFrame({"round": 1, "panelist": panel["panelist"]})
    got = participation_by_attribute(resp, panel).set_index("group")["invited"]
    assert got.to_dict() == {"0–9": 3, "10–19": 8, "20–29": 4}


def test_attrition_bias_compares_round_one_ratings_of_leavers_and_stayers():
    r = ratings_frame([[5, 5], [4, 4], [4, 5], [2, 1]], rnd=1)
    resp = pd.DataFrame(
        {
            "round": [1, 1, 1, 1, 2, 2, 2],
            "panelist": ["P01", "P02", "P03", "P04", "P01", "P02", "P03"],
        }
    )
    groups = attrition_groups(r, resp, agree=(4, 5))
    test = attrition_test(r, resp)
    g = groups.set_index("group")
    assert g.loc["dropped out", "mean_rating"] == 1.5 and g.loc["stayed", "pct_agree"] == 100
    assert math.isnan(test.iloc[0]["p"]) and "too few" in test.iloc[0]["note"]


def test_attrition_bias_mann_whitney_matches_scipy():
    rng = np.random.default_rng(11)
    r = ratings_frame(rng.integers(1, 6, size=(10, 6)), rnd=1)
    stayers = [f"P{i:02d}" for i in range(1, 7)]
    resp = pd.concat(
        [
            pd.DataFrame({"round": 1, "panelist": r["panelist"].unique()}),
            pd.DataFrame({"round": 2, "panelist": stayers}),
        ]
    )
    test = attrition_test(r, resp)
    means = r.groupby("panelist")["rating"].mean()
    ref = ss.mannwhitneyu(means.drop(stayers), means[stayers], alternative="two-sided")
    assert test.iloc[0]["u"] == ref.statistic and test.iloc[0]["p"] == pytest.approx(ref.pvalue)


def test_format_p():
    assert [format_p(p) for p in (0.5, 0.0429, 0.0001, math.nan)] == [
        "0.50",
        "0.043",
        "< 0.001",
        "–",
    ]


def test_importing_stats_does_not_import_pingouin():
    code = (
        "import sys, lib.analysis.agreement, lib.analysis.stability, lib.analysis.solidity, "
        "lib.analysis.sensitivity, lib.analysis.flow, lib.analysis.participation; "
        "print('pingouin' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_doctests_pass():
    import doctest
    import importlib

    names = [
        "_common",
        "agreement",
        "flow",
        "participation",
        "sensitivity",
        "solidity",
        "stability",
    ]
    modules = [importlib.import_module(f"lib.analysis.{name}") for name in names]
    assert sum(doctest.testmod(m).failed for m in modules) == 0


@pytest.mark.parametrize(
    "rule",
    [
        preset("pct75", 1, 5),
        preset("comet_70_15", 1, 9),
        rule_from_config({"threshold": 66.7, "max_opposite": 33.3, "min_n": 5}, 1, 9),
    ],
)
def test_votes_to_flip_equal_a_scan_of_every_split(rule):
    # Reference: apply_rule on every (agree, disagree) split of n ratings; the fewest moves to a
    # split with another status, ties to the first split in (agree, disagree) order.
    for n, denom in [(1, 1), (4, 4), (4, 6), (15, 15), (15, 17), (22, 22), (40, 43)]:
        a, d = (x.ravel() for x in np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"))
        a, d = a[a + d <= n], d[a + d <= n]
        grid = apply_rule(
            pd.DataFrame(
                {
                    "n": n,
                    "n_agree": a,
                    "n_disagree": d,
                    "pct_agree": 100 * a / denom,
                    "pct_disagree": 100 * d / denom,
                    "median": np.nan,
                    "iqr": np.nan,
                    "p30": np.nan,
                    "p70": np.nan,
                }
            ),
            rule,
        )
        for row in grid.itertuples():
            other = grid[grid["status"] != row.status]
            moves = (
                abs(other["n_agree"] - row.n_agree)
                + abs(other["n_disagree"] - row.n_disagree)
                + abs(other["n_agree"] + other["n_disagree"] - row.n_agree - row.n_disagree)
            ) // 2
            want: tuple = (None, None)
            if len(other):
                best = int(moves.to_numpy().argmin())
                want = (int(moves.iloc[best]), other["status"].iloc[best])
            got = _flip(n, denom, row.n_agree, row.n_disagree, row.status, rule)
            assert (None if math.isnan(got[0]) else got[0], got[1]) == want, (n, denom, row)
