"""Run another round?  The stopping verdict on small studies worked by hand, and the Overview's
block on the demo for observers and the committee.

Each study is written as Google Forms writes it (8 panelists, 1–5, ≥ 75% agreement: 6 of 8
votes in 4–5 is consensus in, 6 of 8 in 1–2 consensus out), refreshed into a real DuckDB file.
Every expected count below is worked out from the answers as written, in the comments; the
stability verdicts follow lib.analysis.stability.STABILITY_RULE (moving when the CV changed by
15% or more, or Wilcoxon p < 0.05; stable when nobody changed; under 3 pairs: not assessable).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from lib import store
from lib.analysis import stability, stopping
from lib.config import StoppingRule, config_from_dict, load_config
from lib.pipeline import refresh
from lib.sources import RawSource, read_workbook
from tests.helpers import LABELS, signed_in_app

EMAILS = [f"p{i}@x.example" for i in range(1, 9)]
_ = None  # a blank answer

# Round 1 of every study.  Hand counts (agree = 4–5, disagree = 1–2, of 8 valid):
R1 = {
    "S01": [5, 5, 5, 4, 4, 4, 4, 2],  # agree 7/8 = 87.5% -> consensus in
    "S02": [1, 1, 2, 2, 1, 2, 1, 4],  # disagree 7/8 -> consensus out
    "S03": [2, 3, 4, 2, 3, 4, 3, 2],  # agree 2/8, disagree 3/8 -> no consensus
    "S04": [4, 4, 3, 3, 2, 5, 3, 4],  # agree 4/8 -> no consensus
}


def _tabs(rounds: dict[int, dict[str, list[Any]]], revised: dict[str, str]) -> dict[str, list]:
    """Round tabs (Timestamp, Email Address, one column per statement), Statements, Panel."""
    tabs: dict[str, list] = {}
    listed = [["statement_id", "round", "domain", "text", "revised_from"]]
    for rnd, answers in rounds.items():
        head = ["Timestamp", "Email Address", *(f"{s}. Statement {s}" for s in answers)]
        rows = [head]
        for i, email in enumerate(EMAILS):
            when = dt.datetime(2026, 9, 1, 9) + dt.timedelta(days=14 * (rnd - 1), minutes=i)
            rows.append([when, email, *(answers[s][i] for s in answers)])
        tabs[f"Round {rnd}"] = rows
        listed += [[s, rnd, "Care", f"Statement {s}", revised.get(s, "")] for s in answers]
    tabs["Statements"] = listed
    tabs["Panel"] = [["Email Address", "Name"], *([e, f"Name {e[:2]}"] for e in EMAILS)]
    return tabs


def _study(tmp_path_factory, name: str, rounds, revised=None, **extra) -> tuple:
    """The study refreshed into its own DuckDB file: (metrics, stability frame)."""
    cfg = config_from_dict(
        {
            "title": name,
            "source": f"{name}.xlsx",
            "timezone": "UTC",
            "scale": {"min": 1, "max": 5, "labels": LABELS},
            "rounds": {f"Round {r}": r for r in rounds},
            "consensus": {"preset": "pct75"},
            **extra,
        }
    )
    tabs = _tabs(rounds, revised or {})
    db = tmp_path_factory.mktemp(name) / "study.duckdb"
    res = refresh(cfg, db, raw=RawSource(tabs=tabs, source=name, all_tabs=list(tabs)))
    with store.connect(db, read_only=True) as con:
        metrics = store.metrics_for(con, res.snapshot_id)
        ratings = store.ratings_for(con, res.snapshot_id)
        statements = store.statements_for(con, res.snapshot_id)
    return metrics, stability.stability(ratings, statements, cfg.rule.agree, cfg.scale_map)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """Two rounds with one statement of every kind.

    Round 1 adds S05 (agree 2/8: no consensus, not rated again: dropped) and S07, answered by
    two panelists only (3, 3: no consensus).  Round 2:
    - S03 again, the same answers: nobody changed, CV change 0 -> stable; no consensus.
    - S04a, revised from S04: 2,2,5,5,2,5,2,5, agree 4/8 -> no consensus.  CV of S04: mean 3.5,
      SD √(6/7) = 0.926, CV 0.2645; of S04a: mean 3.5, SD √(18/7) = 1.604, CV 0.4582:
      +73% ≥ 15% -> still moving.
    - S06, new: agree 3/8 -> no consensus, first rated: nothing to compare.
    - S07 again, all 8 answer (agree 1/8 -> no consensus), but only p1 and p2 rated both
      rounds: 2 pairs < 3 -> not assessable.
    After round 2 the latest versions are S01 (in), S02 (out), S03, S04a, S05 (dropped), S06,
    S07: 7 statements, 2 with consensus (28.6%), 4 open: 1 moving, 1 stable, 2 not assessable.
    """
    r1 = {**R1, "S05": [3, 3, 3, 4, 4, 2, 2, 3], "S07": [3, 3, _, _, _, _, _, _]}
    r2 = {
        "S03": R1["S03"],
        "S04a": [2, 2, 5, 5, 2, 5, 2, 5],
        "S06": [4, 4, 4, 3, 3, 3, 2, 2],
        "S07": [3, 4, 3, 3, 2, 2, 3, 3],
    }
    # S07's six blank answers in round 1 leave its round-2 pairs at p1, p2
    return _study(tmp_path_factory, "mixed", {1: r1, 2: r2}, {"S04a": "S04"})


@pytest.fixture(scope="module")
def settled(tmp_path_factory):
    """Round 2 repeats S03 and S04 with the same answers: both stable, neither in consensus.
    After round 2: 4 statements, 2 with consensus (50%), 2 open, both stable."""
    return _study(tmp_path_factory, "settled", {1: R1, 2: {"S03": R1["S03"], "S04": R1["S04"]}})


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """S01 in at round 1; S02 (agree 3/8) rated again in round 2 as 4,4,4,4,4,4,5,2: agree
    7/8 -> consensus in.  After round 2: 2 statements, both in consensus (100%), none open."""
    r1 = {"S01": R1["S01"], "S02": [4, 4, 4, 3, 3, 3, 2, 2]}
    return _study(tmp_path_factory, "done", {1: r1, 2: {"S02": [4, 4, 4, 4, 4, 4, 5, 2]}})


@pytest.fixture(scope="module")
def vote(tmp_path_factory):
    """Round 2 is a Yes/No vote on S03 (4 Yes, 4 No: 50% -> no consensus): its two versions
    are on different scales, not comparable.  After round 2: S01 in, S02 out, S03 open, S04
    dropped: 4 statements, 2 with consensus, 1 open, not assessable."""
    yes_no = [{"name": "Inclusion vote", "rounds": [2], "type": "yes_no"}]
    r2 = {"S03": ["Yes", "No", "Yes", "No", "Yes", "No", "Yes", "No"]}
    return _study(tmp_path_factory, "vote", {1: R1, 2: r2}, scales=yes_no)


def _counts(v: stopping.Verdict) -> tuple:
    return (v.n_statements, v.n_consensus, v.n_open, v.n_moving, v.n_stable, v.n_not_assessable)


def test_the_counts_of_the_mixed_study_after_round_2(mixed):
    v = stopping.verdict(*mixed, None)
    assert v.last_round == 2
    assert _counts(v) == (7, 2, 4, 1, 1, 2)
    assert (v.n_consensus_in, v.n_consensus_out, v.n_dropped) == (1, 1, 1)
    assert (v.n_first_rated, v.n_not_comparable) == (1, 0)
    assert v.pct_consensus == pytest.approx(100 * 2 / 7)


def test_each_open_statement_is_classed_by_its_latest_pair(mixed):
    opened = stopping.open_statements(*mixed).set_index("statement_id")
    assert opened["verdict"].to_dict() == {
        "S03": "stable",
        "S04a": "still moving",
        "S06": "first rated",
        "S07": "not assessable",
    }
    assert opened.loc["S06", "counted_as"] == opened.loc["S07", "counted_as"] == "not assessable"


def test_stop_when_the_last_round_the_rule_allows_is_reached(mixed):
    v = stopping.verdict(*mixed, StoppingRule(max_rounds=2))
    assert v.decision == "stop" and v.rounds_left == 0
    assert "Round 2 of at most 2: the last round the rule allows." in v.reasons
    # the rule and the stability verdicts disagree: S04a is still moving
    assert v.conflict == "The rule says stop (round 2 of 2) but 1 statement is still moving."


def test_continue_while_rounds_remain_and_open_statements_are_not_all_stable(mixed):
    v = stopping.verdict(*mixed, StoppingRule(max_rounds=3, when_stable=True))
    assert v.decision == "continue" and v.rounds_left == 1 and v.conflict is None
    assert v.reasons[:2] == [
        "Round 2 of at most 3: 1 round remains.",
        "Not every open statement is stable: 1 still moving and 2 not assessable (of 4).",
    ]
    assert (
        "After round 2, 4 of 7 statements are still open (no consensus in round 2): 1 still "
        "moving, 1 stable, 2 not assessable (1 first rated in round 2, 1 with fewer than 3 "
        "panelists rating both versions)." in v.reasons
    )
    assert "2 of 7 statements reached consensus (28.6%): 1 in, 1 out." in v.reasons
    assert any(r.startswith("1 statement without consensus was not rated again") for r in v.reasons)


@pytest.mark.parametrize("pct,decision", [(25, "stop"), (28.5, "stop"), (30, "continue")])
def test_stop_at_a_share_of_statements_in_consensus(mixed, pct, decision):
    v = stopping.verdict(*mixed, StoppingRule(min_consensus_pct=pct))  # 2 of 7 = 28.57%
    assert v.decision == decision and v.rounds_left is None
    assert "The rule sets no maximum number of rounds." in v.reasons
    if decision == "stop":
        assert v.conflict == (
            f"The rule says stop (28.6% reached consensus, {pct:g}% asked) but 1 statement "
            "is still moving."
        )
    else:
        assert v.conflict is None
        assert (
            "Only 28.6% of the statements reached consensus; the rule asks for at least 30%."
            in v.reasons
        )


def test_the_verdict_after_an_earlier_round_ignores_later_ones(mixed):
    """After round 1: S01 in, S02 out, S03, S04, S05, S07 open (6 statements), each rated once."""
    v = stopping.verdict(*mixed, StoppingRule(max_rounds=3, when_stable=True), last_round=1)
    assert v.last_round == 1 and v.rounds_left == 2 and v.decision == "continue"
    assert _counts(v) == (6, 2, 4, 0, 0, 4) and v.n_first_rated == 4 and v.n_dropped == 0


def test_a_round_nobody_rated_yet_is_not_the_last_round(mixed):
    later = stopping.verdict(*mixed, StoppingRule(max_rounds=3), last_round=3)
    assert later.last_round == 2 and later.rounds_left == 1


def test_stop_when_every_open_statement_is_stable(settled):
    v = stopping.verdict(*settled, StoppingRule(max_rounds=4, when_stable=True))
    assert _counts(v) == (4, 2, 2, 0, 2, 0)
    assert v.decision == "stop" and v.conflict is None and v.rounds_left == 2
    assert "Every open statement is stable (2 of 2)." in v.reasons


def test_the_rule_says_continue_though_every_open_statement_is_stable(settled):
    v = stopping.verdict(*settled, StoppingRule(max_rounds=4))
    assert v.decision == "continue"
    assert v.conflict == (
        "The rule says continue (round 2 of 4) but all 2 open statements are stable: "
        "another round may change little."
    )


def test_nothing_open_is_stable_enough_to_stop(done):
    v = stopping.verdict(*done, StoppingRule(max_rounds=3, when_stable=True))
    assert _counts(v) == (2, 2, 0, 0, 0, 0) and v.pct_consensus == 100
    assert v.decision == "stop" and v.conflict is None


def test_the_rule_says_continue_though_nothing_is_open(done):
    v = stopping.verdict(*done, StoppingRule(max_rounds=3))
    assert v.decision == "continue"
    assert v.conflict.startswith("The rule says continue (round 2 of 3) but no statement is open")
    assert stopping.verdict(*done, StoppingRule(min_consensus_pct=100)).decision == "stop"


def test_versions_on_different_scales_are_not_shown_stable(vote):
    v = stopping.verdict(*vote, StoppingRule(max_rounds=5, when_stable=True))
    assert _counts(v) == (4, 2, 1, 0, 0, 1) and v.n_not_comparable == 1 and v.n_dropped == 1
    assert v.decision == "continue"
    assert "1 not assessable (1 rated on different scales)" in v.reasons[2]


def test_without_a_rule_the_counts_are_still_given(mixed):
    v = stopping.verdict(*mixed, None)
    assert v.decision == "no rule" and v.conflict is None and v.rounds_left is None
    assert v.headline.startswith("No stopping rule was pre-registered")
    assert v.reasons[-1] == stopping.describe(None)
    assert any(r.startswith("After round 2, 4 of 7 statements are still open") for r in v.reasons)


def test_describe_states_the_rule_or_its_absence():
    rule = StoppingRule(max_rounds=3, when_stable=True, min_consensus_pct=80)
    assert stopping.describe(rule) == rule.describe()
    assert "80%" in stopping.describe(rule) and "round 3" in stopping.describe(rule)
    assert "No stopping rule was pre-registered" in stopping.describe(None)


def test_the_demo_pre_registers_three_rounds_until_stable():
    assert load_config().stopping == StoppingRule(max_rounds=3, when_stable=True)


# --- the Overview's block, on the demo --------------------------------------------------------

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
PSEUDONYM = re.compile(r"\bP\d{2,4}\b")


def _demo_verdict(demo_db) -> stopping.Verdict:
    cfg = load_config()
    with store.connect(demo_db, read_only=True) as con:
        sid = store.latest_snapshot_id(con)
        metrics = store.metrics_for(con, sid)
        pairs = stability.stability(
            store.ratings_for(con, sid),
            store.statements_for(con, sid),
            cfg.rule.agree,
            cfg.scale_map,
        )
    return stopping.verdict(metrics, pairs, cfg.stopping)


def _block(at) -> str:
    """Everything the Overview rendered as text."""
    parts = [*at.subheader, *at.info, *at.warning, *at.markdown, *at.caption]
    return "\n".join(str(p.value) for p in parts).replace("\\", "")


@pytest.mark.parametrize("role", [None, "committee"])
def test_overview_answers_run_another_round(demo_db, monkeypatch, role):
    monkeypatch.setenv("DELPHI_DB", str(demo_db))
    monkeypatch.delenv("DELPHI_STUDY", raising=False)
    at = signed_in_app(role).run()
    assert not at.exception
    shown = _block(at)
    v = _demo_verdict(demo_db)
    assert "Run another round?" in [s.value for s in at.subheader]
    assert v.headline in shown and all(r in shown for r in v.reasons)
    assert v.rule in shown and (v.conflict is None or v.conflict in shown)
    # observers get counts; the committee also the open statements' IDs
    assert ("Open statements — " in shown) == (role == "committee")
    panel = read_workbook(load_config().source).tabs["Panel"]
    names = {str(r[1]) for r in panel[1:]}
    assert not EMAIL.search(shown) and not PSEUDONYM.search(shown)
    assert not [n for n in names if n in shown]


def test_the_demo_verdict_reads_sensibly(demo_db):
    """The demo pre-registers 3 rounds, until stable: after round 3 the rule says stop."""
    v = _demo_verdict(demo_db)
    assert v.decision == "stop" and v.rounds_left == 0
    assert v.n_open == v.n_moving + v.n_stable + v.n_not_assessable
    assert (v.conflict is None) == (v.n_moving == 0)
