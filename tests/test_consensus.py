"""lib.analysis.consensus and .rules: metrics and rule-based status, against independent
references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lib.analysis.consensus import apply_rule, compute_metrics
from lib.analysis.rules import cutoff_votes, preset, rule_from_config


def _ratings(values, statement="S01", rnd=1, no_opinion=0, missing=0):
    rows = [
        {"round": rnd, "statement_id": statement, "rating": float(v), "no_opinion": False}
        for v in values
    ]
    rows += [
        {"round": rnd, "statement_id": statement, "rating": np.nan, "no_opinion": True}
    ] * no_opinion
    rows += [
        {"round": rnd, "statement_id": statement, "rating": np.nan, "no_opinion": False}
    ] * missing
    return pd.DataFrame(rows)


def _one(values, rule, **kw):
    return compute_metrics(_ratings(values, **kw), rule).iloc[0]


def test_quantiles_are_r_type_7():
    # R: quantile(c(1, 2, 4, 7, 9, 9), c(.25, .5, .75), type = 7) -> 2.5, 5.5, 8.5
    m = _one([1, 2, 4, 7, 9, 9], preset("pct75", 1, 9))
    assert (m["q1"], m["median"], m["q3"], m["iqr"]) == (2.5, 5.5, 8.5, 6.0)
    np.testing.assert_allclose([m["q1"], m["q3"]], np.quantile([1, 2, 4, 7, 9, 9], [0.25, 0.75]))


def test_counts_separate_no_opinion_and_missing():
    m = _one([4, 5, 2], preset("pct75", 1, 5), no_opinion=2, missing=1)
    assert (m["n"], m["n_no_opinion"], m["n_missing"]) == (3, 2, 1)


def test_percentages_use_valid_ratings_by_default():
    m = _one([4, 5, 3, 1], preset("pct75", 1, 5), no_opinion=1)
    assert (m["pct_agree"], m["pct_neutral"], m["pct_disagree"]) == (50.0, 25.0, 25.0)


def test_no_opinion_can_count_in_the_denominator():
    frame = _ratings([4, 5, 3, 1], no_opinion=4)
    m = compute_metrics(frame, preset("pct75", 1, 5), denom_no_opinion=True).iloc[0]
    assert m["pct_agree"] == 25.0


def test_mean_and_sd_match_numpy():
    values = [1, 3, 4, 4, 5, 5, 2]
    m = _one(values, preset("pct75", 1, 5))
    assert m["mean"] == pytest.approx(np.mean(values))
    assert m["sd"] == pytest.approx(np.std(values, ddof=1))


def test_ties_at_the_threshold_count_as_reaching_it():
    # 9 of 12 = exactly 75%
    m = _one([4] * 9 + [1] * 3, preset("pct75", 1, 5))
    assert m["pct_agree"] == 75.0 and m["status"] == "consensus_in"
    assert _one([4] * 8 + [1] * 4, preset("pct75", 1, 5))["status"] == "no_consensus"


def test_consensus_out_mirrors_consensus_in():
    assert _one([1] * 8 + [2] * 4 + [5], preset("pct75", 1, 5))["status"] == "consensus_out"


def test_comet_70_15_needs_few_opposite_ratings():
    rule = preset("comet_70_15", 1, 9)
    # 14 of 20 = 70% rate 7–9 and 3 of 20 = 15% rate 1–3: not < 15%, so no consensus
    assert _one([8] * 14 + [2] * 3 + [5] * 3, rule)["status"] == "no_consensus"
    assert _one([8] * 14 + [2] * 2 + [5] * 4, rule)["status"] == "consensus_in"
    assert _one([2] * 14 + [8] * 2 + [5] * 4, rule)["status"] == "consensus_out"


def test_median_iqr_rule_reports_direction_and_dispersion_apart():
    rule = preset("median_iqr", 1, 9)
    m = _one([4, 5, 6, 6, 7, 7, 7], rule)  # median 6: neither; IQR 1.5 <= 3
    assert (m["direction"], bool(m["dispersion_ok"]), m["status"]) == (
        "neither",
        True,
        "no_consensus",
    )
    m = _one([7, 8, 9, 9, 9], rule)
    assert (m["direction"], m["status"]) == ("agree", "consensus_in")


def test_rand_ucla_ipras_hand_calculation():
    """Fitch et al. 2001: IPR = P70 − P30; IPRAS = 2.35 + 1.5·|5 − (P30 + P70)/2|."""
    values = [1, 2, 2, 3, 7, 8, 8, 9, 9]
    m = _one(values, preset("rand_ucla", 1, 9))
    p30, p70 = np.quantile(values, [0.3, 0.7])  # 2.4 and 8.0 (type 7)
    assert (p30, p70) == pytest.approx((2.4, 8.0))
    assert m["ipr"] == pytest.approx(5.6)
    assert m["ipras"] == pytest.approx(2.35 + 1.5 * abs(5 - 5.2))  # 2.65: disagreement
    assert m["status"] == "no_consensus" and not m["dispersion_ok"]
    tight = _one([7, 7, 8, 8, 8, 9, 9, 9, 9], preset("rand_ucla", 1, 9))
    assert tight["status"] == "consensus_in"


def test_rand_ucla_needs_a_nine_point_scale():
    with pytest.raises(ValueError, match="needs a 1–9 scale"):
        preset("rand_ucla", 1, 5)


def test_min_n_blocks_consensus():
    rule = rule_from_config({"preset": "pct75", "min_n": 5}, 1, 5)
    assert _one([5, 5, 5, 5], rule)["status"] == "no_consensus"
    assert rule.name == "custom" and "customised" in rule.label


def test_custom_rule_combines_criteria():
    rule = rule_from_config(
        {"agree": [4, 5], "disagree": [1, 2], "threshold": 70, "max_iqr": 1, "label": "Ours"}, 1, 5
    )
    assert _one([4, 4, 4, 5, 5, 5, 5, 4, 4, 1], rule)["status"] == "consensus_in"
    assert _one([5, 5, 5, 5, 5, 5, 5, 3, 3, 3], rule)["status"] == "no_consensus"  # IQR 2


@pytest.mark.parametrize(
    "bad,msg",
    [
        ({"threshold": 120}, "percentage"),
        ({"agree": [4, 7]}, "within 1–5"),
        ({"preset": "nope"}, "unknown"),
        ({"colour": "red"}, "not a known key"),
        ({"preset": "custom", "agree": [4, 5]}, "needs a threshold"),
    ],
)
def test_bad_rule_names_the_key(bad, msg):
    with pytest.raises(ValueError, match=msg):
        rule_from_config(bad, 1, 5)


def test_cutoff_votes():
    assert cutoff_votes(70, 15) == 11  # DELPHI.md: 70% of 15 -> 11 votes
    assert cutoff_votes(75, 15) == 12
    assert cutoff_votes(75, 12) == 9
    assert cutoff_votes(None, 12) is None


def test_apply_rule_does_not_mutate_its_input():
    frame = compute_metrics(_ratings([4, 5, 5]), preset("pct75", 1, 5))
    before = frame.copy()
    apply_rule(frame, preset("comet_70_15", 1, 5))
    pd.testing.assert_frame_equal(frame, before)


def test_empty_statement_has_no_consensus():
    m = _one([], preset("pct75", 1, 5), missing=3)
    assert m["n"] == 0 and m["status"] == "no_consensus" and pd.isna(m["pct_agree"])
