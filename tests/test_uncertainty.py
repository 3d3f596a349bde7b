"""lib.analysis.uncertainty and the report's "Areas of uncertainty", with the report's stopping
rule and eligibility counts (lib.reports.decisions).

Every expected label, share and count is worked by hand from the answer lists below (the bands
of the 5-point pct75 rule are 1–2, 3 and 4–5); the RAND/UCLA panel-size table is the published
one (Fitch et al. 2001; reproduced in BMC Med Inform Decis Mak 2012;12:93, table 7); Sarle's
coefficient is checked against scipy's bias-corrected skewness and kurtosis and a hand-worked
case.  The small study is refreshed into a temporary DuckDB file with ``lib.pipeline.refresh``.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest
from scipy import stats

from lib import store
from lib.analysis.rules import preset, yes_no_rule
from lib.analysis.scales import Scale, ScaleMap, ScaleUse
from lib.analysis.uncertainty import areas, bimodality_coefficient, shape
from lib.pipeline import refresh
from lib.reports.data import build_report_data
from lib.reports.html import html_report
from lib.reports.inputs import StoreFrames, report_inputs
from lib.reports.xlsx import xlsx_report
from lib.sources import RawSource
from tests.helpers import Page, tiny_config, tiny_tabs

FIVE = Scale("", 1, 5, {}, (), preset("pct75", 1, 5))
NINE = Scale("", 1, 9, {}, (), preset("pct75", 1, 9))
VOTE = Scale("Vote", 0, 1, {"Yes": 1, "No": 0}, (), yes_no_rule({}), yes_no=True)


def tally(ratings: list[int]) -> dict[int, int]:
    return {p: ratings.count(p) for p in set(ratings)}


# --- the shape of one distribution ---------------------------------------------------------------


def test_both_ends_massed_is_polarised():
    # 1,1,1,2,2 | 3 | 4,4,5,5 of 10: 50% at 1–2, 10% at 3, 40% at 4–5
    s = shape(tally([1, 1, 1, 2, 2, 3, 4, 4, 5, 5]), FIVE)
    assert (s.label, s.counts, s.bands) == ("polarised", (5, 1, 4), ("1–2", "3", "4–5"))
    assert s.shares == pytest.approx((50.0, 10.0, 40.0))


def test_ratings_massed_in_the_middle_are_undecided():
    # 2 | 3 ×6 | 4,4,5 of 10: 60% in the middle
    s = shape(tally([2, 3, 3, 3, 3, 3, 3, 4, 4, 5]), FIVE)
    assert (s.label, s.counts) == ("undecided", (1, 6, 3))


def test_an_even_spread_is_disagreement_for_rand_but_not_polarised():
    # 1–9: five each at 2, 5 and 8 of 15. RAND/UCLA: 5 of 14–16 in each extreme third is
    # disagreement; yet the middle holds as many as each end, so the ends are not "massed".
    s = shape({2: 5, 5: 5, 8: 5}, NINE)
    assert s.counts == (5, 5, 5)
    assert s.label == "spread"


def test_more_than_half_at_one_end_is_leaning():
    # 1 | 3,3 | 4,4,4,4,5,5,5 of 10: 70% at 4–5 (short of 75%), 10% at 1–2
    s = shape(tally([1, 3, 3, 4, 4, 4, 4, 5, 5, 5]), FIVE)
    assert (s.label, s.direction) == ("leaning", "agree")
    s = shape(tally([1, 1, 2, 2, 2, 1, 2, 3, 3, 4]), FIVE)  # 7 of 10 at 1–2
    assert (s.label, s.direction) == ("leaning", "disagree")


def test_thirty_percent_at_each_end_is_enough():
    # 3 of 10 at 1–2 (30%), 2 at 3, 5 at 4–5: both ends ≥ 30% and above the middle
    assert shape(tally([1, 2, 2, 3, 3, 4, 4, 4, 5, 5]), FIVE).label == "polarised"
    # 2 of 10 at 1–2 (20%): not polarised; 50% at 4–5 is not more than half: spread
    assert shape(tally([1, 2, 3, 3, 3, 4, 4, 4, 5, 5]), FIVE).label == "spread"


@pytest.mark.parametrize("n", range(8, 17))
def test_polarised_ends_reproduce_the_rand_panel_size_table(n):
    # Fitch et al. 2001: disagreement when at least 3 (8–10 panelists), 4 (11–13) or 5 (14–16)
    # rate in each extreme third. With nobody in the middle, the fewest at the smaller end
    # that make the panel polarised must be those counts.
    published = {8: 3, 9: 3, 10: 3, 11: 4, 12: 4, 13: 4, 14: 5, 15: 5, 16: 5}[n]
    fewest = min(
        k for k in range(1, n // 2 + 1) if shape({1: k, 9: n - k}, NINE).label == "polarised"
    )
    assert fewest == published


def test_a_yes_no_question_is_split_with_its_share_of_yes():
    s = shape({1: 6, 0: 4}, VOTE)
    assert s.label == "split" and s.direction == ""
    assert (s.counts[0], s.counts[2]) == (4, 6) and s.shares[2] == pytest.approx(60.0)
    assert s.bands == ("No", "", "Yes") and math.isnan(s.bimodality)


def test_no_ratings_has_no_shape():
    s = shape({}, FIVE)
    assert s.label == "no ratings" and s.n_valid == 0 and math.isnan(s.bimodality)


def test_bimodality_coefficient_by_hand():
    # seven 1s and seven 5s: skewness 0; m4/m2² = 1, so excess kurtosis with the sample
    # correction is ((15)(1 − 3) + 6) · 13 / (12 · 11) = −312/132, and the denominator adds
    # 3 · 13² / (12 · 11) = 507/132: b = 1 / (195/132) = 132/195
    assert bimodality_coefficient([1] * 7 + [5] * 7) == pytest.approx(132 / 195)


@pytest.mark.parametrize(
    "ratings",
    [[1, 1, 1, 2, 2, 3, 4, 4, 5, 5], [2, 3, 3, 3, 3, 3, 3, 4, 4, 5], [1, 2, 2, 5, 5, 5, 4]],
)
def test_bimodality_coefficient_matches_scipy(ratings):
    x = np.array(ratings, float)
    n = len(x)
    g, k = stats.skew(x, bias=False), stats.kurtosis(x, bias=False)  # SAS's G1 and G2
    b = (g**2 + 1) / (k + 3 * (n - 1) ** 2 / ((n - 2) * (n - 3)))
    assert shape(tally(ratings), FIVE).bimodality == pytest.approx(b)


def test_bimodality_is_undefined_under_four_ratings_or_without_spread():
    assert math.isnan(bimodality_coefficient([1, 5, 5]))
    assert math.isnan(bimodality_coefficient([3, 3, 3, 3, 3]))


def test_areas_read_each_version_on_its_own_scale():
    # A: no consensus on 1–5 in round 1, then a Yes/No vote with 6 Yes and 4 No in round 2
    # (short of its rule): split, 60% Yes; no change is computed across two scales.
    # B: consensus in round 1, not listed.
    metrics = pd.DataFrame(
        {
            "round": [1, 1, 2],
            "statement_id": ["A", "B", "A"],
            "n": [10, 10, 10],
            "pct_agree": [40.0, 90.0, 60.0],
            "status": ["no_consensus", "consensus_in", "no_consensus"],
        }
    )
    statements = metrics[["round", "statement_id"]].assign(revised_from=None)
    distribution = pd.DataFrame(
        {
            "round": [1, 1, 1, 2, 2],
            "statement_id": ["A", "A", "A", "A", "A"],
            "answer": ["2", "3", "4", "0", "1"],
            "count": [3, 3, 4, 4, 6],
        }
    )
    scales = ScaleMap(FIVE, (ScaleUse(VOTE, frozenset({2})),))
    got = areas(metrics, statements, distribution, scales)
    assert got["statement_id"].tolist() == ["A"]
    row = got.iloc[0]
    assert (row["shape"], row["bottom"], row["top"], row["n_top"]) == ("split", "No", "Yes", 6)
    assert row["pct_top"] == pytest.approx(60.0) and math.isnan(row["change"])
    assert (row["versions"], row["n_rounds"], row["fate"]) == ("A", 2, "open")


# --- a small study: 10 panelists, 2 rounds, 5-point pct75 ----------------------------------------

PANEL = [f"p{i:02d}@panel.example" for i in range(10)]
UJ = "Unable to judge"
ROUND_1 = {
    "S01": [5, 5, 4, 4, 4, 5, 4, 4, 5, 3],  # 9 of 10 agree: consensus in
    "S02": [1, 2, 3, 4, 5, 1, 2, 4, 5, 3],  # 4 agree: none, rated again
    "S03": [3, 3, 3, 4, 4, 2, 3, 4, 3, 3],  # 3 agree: none, rated again
    "S04": [1, 1, 2, 2, 1, 2, 1, 1, 3, 2],  # 9 disagree: consensus out
    "S05": [3, 3, 4, 2, 3, 4, 3, 2, 5, 1],  # 3 agree: none, revised as S05a
    "S07": [4, 4, 4, 4, 4, 4, 3, 3, 2, 5],  # 7 agree (70%): none, dropped
}
ROUND_2 = {
    "S02": [1, 1, 2, 1, 5, 5, 4, 5, 3, 2],  # 5 | 1 | 4: polarised
    "S03": [3, 3, 3, 3, 3, 3, 2, 4, UJ, 1],  # of 9 valid: 2 | 6 | 1: undecided
    "S05a": [1, 2, 2, 1, 2, 2, 3, 4, 3, 2],  # 7 | 2 | 1: leaning to disagree (70% < 75%)
    "S06": [1, 2, 3, 3, 4, 4, 4, 5, 2, 3],  # 3 | 3 | 4: spread (ends not above the middle)
}
TEXT = {
    "S01": "Sunscreen is advised",
    "S02": "Peels may be combined",
    "S03": "Doses are weight-based",
    "S04": "Treatment lasts a week",
    "S05": "Laser is always safe",
    "S05a": "Laser is safe after three months",
    "S06": "Labs are repeated monthly",
    "S07": "Follow-up is at six months",
}
COMMENTS = {  # (round, statement, panelist index) -> comment
    (1, "S01", 1): "Obvious to everyone",
    (1, "S02", 0): "Depends on the peel depth",
    (2, "S02", 3): "Still split on deep peels",
    (2, "S05a", 2): "Three months is too short",
    (2, "S06", 4): "<script>alert(1)</script> <b>monthly</b>",
}
# Hand count: the last versions without consensus, as (round, statement, fate, shape).
UNCERTAIN = [
    (1, "S07", "dropped", "leaning to agree"),
    (2, "S02", "open", "polarised"),
    (2, "S03", "open", "undecided"),
    (2, "S05a", "open", "leaning to disagree"),
    (2, "S06", "open", "spread"),
]
# % agree round by round, following S05 -> S05a: (statement, round, version, n, % agree)
BY_ROUND = [
    ("S07", 1, "S07", 10, 70.0),
    ("S02", 1, "S02", 10, 40.0),
    ("S02", 2, "S02", 10, 40.0),
    ("S03", 1, "S03", 10, 30.0),
    ("S03", 2, "S03", 9, 100 / 9),
    ("S05a", 1, "S05", 10, 30.0),
    ("S05a", 2, "S05a", 10, 10.0),
    ("S06", 2, "S06", 10, 40.0),
]
HEAD = ["ID", "Statement", "Last result", "Agreement by round", "Shape"]


def _tab(answers: dict[str, list], rnd: int) -> list[list]:
    header = ["Timestamp", "Email Address"]
    for sid in answers:
        header += [f"{sid}. {TEXT[sid]}", "Comments (optional)"]
    rows = [header]
    for i, email in enumerate(PANEL):
        row = [dt.datetime(2026, 3 * rnd, 1, 9) + dt.timedelta(hours=i), email]
        for sid, said in answers.items():
            row += [said[i], COMMENTS.get((rnd, sid, i), "")]
        rows.append(row)
    return rows


def _tabs() -> dict[str, list[list]]:
    statements = [["statement_id", "round", "domain", "text", "revised_from"]]
    statements += [[sid, 1, "D", TEXT[sid], ""] for sid in ROUND_1]
    statements += [[sid, 2, "D", TEXT[sid], "S05" if sid == "S05a" else ""] for sid in ROUND_2]
    # p03 has 3 years in practice (criterion ≥ 5); p07 left "COI disclosed" blank
    panel = [["Email Address", "Country", "Years in practice", "COI disclosed"]]
    panel += [
        [e, "Italy", "3" if i == 3 else "12", "" if i == 7 else "Yes"] for i, e in enumerate(PANEL)
    ]
    return {
        "Round 1": _tab(ROUND_1, 1),
        "Round 2": _tab(ROUND_2, 2),
        "Statements": statements,
        "Panel": panel,
    }


def _reports(tabs: dict, cfg, db) -> dict:
    refresh(cfg, db, raw=RawSource(tabs=tabs, source="t", title="T", all_tabs=list(tabs)))
    with store.connect(db) as con:
        sid = store.current_snapshot_id(con)
        committee = build_report_data(report_inputs(StoreFrames(con, sid)), cfg)
        observer = build_report_data(
            report_inputs(StoreFrames(con, sid), include_comments=False), cfg
        )
    return {"committee": committee, "observer": observer}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    cfg = tiny_config(
        statements_tab="Statements",
        stopping={"max_rounds": 2},
        eligibility=[
            {"attribute": "Years in practice", "min": 5, "wording": "Five years in practice"},
            {"attribute": "COI disclosed", "equals": ["Yes"], "wording": "No undisclosed COI"},
        ],
    )
    return _reports(_tabs(), cfg, tmp_path_factory.mktemp("unc") / "study.duckdb")


@pytest.fixture(scope="module")
def settled(tmp_path_factory):
    """The tiny study: every statement reached consensus, and no [stopping]."""
    return _reports(
        tiny_tabs(), tiny_config(statements_tab=""), tmp_path_factory.mktemp("t") / "t.duckdb"
    )


def _section(html: str) -> str:
    return html[html.index('id="uncertainty"') : html.index('id="dropped"')]


def _sheet(data, name: str) -> list[dict]:
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_report(data)))[name]
    head, *rows = ws.iter_rows(values_only=True)
    return [dict(zip(head, r, strict=True)) for r in rows]


def test_section_lists_exactly_the_statements_without_consensus(study):
    (rows,) = Page(_section(html_report(study["committee"]))).table(HEAD)
    assert [r[0] for r in rows] == [sid for _, sid, _, _ in UNCERTAIN]
    for row, (_, _, _, name) in zip(rows, UNCERTAIN, strict=True):
        assert row[4].startswith(name)


def test_section_states_fate_versions_last_result_and_shares(study):
    rows = {r[0]: r for r in Page(_section(html_report(study["committee"]))).table(HEAD)[0]}
    assert "dropped after round 1" in rows["S07"][1]
    assert "no consensus after round 2 · versions S05 → S05a" in rows["S05a"][1]
    # S03, round 2: 1 of 9 valid ratings at 4–5 (Unable to judge left out); 2 | 6 | 1
    assert rows["S03"][2].startswith("11% (1/9)")
    assert rows["S03"][4] == "undecided1–2: 22% · 3: 67% · 4–5: 11%"
    assert rows["S02"][4] == "polarised1–2: 50% · 3: 10% · 4–5: 40%"
    assert rows["S05a"][3] == "R1 30% → R2 10%"


def test_sparkline_follows_the_revision(study):
    html = _section(html_report(study["committee"]))
    assert 'aria-label="Round 1 (S05): 30%; Round 2 (S05a): 10%"' in html
    assert 'title="threshold 75%"' in html


def test_committee_section_has_the_comments_on_those_statements_only(study):
    text = Page(_section(html_report(study["committee"]))).text
    for (_, sid, _), said in COMMENTS.items():
        assert (said in text) == (sid != "S01")  # S01 reached consensus


def test_comments_in_the_section_are_escaped(study):
    section = _section(html_report(study["committee"]))
    assert "<script>" not in section and "<b>monthly</b>" not in section
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;monthly&lt;/b&gt;" in section


def test_observer_section_has_no_comments(study):
    section = _section(html_report(study["observer"]))
    assert 'class="comment"' not in section
    assert not any(said in section for said in COMMENTS.values())
    assert "Comments are shared with the steering committee only" in Page(section).text


def test_checklist_names_the_section(study):
    (checklist,) = Page(html_report(study["committee"])).table(["Item", "Section"])
    assert [r[1] for r in checklist if r[1] == "Areas of uncertainty"] == ["Areas of uncertainty"]


def test_workbook_sheet_values(study):
    rows = _sheet(study["committee"], "Areas of uncertainty")
    assert [(r["round"], r["statement_id"], r["fate"]) for r in rows] == [
        (rnd, sid, fate) for rnd, sid, fate, _ in UNCERTAIN
    ]
    got = {r["statement_id"]: r for r in rows}
    assert (got["S02"]["n_bottom"], got["S02"]["n_middle"], got["S02"]["n_top"]) == (5, 1, 4)
    assert (got["S03"]["n_bottom"], got["S03"]["n_middle"], got["S03"]["n_top"]) == (2, 6, 1)
    assert got["S03"]["pct_middle"] == pytest.approx(600 / 9)
    assert (got["S05a"]["shape"], got["S05a"]["leaning"]) == ("leaning", "disagree")
    assert got["S05a"]["versions"] == "S05 → S05a"
    assert got["S05a"]["change"] == pytest.approx(10.0 - 30.0)
    assert got["S06"]["shape"] == "spread" and got["S07"]["shape"] == "leaning"


def test_workbook_agreement_by_round(study):
    rows = _sheet(study["committee"], "Uncertainty by round")
    got = [(r["statement_id"], r["round"], r["version"], r["n"], r["pct_agree"]) for r in rows]
    assert [g[:4] for g in got] == [b[:4] for b in BY_ROUND]
    assert [g[4] for g in got] == pytest.approx([b[4] for b in BY_ROUND])


def test_narrative_states_the_stopping_rule_and_the_areas_of_uncertainty(study):
    text = study["committee"].narrative
    assert "The stopping rule was pre-registered: rounds stop after round 2 at the latest." in text
    # round 2 is the last the rule allows; S02, S03, S05a and S06 are open (S07 was dropped)
    assert "The pre-registered stopping rule was met after round 2; of the 4 statements" in text
    assert (
        "The 5 statements that ended without consensus are reported as areas of uncertainty; "
        "by the shape of their last ratings, 1 was polarised, 1 undecided, 1 leaning to agree, "
        "1 leaning to disagree and 1 spread."
    ) in text


def test_rule_section_states_the_stopping_rule_and_its_verdict(study):
    html = html_report(study["committee"])
    rule = Page(html[html.index('id="rule"') : html.index('id="panel"')]).text
    assert "Rounds stop after round 2 at the latest." in rule
    assert "Stop after round 2: the pre-registered rule is met." in rule


def test_a_settled_study_has_no_section_and_says_no_stopping_rule(settled):
    data = settled["committee"]
    html = html_report(data)
    assert data.uncertainty is None and 'id="uncertainty"' not in html
    assert (
        "Areas of uncertainty"
        not in openpyxl.load_workbook(io.BytesIO(xlsx_report(data))).sheetnames
    )
    assert "areas of uncertainty" not in data.narrative
    assert "No stopping rule was pre-registered." in data.narrative
    rule = Page(html[html.index('id="rule"') : html.index('id="panel"')]).text
    assert "No stopping rule was pre-registered" in rule


# Hand count of the Panel tab above: 10 invited; p03 fails the years, p07 has no COI value.
ELIGIBILITY = (
    "10 invited, 8 eligible; 1 not meeting Years in practice (≥ 5); 1 missing COI disclosed"
)
CRITERIA = [
    ["Five years in practice", "Years in practice", "≥ 5", "9", "1", "0"],
    ["No undisclosed COI", "COI disclosed", "one of Yes", "9", "0", "1"],
]


@pytest.mark.parametrize("who", ["committee", "observer"])
def test_panel_section_states_eligibility_in_counts_only(study, who):
    html = html_report(study[who])
    panel = html[html.index('id="panel"') : html.index('id="flow"')]
    assert f"{ELIGIBILITY}." in Page(panel).text
    head = ["Criterion", "Panel column", "Test", "Met", "Not met", "Missing"]
    assert Page(panel).table(head) == [CRITERIA]
    assert not re.search(r"\bP\d\d\b", panel)  # no pseudonym, so never who
    assert "p03@" not in html and "p07@" not in html


def test_eligibility_in_the_workbook_and_the_methods_text(study):
    rows = _sheet(study["committee"], "Eligibility")
    assert [[str(v) for v in r.values()] for r in rows] == CRITERIA
    summary = {r["item"]: r["value"] for r in _sheet(study["committee"], "Summary")}
    assert summary["Eligibility"] == ELIGIBILITY
    text = study["committee"].narrative
    assert "Panelists were to meet 2 pre-registered eligibility criteria: " in text
    assert (
        "8 of the 10 invited experts met every eligibility criterion (1 not meeting "
        "“Years in practice” (≥ 5); 1 with no value for “COI disclosed”)."
    ) in text
