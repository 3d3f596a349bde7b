"""lib.reports with stakeholder groups ([groups]): the per-group section of the HTML report and
its workbook sheet, the study-level choice and concordance in the consensus definition, the
methods text, and each panelist's own group in their feedback.

The study (``tests/groups_study``) is refreshed into a temporary DuckDB file.  Every expected
number is a pandas groupby written here over the answer lists (``groups_study.answers``), with
COMET 70/15 applied by hand below; nothing is taken from ``lib.analysis``.
"""

from __future__ import annotations

import io
import re

import numpy as np
import openpyxl
import pandas as pd
import pytest

from lib import store
from lib.analysis.stakeholders import CONCORDANCE_RULE
from lib.reports.data import build_feedback_data, build_report_data
from lib.reports.feedback import feedback_html
from lib.reports.html import html_report
from lib.reports.inputs import StoreFrames, feedback_inputs, report_inputs
from lib.reports.xlsx import xlsx_report
from tests.groups_study import answers, build, groups_config
from tests.helpers import Page

OTHER = "Other (groups under 5)"
# Pooling by hand (privacy.min_group_size = 5): Researchers (2 respondents) are under 5, and
# alone they would still be 2, so the next smallest group (Clinicians, 7) joins them.
POOLED = {"Patients": "Patients", "Clinicians": OTHER, "Researchers": OTHER}
GROUP_HEAD = ["ID", "Statement", "All", "Clinicians", "Patients", "Researchers"]


def comet(agree: float, disagree: float) -> str:
    """COMET 70/15 (DELPHI.md): in = ≥ 70% rate 7–9 and < 15% rate 1–3; out = the mirror."""
    if agree >= 70 and disagree < 15:
        return "consensus_in"
    if disagree >= 70 and agree < 15:
        return "consensus_out"
    return "no_consensus"


def expected(groups: dict[str, str] | None = None) -> pd.DataFrame:
    """Per (round, statement, group) and for the whole panel (All): n, votes 7–9, % agree,
    % rating 1–3, median and quartiles (linear interpolation, R type 7) and COMET status."""
    a = answers()
    a["group"] = a["group"].map(groups) if groups else a["group"]
    a["agree"], a["disagree"] = a["rating"] >= 7, a["rating"] <= 3
    parts = [a.assign(group="All"), a]
    rows = []
    for (rnd, sid, group), part in pd.concat(parts).groupby(["round", "statement_id", "group"]):
        valid = part.dropna(subset=["rating"])
        n = len(valid)
        agree, disagree = 100 * valid["agree"].sum() / n, 100 * valid["disagree"].sum() / n
        q1, median, q3 = np.percentile(valid["rating"], [25, 50, 75])
        rows.append(
            {
                "round": rnd,
                "statement_id": sid,
                "group": group,
                "n_panelists": part["identity"].nunique(),
                "n": n,
                "n_agree": int(valid["agree"].sum()),
                "pct_agree": agree,
                "median": median,
                "q1": q1,
                "q3": q3,
                "status": comet(agree, disagree),
            }
        )
    return pd.DataFrame(rows)


def study_verdict(frame: pd.DataFrame) -> dict[tuple[int, str], str]:
    """[groups] consensus = "every_group": in (out) only when every group is in (out)."""
    groups = frame[frame["group"] != "All"]
    out = {}
    for key, part in groups.groupby(["round", "statement_id"]):
        statuses = set(part["status"])
        out[key] = statuses.pop() if len(statuses) == 1 else "no_consensus"
    return out


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    d = build(tmp_path_factory.mktemp("groups"))
    with store.connect(d["db"], read_only=True) as con:
        frames = StoreFrames(con, store.current_snapshot_id(con))
        d["committee"] = build_report_data(report_inputs(frames, all_groups=True), d["cfg"])
        d["observer"] = build_report_data(report_inputs(frames, include_comments=False), d["cfg"])
        d["feedback"] = {
            r: build_feedback_data(feedback_inputs(frames), d["cfg"], r) for r in (1, 2)
        }
    return d


@pytest.fixture(scope="module")
def committee_html(study) -> str:
    return html_report(study["committee"])


