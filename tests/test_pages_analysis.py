"""AppTest: Trends, Panel and the analysis parts of Statements, with every filter on them.

AppTest runs app.py (the router) on the first run only; later runs re-execute the page.  Each
role scenario therefore gets its own AppTest (see tests/test_pages.py).
"""

from __future__ import annotations

import re

from streamlit.testing.v1 import AppTest

from lib.analysis import agreement, stability
from lib.auth import hash_password

PSEUDONYM = re.compile(r"\bP\d{2,4}\b")


def _page(at: AppTest, page: str) -> AppTest:
    at.run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _observer(at: AppTest) -> AppTest:
    at.secrets["access"] = {"committee_password_hash": hash_password("c", iterations=1000)}
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for e in [*at.title, *at.markdown, *at.caption, *at.subheader, *at.metric]]
    parts += [df.value.to_csv() for df in at.dataframe]
    return "\n".join(str(p) for p in parts)


def _table(at: AppTest, column: str):
    """The first table on the page with ``column`` (AppTest does not expose dataframe keys)."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


# --- Trends ------------------------------------------------------------------------------------


def test_trends_renders_every_tab(app):
    at = _page(app, "pages/trends.py")
    assert at.title[0].value == "Trends"
    # heatmap, trajectories, IQR, W/alpha, Sankey, rules
    assert _charts(at) == 6
    w = _table(at, "n_panelists")
    assert w["round"].tolist() == [1, 2, 3] and w["n_panelists"].tolist() == [11, 11, 11]


def test_trends_domain_filter_draws_that_domains_trajectories(app):
    at = _page(app, "pages/trends.py")
    for domain in at.selectbox(key="tr_domain").options:
        at.selectbox(key="tr_domain").select(domain).run()
        assert not at.exception, domain
    at.selectbox(key="tr_domain").select("Monitoring").run()  # only S22 → S22a repeats
    assert not at.exception and _charts(at) == 6


def test_trends_statement_picker_and_repeat_toggle(app):
    at = _page(app, "pages/trends.py")
    at.segmented_control(key="tr_mode").set_value("Statements").run()
    picker = at.multiselect(key="tr_statements")
    assert "S07 → S07a → S07b" in picker.value
    picker.set_value(["S01"]).run()  # rated once: hidden while the toggle is on
    assert any("No statement matches" in i.value for i in at.info)
    at.toggle(key="tr_repeated").set_value(False).run()
    assert not at.exception and not at.info and _charts(at) == 6


def test_trends_kendall_by_domain_toggle(app):
    at = _page(app, "pages/trends.py")
    at.toggle(key="tr_by_domain").set_value(True).run()
    table = _table(at, "n_panelists")
    assert not at.exception and "domain" in table and len(table) == 18
    assert _charts(at) == 7
    undefined = table[table["w"].isna()]
    assert (undefined["note"] != "").all()  # never a blank without a reason


def test_trends_rule_scope_and_disagreement_filter(app):
    at = _page(app, "pages/trends.py")
    scope = at.segmented_control(key="tr_scope")
    for option in scope.options:
        at.segmented_control(key="tr_scope").set_value(option).run()
        assert not at.exception, option
    shown = _table(at, "rules_disagree")
    at.toggle(key="tr_disagree").set_value(False).run()
    everything = _table(at, "rules_disagree")
    assert 0 < len(shown) < len(everything) == 72
    assert any("RAND/UCLA" in c.value and "not applicable" in c.value for c in at.caption)


def test_trends_statistics_are_computed_once_per_snapshot(app, monkeypatch):
    calls = []
    original = agreement.kendall_w
    monkeypatch.setattr(agreement, "kendall_w", lambda *a: calls.append(a) or original(*a))
    at = _page(app, "pages/trends.py")
    at.toggle(key="tr_disagree").set_value(False).run()
    at.toggle(key="tr_disagree").set_value(True).run()
    assert not at.exception and len(calls) == 1


# --- Panel -------------------------------------------------------------------------------------


def test_panel_shows_response_and_attrition(app):
    at = _page(app, "pages/panel.py")
    assert [m.value for m in at.metric] == ["15", "15 (100%)", "14 (93%)", "1"]
    part = _table(at, "attrition_pct")
    assert part["lost"].tolist() == ["—", "0", "1"]  # as text: round 1 has no round before
    # one panelist dropped out: their ratings are one person's, not shown even here
    assert not any("mean_rating" in d.value for d in at.dataframe)
    assert any("Dropped out: 1; stayed: 14" in c.value for c in at.caption)


def test_panel_every_attribute(app):
    at = _page(app, "pages/panel.py")
    for attr in at.selectbox(key="pa_attribute").options:
        at.selectbox(key="pa_attribute").select(attr).run()
        assert not at.exception, attr
        table = _table(at, "Group")
        assert "Round 3" in table and not table.isna().any().any()
    at.selectbox(key="pa_attribute").select("Years in practice").run()
    years = _table(at, "Group")
    # numbers grouped in ranges; 0–9 (4) and 20–29 (4) are under 5: pooled
    assert years["Group"].tolist() == ["10–19", "Other (groups under 5)"]


def test_panel_pools_small_groups_for_observers(app):
    at = _page(_observer(app), "pages/panel.py")
    at.selectbox(key="pa_attribute").select("Isotretinoin prescribing volume").run()
    table = _table(at, "Group")
    # demo Panel tab: 10–50 patients/year 7, >50 5, <10 3; <10 alone would be 15 − 12
    assert table["Group"].tolist() == ["10–50 patients/year", "Other (groups under 5)"]
    assert table["Round 1"].tolist() == ["7 of 7", "8 of 8"]
    assert "<10 patients" not in _texts(at) and ">50 patients" not in _texts(at)
    assert not any("mean_rating" in d.value for d in at.dataframe)  # no attrition table
    assert any("Dropped out: 1" in c.value for c in at.caption)
    assert not PSEUDONYM.search(_texts(at))


# --- Statement detail --------------------------------------------------------------------------


def _pick(at: AppTest, statement_id: str) -> None:
    box = at.selectbox(key="st_statement")
    box.select(next(o for o in box.options if o.startswith(f"{statement_id} — "))).run()
    assert not at.exception, at.exception


def test_statement_wording_history_highlights_changes(app):
    at = _page(app, "pages/statements.py")
    _pick(at, "S07b")
    diffs = [m.value for m in at.markdown if ":red[~~" in m.value]
    assert len(diffs) == 2 and ":blue[**" in diffs[0]
    assert any("5 words removed, 9 words added" in c.value for c in at.caption)


def test_statement_detail_shows_solidity_stability_and_rules(app):
    at = _page(app, "pages/statements.py")
    _pick(at, "S07b")
    solid = _table(at, "votes_to_flip")
    assert solid["statement_id"].tolist() == ["S07", "S07a", "S07b"]
    assert solid["cutoff"].tolist() == [12, 12, 10]  # 75% of 15 and of 13 valid ratings
    stab = _table(at, "verdict")
    assert stab["prev_statement_id"].tolist() == ["S07", "S07a"]
    assert set(stab["verdict"]) <= {"stable", "still moving", "not assessable"}
    rules = _table(at, "n_rules_consensus")
    assert "study_rule" in rules and "comet_70_15" in rules and len(rules) == 3
    assert any(stability.STABILITY_RULE[:40] in c.value for c in at.caption)


def test_statement_rated_once_has_nothing_to_compare(app):
    at = _page(app, "pages/statements.py")
    _pick(at, "S01")
    assert any("Rated in one round only" in c.value for c in at.caption)
    assert _table(at, "votes_to_flip")["votes_to_flip"].tolist() == [4]


def test_statement_detail_for_observers_has_no_pseudonyms(app):
    at = _page(_observer(app), "pages/statements.py")
    _pick(at, "S22a")
    assert not PSEUDONYM.search(_texts(at))
