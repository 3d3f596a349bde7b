"""Per-group views on the Overview, Statements and Trends pages (issue 14.3), and what observers
may see of them (issue 14.5: a privacy crawl of every new filter with a group under the minimum).

The study is built here: 14 panelists in three stakeholder groups — Patients 6, Clinicians 6,
Researchers 2, under ``privacy.min_group_size = 5`` — rating on a 5-point scale (≥ 75% rate 4–5).
Every expected number is a pandas groupby of ``RATINGS`` written in this file, or a hand count in
a comment.  Observers see the Researchers pooled with the next smallest group (Clinicians, by
name among the two groups of 6) as "Other (groups under 5)".
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from google.protobuf import text_format
from streamlit.testing.v1 import AppTest

from lib import store
from lib.auth import hash_password
from lib.charts.groups import (
    group_answers,
    group_heatmap,
    group_likert_chart,
    group_trajectory_chart,
    with_panel,
)
from lib.charts.results import RoundScale
from lib.config import load_config
from lib.pipeline import refresh
from lib.publication import publish
from lib.sources import RawSource
from lib.ui.groups import concordance_summary, discordant, every_group_marks, group_columns
from tests.helpers import LABELS, ROOT
from tests.study_shapes import Shape, config_toml
from tests.study_shapes import build as build_shape
from tests.study_shapes import refreshed as refreshed_shape
from tests.untrusted import PAYLOADS, markdown_links, markdown_strings

APP = str(ROOT / "app.py")
ATTRIBUTE = "Stakeholder group"
OTHER = "Other (groups under 5)"
SMALL = "Researchers"
NAMES = {  # e-mail -> (name, group); the Panel tab in this order
    "ana@delphi.example": ("Ana Silva", "Patients"),
    "ben@delphi.example": ("Ben Okafor", "Patients"),
    "cara@delphi.example": ("Cara Lindqvist", "Patients"),
    "dev@delphi.example": ("Dev Raman", "Patients"),
    "eva@delphi.example": ("Eva Novak", "Patients"),
    "finn@delphi.example": ("Finn Byrne", "Patients"),
    "gia@delphi.example": ("Gia Moretti", "Clinicians"),
    "hal@delphi.example": ("Hal Kowalski", "Clinicians"),
    "ivy@delphi.example": ("Ivy Tanaka", "Clinicians"),
    "jon@delphi.example": ("Jon Abara", "Clinicians"),
    "kai@delphi.example": ("Kai Fischer", "Clinicians"),
    "lea@delphi.example": ("Lea Dumont", "Clinicians"),
    "max@delphi.example": ("Max Quayle", "Researchers"),
    "noor@delphi.example": ("Noor Haddad", "Researchers"),
}
EMAILS = list(NAMES)
U = "Unable to judge"
# RATINGS[round][statement]: one answer per panelist in EMAILS' order (Patients, Clinicians,
# Researchers); None: did not respond (Noor skips round 2); U: no opinion.
RATINGS: dict[int, dict[str, list[Any]]] = {
    1: {
        "S01": [4, 5, 4, 4, 5, 4] + [4, 4, 5, 4, 4, 5] + [4, 5],  # in, in every group
        "S02": [4, 4, 5, 4, 4, 5] + [4, 5, 4, 4, 4, 4] + [4, 2],  # panel in, Researchers 1 of 2
        "S03": [4, 5, 4, 4, 5, 4] + [2, 1, 2, 2, 1, 2] + [4, 4],  # Patients in, Clinicians out
        "S04": [4, 4, 4, 3, 3, 2] + [4, 4, 3, 3, 2, 2] + [4, 3],  # no consensus anywhere
        "S05": [2, 1, 2, 2, 3, 1] + [1, 2, 2, 1, 2, 2] + [1, 2],  # out in every group
    },
    2: {
        "S03": [4, 4, 5, 4, 4, 4] + [4, 4, 2, 2, 2, 1] + [4, None],
        "S04a": [4, 4, 4, 4, 5, U] + [4, 4, 5, 4, 4, 2] + [4, None],  # revised from S04
    },
}
TEXT = {
    "S01": "Report overall survival",
    "S02": "Report quality of life",
    "S03": "Report treatment burden",
    "S04": "Report time off work",
    "S04a": "Report days of work or study missed",
    "S05": "Report hospital parking costs",
}
DOMAIN = {"S01": "Survival", "S05": "Resources"}
LABEL_OF = {v: k for k, v in LABELS.items()}


# --- the study ----------------------------------------------------------------------------------


def _toml(consensus: str | None) -> str:
    groups = f'[groups]\nattribute = "{ATTRIBUTE}"\nconsensus = "{consensus}"\n'

    return f"""