@pytest.fixture(scope="module")
def observer_html(study) -> str:
    return html_report(study["observer"])


def _sheet(data) -> pd.DataFrame:
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_report(data)))["Results per group"]
    head, *rows = list(ws.iter_rows(values_only=True))
    return pd.DataFrame(rows, columns=head)


def _cell(r: pd.Series) -> str:
    """A group's cell as the report's text reads: status key, % (votes/n), median (IQR)."""
    key = {"consensus_in": "In", "consensus_out": "Out", "no_consensus": "None"}[r["status"]]
    share = f"{r['pct_agree']:.0f}% ({r['n_agree']}/{r['n']})"
    return f"{key}{share}{r['median']:g} ({r['q1']:g}–{r['q3']:g})"


def _section(html: str) -> str:
    return html[html.index('<h2 id="groups"') : html.index('<h2 id="stats"')]


# --- the workbook --------------------------------------------------------------------------


def test_group_sheet_matches_a_groupby_of_the_answers(study):
    sheet = _sheet(study["committee"]).set_index(["round", "statement_id", "group"])
    want = expected()
    assert len(sheet) == len(want) == 6 * 4  # 6 round × statement pairs, All + 3 groups
    for r in want.itertuples():
        got = sheet.loc[(r.round, r.statement_id, r.group)]
        assert got["n"] == r.n and got["n_panelists"] == r.n_panelists
        assert got["pct_agree"] == pytest.approx(r.pct_agree)
        assert (got["median"], got["q1"], got["q3"]) == pytest.approx((r.median, r.q1, r.q3))
        assert got["status"] == r.status, (r.round, r.statement_id, r.group)


def test_sheet_states_the_study_verdict_on_every_row_of_a_statement(study):
    sheet = _sheet(study["committee"])
    verdict = study_verdict(expected())
    for (rnd, sid), part in sheet.groupby(["round", "statement_id"]):
        assert set(part["status_study"]) == {verdict[(rnd, sid)]}


def test_every_group_rule_where_the_panel_agrees_but_patients_do_not(study):
    # round 1, S02: 14 of 17 rate 7–9 (82%, none 1–3) but Patients 5 of 8 (62.5%)
    sheet = _sheet(study["committee"]).set_index(["round", "statement_id", "group"])
    panel, patients = sheet.loc[(1, "S02", "All")], sheet.loc[(1, "S02", "Patients")]
    assert panel["pct_agree"] == pytest.approx(100 * 14 / 17) and panel["status"] == "consensus_in"
    assert patients["pct_agree"] == pytest.approx(62.5) and patients["status"] == "no_consensus"
    assert panel["status_study"] == "no_consensus"
    assert panel["concordance"] == "panel only"


def test_methods_sheet_states_the_choice_and_the_concordance_rule(study):
    ws = openpyxl.load_workbook(io.BytesIO(xlsx_report(study["committee"])))["Methods"]
    texts = [r[1] for r in ws.iter_rows(values_only=True)]
    assert CONCORDANCE_RULE in texts
    choice = study["cfg"].groups.describe()  # "consensus requires the rule to hold within …"
    assert choice.startswith("consensus requires the rule to hold within every")
    assert f"C{choice[1:]}." in texts


# --- the HTML report -------------------------------------------------------------------------


def test_round_tables_show_each_groups_numbers(committee_html):
    want = expected().set_index(["round", "statement_id", "group"])
    tables = Page(_section(committee_html)).tables
    # the final versions, then round 1 (17 respondents), then round 2 (16)
    sizes = ["All (17)", "Clinicians (7)", "Patients (8)", "Researchers (2)"]
    assert tables[1][0][:6] == ["ID", "Statement", *sizes]
    groups = ["All", "Clinicians", "Patients", "Researchers"]
    for rnd, t in ((1, tables[1]), (2, tables[2])):
        assert len(t) - 1 == len(want.loc[rnd]) // 4
        for row in t[1:]:
            sid = row[0].removesuffix(f"round {rnd}")
            for group, cell in zip(groups, row[2:6], strict=True):
                assert cell == _cell(want.loc[(rnd, sid, group)]), (rnd, sid, group)


def test_final_table_has_each_statements_last_version(committee_html):
    final = Page(_section(committee_html)).tables[0]
    assert final[0][:6] == GROUP_HEAD
    # S01 accepted and S04 rejected in round 1; S02 accepted and S03 open after round 2
    ids = ["S01round 1", "S02round 2", "S03round 2", "S04round 1"]
    assert sorted(r[0] for r in final[1:]) == ids


def test_across_groups_column_says_how_the_groups_agree(committee_html):
    rows = {r[0]: r for r in Page(_section(committee_html)).tables[1][1:]}
    want = expected()
    r1 = want[(want["round"] == 1) & (want["group"] != "All")]
    gap = r1.groupby("statement_id")["pct_agree"].agg(lambda s: s.max() - s.min())
    assert rows["S01round 1"][6] == "consensus in every group"
    assert rows["S02round 1"][6] == f"panel onlygap {gap['S02']:.0f} points"
    assert rows["S03round 1"][6] == f"discordantgap {gap['S03']:.0f} points"
    # the study's verdict under "every group": None for S02 although the panel is In
    assert rows["S02round 1"][2].startswith("In") and rows["S02round 1"][7] == "None"


def test_consensus_definition_states_the_choice_and_concordance(study, committee_html):
    rule = Page(committee_html[committee_html.index('id="rule"') :]).text
    choice = study["cfg"].groups.describe()
    assert (
        f"C{choice[1:]}: a statement's status holds when the rule holds within every group "
        "that rated the statement. Each group is judged by the same rule, on the same scale"
    ) in rule
    assert CONCORDANCE_RULE.split(". ")[0] in rule
    assert "Clinicians, Patients, Researchers" in rule
    assert "Every group is shown, whatever its size" in rule


def test_sections_and_checklist_name_the_group_results(committee_html):
    page = Page(committee_html)
    assert "Results per stakeholder group" in [e.text[0] for e in page.find("a") if e.text]
    (checklist,) = page.table(["Item", "Section"])
    item = "Consensus within each stakeholder group, and how the groups agree"
    assert [item, "Results per stakeholder group"] in checklist


def test_observer_report_pools_the_small_group(study, observer_html):
    assert "Researchers" not in observer_html and OTHER in observer_html
    sheet = _sheet(study["observer"])
    assert "Researchers" not in set(sheet["group"]) and "Clinicians" not in set(sheet["group"])
    want = expected(POOLED).set_index(["round", "statement_id", "group"])
    for r in sheet.itertuples():
        w = want.loc[(r.round, r.statement_id, r.group)]
        assert (r.n, r.status) == (w["n"], w["status"])
        assert r.pct_agree == pytest.approx(w["pct_agree"])
    assert "this copy is for observers" in Page(observer_html).text.replace("This", "this")


def test_committee_report_shows_every_group(study, committee_html):
    assert set(_sheet(study["committee"])["group"]) == {
        "All",
        "Clinicians",
        "Patients",
        "Researchers",
    }
    assert OTHER not in _section(committee_html)


def test_methods_text_says_consensus_was_assessed_within_each_group(study):
    text = study["committee"].narrative
    assert (
        "Consensus was also assessed within each stakeholder group (Stakeholder group: "
        "Clinicians, Patients and Researchers), by the same rule on the same scale; a statement "
        "reached consensus only when the rule held within every group that rated it."
    ) in text
    # final versions: S01, S02 (round 2), S04 the same in every group; S03 discordant
    assert "Of the 4 final statements, 3 reached the same consensus in every group" in text
    assert "1 was discordant" in text
    assert "Stakeholder group: Patients and Other (groups under 5)" in study["observer"].narrative


# --- feedback ------------------------------------------------------------------------------


def _group_lines(html: str) -> dict[str, str]:
    """Per statement, the text of the panelist's group line."""
    out = {}
    for sid, body in re.findall(r'data-statement="([^"]+)">(.*?)</section>', html, re.S):
        lines = [e for e in Page(body).find("p", "group")]
        if lines:
            out[sid] = "".join(lines[0].text)
    return out