title = "Core outcomes by stakeholder"
source = "groups.xlsx"
timezone = "UTC"
statements_tab = "Statements"
panel_tab = "Panel"
panel_attributes = ["{ATTRIBUTE}", "Country"]

[rounds]
"Round 1" = 1
"Round 2" = 2

[scale]
min = 1
max = 5
no_opinion = ["{U}"]

[scale.labels]
{chr(10).join(f'"{k}" = {v}' for k, v in LABELS.items())}

[consensus]
preset = "pct75"

{groups if consensus else ""}
[privacy]
min_group_size = 5
"""


def _tabs(rename: dict[str, str] | None = None) -> dict[str, list[list[Any]]]:
    tabs: dict[str, list[list[Any]]] = {}
    for rnd, answers in RATINGS.items():
        rows = [["Timestamp", "Email Address", *(f"{s}. {TEXT[s]}" for s in answers)]]
        for i, email in enumerate(EMAILS):
            said = [a[i] for a in answers.values()]
            if all(a is None for a in said):
                continue
            cells = [a if a == U else LABEL_OF[a] for a in said]
            rows.append([dt.datetime(2026, 3 * rnd, 1, 9) + dt.timedelta(hours=i), email, *cells])
        tabs[f"Round {rnd}"] = rows
    tabs["Statements"] = [["statement_id", "round", "domain", "text", "revised_from"]] + [
        [s, rnd, DOMAIN.get(s, "Burden"), TEXT[s], "S04" if s == "S04a" else ""]
        for rnd, answers in RATINGS.items()
        for s in answers
    ]
    tabs["Panel"] = [["Email Address", "Name", ATTRIBUTE, "Country"]] + [
        [e, name, (rename or {}).get(group, group), "Italy" if i % 2 else "Peru"]
        for i, (e, (name, group)) in enumerate(NAMES.items())
    ]
    return tabs


def build(
    folder: Path, consensus: str | None = "panel", rename: dict[str, str] | None = None
) -> dict[str, Any]:
    """The study file and its database (refreshed, published with both rounds closed);
    ``consensus`` None: no ``[groups]`` table; ``rename``: other labels for the groups."""
    study = folder / "study.toml"
    study.write_text(_toml(consensus), encoding="utf-8")
    cfg = load_config(study)
    db = folder / "study.duckdb"
    t = _tabs(rename)
    result = refresh(cfg, db, raw=RawSource(tabs=t, source=cfg.source, title="G", all_tabs=[*t]))
    publish(db, result.snapshot_id, close_rounds=[1, 2])
    with store.connect(db, read_only=True) as con:
        pseudonyms = [p for (p,) in con.execute("SELECT panelist FROM identity_map").fetchall()]
        ratings = store.ratings_for(con, result.snapshot_id)
        attributes = store.panel_attributes(con, result.snapshot_id)
    return {
        "study": study,
        "db": db,
        "cfg": cfg,
        "pseudonyms": set(pseudonyms),
        "ratings": ratings,
        "attributes": attributes,
    }


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return build(tmp_path_factory.mktemp("groups"))


# --- expected numbers: a pandas groupby of RATINGS -----------------------------------------------


def expected(pooled: bool = False) -> pd.DataFrame:
    """n, n_agree, % agree, % disagree and status per (round, statement, group), plus the whole
    panel as group "Whole panel"; ``pooled``: Clinicians and Researchers as OTHER."""
    rows = [
        {"round": rnd, "statement_id": sid, "email": e, "answer": a[i]}
        for rnd, answers in RATINGS.items()
        for sid, a in answers.items()
        for i, e in enumerate(EMAILS)
    ]
    long = pd.DataFrame(rows)
    long = long[long["answer"].map(lambda a: isinstance(a, int))]
    long["score"] = long["answer"].astype(int)
    long["group"] = long["email"].map(lambda e: NAMES[e][1])
    if pooled:
        long["group"] = long["group"].replace({"Clinicians": OTHER, SMALL: OTHER})
    both = pd.concat([long, long.assign(group="Whole panel")])
    out = (
        both.assign(agree=both["score"] >= 4, disagree=both["score"] <= 2)
        .groupby(["round", "statement_id", "group"])
        .agg(n=("score", "size"), n_agree=("agree", "sum"), n_disagree=("disagree", "sum"))
        .reset_index()
    )
    out["pct_agree"] = 100 * out["n_agree"] / out["n"]
    out["pct_disagree"] = 100 * out["n_disagree"] / out["n"]
    out["status"] = "no_consensus"
    out.loc[out["pct_disagree"] >= 75, "status"] = "consensus_out"
    out.loc[out["pct_agree"] >= 75, "status"] = "consensus_in"
    return out


def _cell(exp: pd.DataFrame, rnd: int, sid: str, group: str) -> pd.Series:
    hit = exp[(exp["round"] == rnd) & (exp["statement_id"] == sid) & (exp["group"] == group)]
    assert len(hit) == 1, (rnd, sid, group)
    return hit.iloc[0]


# --- lib level: the per-group answers and the figures ---------------------------------------------


def test_group_answers_count_each_groups_valid_ratings_as_a_groupby_does(study):
    answers = group_answers(study["ratings"], study["attributes"], ATTRIBUTE)
    valid = answers[~answers["answer"].isin(["no_opinion", "missing"])]
    got = valid.groupby(["round", "statement_id", "group"])["count"].sum()
    exp = expected().set_index(["round", "statement_id", "group"])["n"]
    assert got.to_dict() == exp.drop("Whole panel", level="group").to_dict()
    # Finn's "Unable to judge" on S04a is a no-opinion answer of the Patients
    mine = answers[(answers["statement_id"] == "S04a") & (answers["group"] == "Patients")]
    assert mine.set_index("answer")["count"].to_dict() == {"4": 4, "5": 1, "no_opinion": 1}


def test_group_answers_pool_the_small_group_for_observers_as_the_metrics_do(study):
    answers = group_answers(study["ratings"], study["attributes"], ATTRIBUTE, 5)
    assert set(answers["group"]) == {"Patients", OTHER}
    valid = answers[~answers["answer"].isin(["no_opinion", "missing"])]
    got = valid.groupby(["round", "statement_id", "group"])["count"].sum()
    exp = expected(pooled=True).set_index(["round", "statement_id", "group"])["n"]
    assert got.to_dict() == exp.drop("Whole panel", level="group").to_dict()


def test_group_likert_chart_draws_a_bar_per_group_with_its_n_and_share(study):
    answers = group_answers(study["ratings"], study["attributes"], ATTRIBUTE, None, ["S03"])
    one = with_panel(answers[answers["round"] == 1])
    fig = group_likert_chart(one[["group", "answer", "count"]], {v: k for k, v in LABELS.items()})
    rows = list(fig.layout.yaxis.categoryarray)
    assert rows == ["Whole panel (n=14)", "Clinicians (n=6)", "Patients (n=6)", "Researchers (n=2)"]
    # Clinicians on S03, round 1: 1, 2, 2, 2, 1, 2 -> "Disagree" is 4 of 6
    bar = next(t for t in fig.data if t.name == "Disagree")
    at = dict(zip(bar.y, bar.x, strict=True))
    assert at["Clinicians (n=6)"] == pytest.approx(-100 * 4 / 6)
    # the whole panel's "Agree" share: 4 of 14 rate exactly 4 … counted from RATINGS
    agree = sum(a == 4 for a in RATINGS[1]["S03"])
    bar = next(t for t in fig.data if t.name == "Agree")
    assert dict(zip(bar.y, bar.x, strict=True))["Whole panel (n=14)"] == pytest.approx(
        100 * agree / 14
    )


def test_group_likert_chart_escapes_a_group_label_and_keeps_the_scale():
    answers = pd.DataFrame(
        {"group": ["<b>x</b>", "<b>x</b>"], "answer": ["1", "2"], "count": [1, 3]}
    )
    fig = group_likert_chart(answers, {1: "No", 2: "Yes"}, scale=RoundScale({1: "No", 2: "Yes"}))
    assert list(fig.layout.yaxis.categoryarray) == ["&lt;b&gt;x&lt;/b&gt; (n=4)"]
    assert tuple(fig.layout.xaxis.range) == (-100, 100)


def test_group_heatmap_colours_each_cell_by_the_groups_agreement(study):
    exp = expected()
    cells = exp[exp["round"] == 1].assign(text="t")
    groups = ["Whole panel", "Patients", "Clinicians", SMALL]
    fig = group_heatmap(cells, groups)
    z = fig.data[0].z
    sids = list(dict.fromkeys(cells["statement_id"]))
    for i, sid in enumerate(sids):
        for j, g in enumerate(groups):
            assert z[i][j] == pytest.approx(_cell(exp, 1, sid, g)["pct_agree"])
    ins = next(t for t in fig.data if (t.name or "").startswith("Consensus in"))
    # consensus in within a group, round 1: S01 ×4, S02 ×3 (not Researchers), S03 Patients and
    # Researchers -> 9 markers
    assert len(ins.x) == 9


def test_group_trajectory_chart_draws_one_line_per_group_across_the_revision(study):
    exp = expected()
    rows = exp[exp["statement_id"].isin(["S04", "S04a"])].sort_values("round")
    fig = group_trajectory_chart(rows, 75.0)
    lines = {t.name: list(t.y) for t in fig.data if t.x and t.x[0] is not None}
    # Patients: S04 3 of 6 agree (50%), S04a 5 of 5 valid (100%)
    assert lines["Patients"] == [pytest.approx(50.0), pytest.approx(100.0)]
    assert set(lines) == {"Whole panel", "Patients", "Clinicians", SMALL}


def test_every_group_marks_and_group_columns_use_the_verdicts_given():
    verdicts = pd.DataFrame(
        {"round": 1, "statement_id": ["S1", "S2"], "n_groups": [3, 3], "every_group_in": [1, 0]}
    )
    assert every_group_marks(verdicts)["every_group"].tolist() == ["✓", "✗"]
    table = pd.DataFrame({"round": [1, 1], "statement_id": ["S1", "S2"]})
    by_group = pd.DataFrame(
        {"round": 1, "statement_id": ["S1"], "group": "A", "n": 5, "pct_agree": 80.0}
    ).assign(status="consensus_in")
    out = group_columns(table, by_group, "A")
    assert out["group_status"].tolist()[0] == "● Consensus in" and pd.isna(out["group_n"][1])


def test_concordance_summary_and_discordant_statements_by_hand():
    chosen = pd.DataFrame(
        {
            "statement_id": ["S1", "S2", "S3"],
            "round": 1,
            "text": "t",
            "concordance": ["discordant", "consensus in every group", "discordant"],
            "gap": [40.0, 0.0, 70.0],
            "lowest_group": "A",
            "highest_group": "B",
            "pct_agree_panel": 50.0,
            "status_panel": "no_consensus",
        }
    )
    summary = concordance_summary(chosen).set_index("concordance")
    assert summary.loc["Discordant", "statements"] == 2
    assert summary.loc["Discordant", "gap_mean"] == 55.0  # (40 + 70) / 2
    assert summary.loc["Panel only", "statements"] == 0
    assert discordant(chosen)["statement_id"].tolist() == ["S3", "S1"]  # largest gap first


# --- the pages ---------------------------------------------------------------------------------


def _app(study, monkeypatch, role: str | None) -> AppTest:
    monkeypatch.setenv("DELPHI_DB", str(study["db"]))
    monkeypatch.setenv("DELPHI_STUDY", str(study["study"]))
    at = AppTest.from_file(APP, default_timeout=90)
    at.secrets["access"] = {
        "coordinator_password_hash": hash_password("boss", iterations=1000),
        "committee_password_hash": hash_password("team", iterations=1000),
    }
    if role:
        at.session_state["role"] = role
    return at.run()


def _table(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def _chart(at: AppTest, title_part: str) -> dict:
    return next(c for c in _charts(at) if title_part in _title(c))


def _title(chart: dict) -> str:
    return chart["layout"].get("title", {}).get("text", "")


def test_overview_shows_the_picked_groups_numbers_next_to_the_panels(study, monkeypatch):
    at = _app(study, monkeypatch, "committee")
    assert at.selectbox(key="ov_group_by").value == ATTRIBUTE
    assert at.selectbox(key="ov_group").options == [
        "Whole panel",
        "Clinicians",
        "Patients",
        SMALL,
    ]
    exp = expected()
    for group in ("Clinicians", SMALL):
        at.selectbox(key="ov_group").select(group).run()
        table = _table(at, "group_n")
        # each statement's final version: S01, S02, S05; S03, S04a (S04 was revised to S04a)
        assert len(table) == 5
        for row in table.itertuples():
            want = _cell(exp, row.round, row.statement_id, group)
            assert row.group_n == want["n"]
            assert row.group_pct_agree == pytest.approx(want["pct_agree"])
            panel = _cell(exp, row.round, row.statement_id, "Whole panel")
            assert row.n == panel["n"] and row.pct_agree == pytest.approx(panel["pct_agree"])
    assert any(f"“{SMALL}” ({ATTRIBUTE})" in c.value for c in at.caption)


def test_overview_consensus_in_every_group_column_for_the_committee(study, monkeypatch):
    at = _app(study, monkeypatch, "committee")
    marks = _table(at, "every_group").set_index("statement_id")["every_group"]
    # S01 in every group; S02 not among Researchers (1 of 2); S03 in round 2 not among
    # Clinicians; S04a in every group (S04, revised to it, is not a final version); S05 out
    # everywhere (not in)
    assert marks.to_dict() == {"S01": "✓", "S02": "✗", "S03": "✗", "S04a": "✓", "S05": "✗"}


def test_observers_column_tells_nothing_of_the_small_group(study, monkeypatch):
    at = _app(study, monkeypatch, None)
    assert at.selectbox(key="ov_group").options == ["Whole panel", "Patients", OTHER]
    # S02: Patients 6 of 6 and the pool (Clinicians + Researchers) 7 of 8 agree: ✓ over the
    # groups observers see, where the true groups say ✗ (one of the two Researchers disagreed)
    marks = _table(at, "every_group").set_index("statement_id")["every_group"]
    assert marks["S02"] == "✓" and marks["S01"] == "✓"
    at.selectbox(key="ov_group").select(OTHER).run()
    table = _table(at, "group_n").set_index("statement_id")
    pooled = expected(pooled=True)
    assert table.loc["S02", "group_n"] == _cell(pooled, 1, "S02", OTHER)["n"] == 8
    assert table.loc["S03", "group_pct_agree"] == pytest.approx(
        _cell(pooled, 2, "S03", OTHER)["pct_agree"]
    )


def test_rule_caption_states_the_study_level_choice(study, monkeypatch):
    at = _app(study, monkeypatch, None)
    assert any("Consensus is judged in the whole panel" in c.value for c in at.caption)


def test_statements_page_shows_the_ratings_per_group(study, monkeypatch):
    at = _app(study, monkeypatch, "committee")
    at.switch_page("pages/statements.py").run()
    box = at.selectbox(key="st_statement")
    box.select(next(o for o in box.options if o.startswith("S03 — "))).run()
    assert not at.exception
    chart = _chart(at, "per group (Stakeholder group)")
    rows = chart["layout"]["yaxis"]["categoryarray"]
    # round 2 (the latest): Noor did not respond, so the Researchers are 1
    assert rows == ["Whole panel (n=13)", "Clinicians (n=6)", "Patients (n=6)", f"{SMALL} (n=1)"]
    at.button_group(key="st_groups_round").set_value("Round 1").run()
    rows = _chart(at, "per group (Stakeholder group)")["layout"]["yaxis"]["categoryarray"]
    assert rows[-1] == f"{SMALL} (n=2)"


def test_trends_groups_tab_for_the_committee(study, monkeypatch):
    at = _app(study, monkeypatch, "committee")
    at.switch_page("pages/trends.py").run()
    assert not at.exception
    heat = _chart(at, "% agree per statement")
    assert [t.split("<br>")[0] for t in heat["layout"]["xaxis"]["ticktext"]][-1] == SMALL
    # each statement's final version: S03 is discordant in round 2 (Patients 100%, Clinicians
    # 2 of 6); the gap is the largest minus the smallest group's % agree
    split = _table(at, "lowest_group")
    assert split["statement_id"].tolist() == ["S03"]
    exp = expected()
    pcts = [_cell(exp, 2, "S03", g)["pct_agree"] for g in ("Patients", "Clinicians", SMALL)]
    assert split["gap"].iloc[0] == pytest.approx(max(pcts) - min(pcts))
    assert split["lowest_group"].iloc[0] == "Clinicians"
    counts = _table(at, "gap_max").set_index("concordance")["statements"]
    # S01, S04a and S05 (out in every group) · S02 panel only · S03 discordant; S04 (no
    # consensus) was revised to S04a, so it is not a final version
    assert counts.to_dict() == {
        "Consensus in every group": 3,
        "Panel only": 1,
        "Discordant": 1,
        "Some groups": 0,
        "No consensus": 0,
    }
    box = at.selectbox(key="tr_groups_statement")
    box.select(next(o for o in box.options if o.startswith("S04a — "))).run()
    lines = _chart(at, "Agreement per group: S04a")
    patients = next(t for t in lines["data"] if t.get("name") == "Patients")
    assert patients["y"] == [pytest.approx(50.0), pytest.approx(100.0)]  # S04, then S04a


# --- privacy: every page and every option of every filter, as an observer -----------------------


def rendered(at: AppTest) -> str:
    """Everything the page shows: element protos (chart specs included) and table values."""
    parts: list[str] = []

    def walk(node) -> None:
        if type(node).__name__ == "Dataframe":
            parts.append(node.value.to_csv())
        elif hasattr(node, "proto") and type(node).__name__ not in ("Block", "SpecialBlock"):
            parts.append(text_format.MessageToString(node.proto, as_utf8=True))
        for child in (getattr(node, "children", None) or {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def _observer_pages() -> list[str]:
    text = (ROOT / "app.py").read_text(encoding="utf-8")
    rows = re.findall(r'\("(pages/\w+\.py)",[^)]*"observer"', text)
    assert {"pages/overview.py", "pages/statements.py", "pages/trends.py"} <= set(rows)
    return rows


def _secrets(study) -> list[str]:
    return [SMALL, *study["pseudonyms"], *EMAILS, *(n for n, _ in NAMES.values())]


def _leaks(text: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if re.search(rf"(?<!\w){re.escape(s)}(?!\w)", text)]


def _filters(at: AppTest):
    for kind in ("selectbox", "multiselect", "radio", "button_group"):
        for w in at.get(kind):
            if w.key and not w.key.startswith("$$") and w.key != "view_snapshot":
                yield kind, w.key


def _crawl(at: AppTest, page: str, check) -> set[str]:
    """Every option of every filter on ``page``, one filter at a time (the others at their
    first choice), and each filter that appears only after another's choice (the round of a
    statement rated twice) as soon as it appears; ``check(where)`` after each run.  Returns
    the filter keys crawled."""
    at.switch_page(page).run()
    check(page)
    done: set[str] = set()

    def crawl(kind: str, key: str) -> None:
        done.add(key)
        options = list(next(w for w in at.get(kind) if w.key == key).options)
        for option in options:
            w = next((w for w in at.get(kind) if w.key == key), None)
            if w is None:  # a choice of a filter crawled inside this one hid it
                break
            w.set_value([option] if kind in ("multiselect", "button_group") else option)
            at.run()
            check(f"{page} {key}={option!r}")
            for new in [f for f in _filters(at) if f[1] not in done]:
                crawl(*new)
        w = next((w for w in at.get(kind) if w.key == key), None)
        if w is not None:  # back to the first choice, so the next filter has all its options
            w.set_value(options[0] if kind in ("selectbox", "radio") else []).run()

    while todo := [f for f in _filters(at) if f[1] not in done]:
        crawl(*todo[0])
    return done


def test_observers_never_see_the_small_group_or_a_pseudonym_under_any_filter(study, monkeypatch):
    at = _app(study, monkeypatch, None)
    secrets = _secrets(study)
    other_on: set[str] = set()

    def check(where: str) -> None:
        assert not at.exception, f"{where}: {at.exception}"
        text = rendered(at)
        assert not _leaks(text, secrets), f"{where}: {_leaks(text, secrets)} shown"
        other_on.add(where.split()[0]) if OTHER in text else None

    crawled = set()
    for page in _observer_pages():
        crawled |= _crawl(at, page, check)
    # the new filters were all crawled, and the pooled group was shown on each page
    assert {"ov_group", "st_groups_round", "tr_groups_round", "tr_groups_statement"} <= crawled
    assert {"pages/overview.py", "pages/statements.py", "pages/trends.py"} <= other_on


def test_the_committee_sees_the_small_group_on_every_page(study, monkeypatch):
    at = _app(study, monkeypatch, "committee")
    at.selectbox(key="ov_group").select(SMALL).run()
    assert SMALL in rendered(at)
    for page in ("pages/statements.py", "pages/trends.py"):
        at.switch_page(page).run()
        assert not at.exception and SMALL in rendered(at), page


def test_observers_get_no_group_views_without_a_groups_table(tmp_path, monkeypatch):
    study = build(tmp_path, consensus=None)
    at = _app(study, monkeypatch, None)
    assert not at.exception
    assert not [w for w in at.selectbox if w.key in ("ov_group", "ov_group_by")]
    at.switch_page("pages/trends.py").run()
    assert any("names no stakeholder groups" in c.value for c in at.caption)


def test_hostile_group_labels_are_shown_literally(tmp_path, monkeypatch):
    link, tag = PAYLOADS[1], PAYLOADS[2]  # "[click](http://…)" and '<img src="…">'
    study = build(tmp_path, rename={"Patients": link, "Clinicians": tag})
    at = _app(study, monkeypatch, "committee")
    for page in ("pages/overview.py", "pages/statements.py", "pages/trends.py"):
        at.switch_page(page).run()
        if page == "pages/overview.py":
            at.selectbox(key="ov_group").select(link).run()
        if page == "pages/statements.py":
            box = at.selectbox(key="st_statement")
            box.select(next(o for o in box.options if o.startswith("S03 — "))).run()
        assert not at.exception, page
        for kind, text in markdown_strings(at):
            assert not markdown_links(text), f"{page} {kind}: {markdown_links(text)}"
        shown = "".join(text for _, text in markdown_strings(at))
        assert page != "pages/overview.py" or "click" in shown  # the group's caption
        specs = json.dumps(_charts(at), ensure_ascii=False)  # "<" as itself, not as \u003c
        assert "<img" not in specs, page
        assert page == "pages/overview.py" or "&lt;img" in specs, page  # drawn as text


SHAPES = [  # tests/study_shapes: generated studies, Country as the stakeholder attribute
    (Shape(panel="all", panel_size=7, rounds=("full", "full"), seed=2), "panel"),
    (Shape(points=2, preset="comet_70_15", rounds=("full", "full", "full"), seed=6), "every_group"),
    (Shape(points=21, preset="median_iqr", rounds=("full",), seed=5), "majority"),
    (Shape(panel_size=1, rounds=("full", "full", "header"), seed=8), "panel"),
    (Shape(panel="none", rounds=("full", "full"), seed=3), "every_group"),
]


@pytest.mark.parametrize(("shape", "consensus"), SHAPES)
def test_group_views_render_for_generated_shapes(shape, consensus, tmp_path, monkeypatch):
    config, _ = build_shape(shape)
    config["groups"] = {"attribute": "Country", "consensus": consensus}
    study, db = tmp_path / "study.toml", tmp_path / "study.duckdb"
    study.write_text(config_toml(config), encoding="utf-8")
    _, result = refreshed_shape(shape, db)
    publish(db, result.snapshot_id, close_rounds=list(config["rounds"].values()))
    for role in (None, "committee"):
        at = _app({"db": db, "study": study}, monkeypatch, role)
        for page in ("pages/overview.py", "pages/statements.py", "pages/trends.py"):
            at.switch_page(page).run()
            by = next((w for w in at.selectbox if w.key and w.key.endswith("group_by")), None)
            for option in by.options if by else [None]:
                if option is not None:
                    next(w for w in at.selectbox if w.key == by.key).select(option).run()
                where = f"{role} {page} {option}"
                assert not at.exception and not at.error, f"{where}: {at.exception or at.error}"


# --- the second bundled demo ---------------------------------------------------------------------

COS = ROOT / "data" / "demo-cos" / "study.toml"


@pytest.mark.skipif(not COS.exists(), reason="no second demo (data/demo-cos) in this checkout")
@pytest.mark.parametrize("role", [None, "committee"])
def test_the_cos_demo_renders_its_group_views(tmp_path, monkeypatch, role):
    cfg = load_config(COS)
    db = tmp_path / "cos.duckdb"
    result = refresh(cfg, db)
    publish(db, result.snapshot_id, close_rounds=list(cfg.rounds.values()))
    at = _app({"db": db, "study": COS}, monkeypatch, role)
    for page in ("pages/overview.py", "pages/statements.py", "pages/trends.py"):
        at.switch_page(page).run()
        assert not at.exception and not at.error, f"{page}: {at.exception or at.error}"
        titles = [_title(c) for c in _charts(at)]
        assert page != "pages/statements.py" or any(
            "per group (Stakeholder group)" in t for t in titles
        )