def test_feedback_shows_the_panelists_own_group_beside_the_panel(study):
    fd = study["feedback"][1]
    doc = feedback_html(fd, study["pseudonym"]["patient1@cos.example"])
    want = expected().set_index(["round", "statement_id", "group"])
    lines = _group_lines(doc)
    assert sorted(lines) == ["S01", "S02", "S03", "S04"]
    for sid, line in lines.items():
        w = want.loc[(1, sid, "Patients")]
        assert line.startswith(
            f"Your group (Patients): {w['pct_agree']:.0f}% agree (n = {w['n']}; "
            f"{w['n_agree']} rated 7–9) · median {w['median']:g}"
        )
    assert lines["S02"].startswith("Your group (Patients): 62% agree (n = 8;")
    assert "n = 17 · median 8 · IQR 7–9 · 82% agree (14 of 17 rated 7–9)" in doc  # the panel


def test_feedback_of_a_small_group_shows_the_pooled_group_and_says_so(study):
    fd = study["feedback"][1]
    want = expected(POOLED).set_index(["round", "statement_id", "group"])
    for who in ("researcher1@cos.example", "clinician3@cos.example"):
        lines = _group_lines(feedback_html(fd, study["pseudonym"][who]))
        for sid, line in lines.items():
            w = want.loc[(1, sid, OTHER)]
            assert f"as “{OTHER}”: {w['pct_agree']:.0f}% agree (n = {w['n']};" in line
    researcher = _group_lines(feedback_html(fd, study["pseudonym"]["researcher1@cos.example"]))
    assert researcher["S03"].startswith(
        "Your group (Researchers) had fewer than 5 respondents in this round, so you see it "
        "pooled with other groups"
    )
    # the two researchers' own result (S03: 0% of 2) appears nowhere
    assert not any("(n = 2;" in line for line in researcher.values())


def test_feedback_of_a_panelist_who_skipped_the_round_still_shows_their_group(study):
    fd = study["feedback"][2]  # patient8 did not answer round 2: 7 patients did
    lines = _group_lines(feedback_html(fd, study["pseudonym"]["patient8@cos.example"]))
    assert lines["S02"].startswith("Your group (Patients): 86% agree (n = 7; 6 rated 7–9)")


def test_under_the_panel_choice_the_groups_are_shown_beside_the_panels_status(tmp_path):
    d = build(tmp_path, consensus="panel")
    with store.connect(d["db"], read_only=True) as con:
        frames = report_inputs(StoreFrames(con, 1), all_groups=True)
    data = build_report_data(frames, d["cfg"])
    final = Page(_section(html_report(data))).tables[0]
    assert final[0] == [*GROUP_HEAD, "Across groups"]  # no Study column: it would be All
    assert "a statement's status is the whole panel's" in data.narrative
    # round 1, S02: the panel's 82% is consensus under "panel", whatever the Patients say
    m = data.metrics.set_index(["round", "statement_id"])
    assert m.loc[(1, "S02"), "status"] == "consensus_in"


def test_hostile_group_names_stay_text(tmp_path):
    tag, formula = "<img src=x onerror=alert(1)>", '=HYPERLINK("http://x.example","y")'
    d = build(tmp_path, names={"Patients": tag, "Clinicians": formula})
    with store.connect(d["db"], read_only=True) as con:
        frames = StoreFrames(con, 1)
        data = build_report_data(report_inputs(frames, all_groups=True), d["cfg"])
        fd = build_feedback_data(feedback_inputs(frames), d["cfg"], 1)
    for html in (html_report(data), feedback_html(fd, d["pseudonym"]["patient1@cos.example"])):
        assert tag not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert {"'" + formula, tag} < set(_sheet(data)["group"])  # a formula is inert text


def test_report_follows_the_snapshots_groups_and_says_when_the_study_changed(study):
    now = groups_config(consensus="panel")  # the study file edited after the refresh
    with store.connect(study["db"], read_only=True) as con:
        data = build_report_data(report_inputs(StoreFrames(con, 1), all_groups=True), now)
    assert data.groups.choice.consensus == "every_group"  # what the statuses were computed with
    note = [e for e in Page(html_report(data)).find("p", "note")]
    assert ["".join(n.text) for n in note] == [
        f"DIFFERENT: the study configuration now says: {now.groups.describe()}; refresh to "
        "recompute"
    ]
