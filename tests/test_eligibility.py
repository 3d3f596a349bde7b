"""Issue 16.1: the panel against its pre-registered eligibility criteria.

A hand-made panel checks each criterion type, missing and unreadable values and the
configuration error; counts, the sentence and the sensitivity view are compared with hand counts;
pages are checked for what each role sees (observers: counts, never who; the coordinator: who).
"""

from __future__ import annotations

import ast
import re

import duckdb
import openpyxl
import pandas as pd
import pytest

from lib import store
from lib.analysis import eligibility
from lib.config import Criterion
from lib.ingest import IngestError, ingest
from lib.ingest.eligibility import meets
from lib.pipeline import RefreshError, refresh
from lib.sources import RawSource
from tests.helpers import LABELS, ROOT, signed_in_app, tiny_config, tiny_tabs

YEARS = {"attribute": "Years in practice", "min": 5, "wording": "At least 5 years in practice"}
COI = {
    "attribute": "COI disclosed",
    "equals": ["Yes"],
    "wording": "Conflicts of interest disclosed",
}
AGE = {"attribute": "Age", "min": 30, "max": 65, "wording": "Aged 30 to 65"}
PSEUDONYM = re.compile(r"\bP\d{2,4}\b")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
DEMO_FAILS = ("n.elsayed@cairoderm.example", "Nour El-Sayed")  # COI disclosed left blank


def _raw(tabs: dict) -> RawSource:
    return RawSource(tabs=tabs, source="tiny", title="Tiny", all_tabs=list(tabs))


def _tabs(header_case: str = "COI disclosed") -> dict:
    """The tiny study, its Panel tab with three criterion columns none of which is listed in
    panel_attributes (the COI header written as ``header_case``)."""
    tabs = tiny_tabs()
    tabs["Panel"] = [
        ["Email Address", "Name", "Country", "Years in practice", header_case, "Age"],
        ["a@x.example", "Ann Alpha", "Italy", "12 years", "Yes", 40],
        ["b@x.example", "Bob Beta", "Spain", "4", " yes ", "70"],
        ["c@x.example", "Cat Gamma", "Italy", "", "No", None],
        ["d@x.example", "Dan Delta", "Spain", "many", "", "55"],
    ]
    return tabs


def _cfg(*criteria: dict):
    return tiny_config(statements_tab="", eligibility=list(criteria or (YEARS, COI, AGE)))


def _met(res) -> dict[tuple[str, int], object]:
    """(identity, criterion) -> met, with <NA> as None."""
    e = res.eligibility
    return {
        (i, k): (None if pd.isna(m) else bool(m))
        for i, k, m in zip(e["identity"], e["criterion"], e["met"], strict=True)
    }


# --- ingest: each criterion type on a hand-made panel -----------------------------------------


def test_each_criterion_type_on_a_hand_made_panel():
    got = _met(ingest(_raw(_tabs("coi DISCLOSED ")), _cfg()))  # the header matched ignoring case
    # by hand from _tabs: years ≥ 5; COI one of Yes (trimmed, any case); age 30–65
    assert got == {
        ("a@x.example", 1): True,  # "12 years"
        ("b@x.example", 1): False,  # "4"
        ("c@x.example", 1): None,  # blank
        ("d@x.example", 1): None,  # "many": not a number
        ("a@x.example", 2): True,
        ("b@x.example", 2): True,  # " yes "
        ("c@x.example", 2): False,  # "No"
        ("d@x.example", 2): None,  # blank
        ("a@x.example", 3): True,  # 40 (a number cell)
        ("b@x.example", 3): False,  # 70 > 65
        ("c@x.example", 3): None,  # empty cell
        ("d@x.example", 3): True,  # 55
    }


@pytest.mark.parametrize(
    "text,expected",
    [
        ("5", True),  # at the minimum
        ("5.0", True),
        ("4,5", False),  # a decimal comma
        ("4.99", False),
        ("12 years", True),
        ("12 yrs.", True),
        ("", None),  # blank: missing
        ("about 10", None),  # written but unreadable: missing, not "not met"
        ("10-15", None),
        ("10+", None),
        ("1,000", None),  # a thousands separator is not read as 1.0
        ("5 " + "a" * 80, None),  # long text is not searched
    ],
)
def test_a_min_criterion_reads_numbers_as_written(text, expected):
    assert meets(Criterion("Years", "Years", min=5.0), text) is expected


def test_a_max_criterion_and_an_equals_criterion_with_several_values():
    at_most = Criterion("Sessions missed", "Missed at most one session", max=1.0)
    assert [meets(at_most, t) for t in ("0", "1", "2", "")] == [True, True, False, None]
    either = Criterion("Role", "Clinician", equals=("Dermatologist", "GP"))
    assert [meets(either, t) for t in ("gp", " DERMATOLOGIST ", "Nurse")] == [True, True, False]


def test_an_unreadable_number_is_reported_with_its_row_and_column():
    res = ingest(_raw(_tabs()), _cfg())
    bad = res.problems[res.problems["kind"] == "criterion not a number"]
    # "many" is d@x.example's years, Panel row 5, column D
    assert bad[["tab", "row", "column", "header"]].values.tolist() == [
        ["Panel", 5, "D", "Years in practice"]
    ]
    assert "'many' is not one" in bad["message"].iloc[0]


def test_criterion_columns_are_never_attributes(tmp_path):
    res = ingest(_raw(_tabs()), _cfg())
    assert list(res.panel.columns) == ["identity", "display", "name", "Country"]
    db = tmp_path / "s.duckdb"
    refresh(_cfg(), db, raw=_raw(_tabs()))
    with store.connect(db, read_only=True) as con:
        assert set(store.panel_attributes(con, 1)["attribute"]) == {"Country"}


def test_a_criterion_naming_a_missing_column_is_a_configuration_error():
    tabs = tiny_tabs()  # its Panel tab: Email Address, Name, Country
    tabs["Panel"] = [[*r, "12"] for r in tabs["Panel"]]
    tabs["Panel"][0][-1] = "Years in practice"
    with pytest.raises(IngestError) as err:
        ingest(_raw(tabs), _cfg(YEARS, COI))
    assert str(err.value) == (
        "Study configuration: eligibility[2].attribute 'COI disclosed' is not a column of the "
        "'Panel' tab; its columns: 'Email Address', 'Name', 'Country', 'Years in practice'"
    )


def test_the_missing_column_fails_the_refresh_and_the_last_good_snapshot_stays(tmp_path):
    db = tmp_path / "s.duckdb"
    assert refresh(_cfg(), db, raw=_raw(_tabs())).snapshot_id == 1
    with pytest.raises(RefreshError, match=r"eligibility\[3\]\.attribute 'Age'"):
        refresh(_cfg(), db, raw=_raw({**_tabs(), "Panel": [r[:5] for r in _tabs()["Panel"]]}))
    with store.connect(db, read_only=True) as con:
        assert store.latest_snapshot_id(con) == 1
        log = store.refresh_log(con)
    assert log["outcome"].tolist() == ["failed", "new"]  # newest first
    assert "eligibility[3].attribute 'Age' is not a column" in log["message"].iloc[0]


def test_without_a_panel_tab_every_respondent_is_missing_every_criterion():
    tabs = {k: v for k, v in tiny_tabs().items() if k != "Panel"}
    res = ingest(_raw(tabs), _cfg(YEARS, COI))
    # the invited are the respondents: a, b, c, d (round 1)
    assert sorted(set(res.eligibility["identity"])) == [f"{c}@x.example" for c in "abcd"]
    assert len(res.eligibility) == 8 and res.eligibility["met"].isna().all()
    said = res.problems[res.problems["kind"] == "eligibility not checked"]["message"].tolist()
    assert said == [
        "there is no 'Panel' tab: the 2 eligibility criteria cannot be checked, so every "
        "panelist counts as missing on each"
    ]


def test_no_criteria_no_results():
    assert ingest(_raw(_tabs()), tiny_config(statements_tab="")).eligibility.empty


# --- store ---------------------------------------------------------------------------------


def test_results_are_stored_by_pseudonym_with_the_value_as_written(tmp_path):
    db = tmp_path / "s.duckdb"
    refresh(_cfg(), db, raw=_raw(_tabs()))
    with store.connect(db, read_only=True) as con:
        got = store.eligibility_for(con, 1)
        names = dict(con.execute("SELECT identity, panelist FROM identity_map").fetchall())
        stored = con.execute("SELECT * FROM eligibility").df()
    assert list(got.columns) == [
        "panelist",
        "criterion",
        "attribute",
        "wording",
        "test",
        "value",
        "met",
    ]
    d = got[got["panelist"] == names["d@x.example"]].set_index("criterion")
    assert d["value"].tolist() == ["many", "", "55"]
    assert d["met"].isna().tolist() == [True, True, False] and bool(d.loc[3, "met"])
    assert d["test"].tolist() == ["≥ 5", "one of Yes", "30–65"]
    assert not any(EMAIL.search(str(v)) for v in stored.to_numpy().ravel())


def test_an_old_snapshot_without_the_table_has_no_results(tmp_path):
    db = tmp_path / "s.duckdb"
    refresh(tiny_config(statements_tab=""), db, raw=_raw(tiny_tabs()))
    with duckdb.connect(str(db)) as con:
        con.execute("DROP TABLE eligibility")  # as a database from before issue 16 was
    with store.connect(db, read_only=True) as con:  # the schema is added on opening
        assert store.eligibility_for(con, 1).empty


# --- counts and the sentence, by hand ---------------------------------------------------------


def _results(tmp_path) -> pd.DataFrame:
    """The hand-made panel's stored results, each pseudonym replaced by its identity's letter
    (a@x.example -> "a")."""
    db = tmp_path / "s.duckdb"
    refresh(_cfg(), db, raw=_raw(_tabs()))
    with store.connect(db, read_only=True) as con:
        results = store.eligibility_for(con, 1)
        letter = {
            p: i[0]
            for i, p in con.execute("SELECT identity, panelist FROM identity_map").fetchall()
        }
    return results.assign(panelist=results["panelist"].map(letter))


def test_counts_by_hand(tmp_path):
    c = eligibility.counts(_results(tmp_path), 4)
    # from test_each_criterion_type_on_a_hand_made_panel: only a@x.example meets all three
    assert c[["criterion", "n_met", "n_not_met", "n_missing"]].values.tolist() == [
        [1, 1, 1, 2],
        [2, 2, 1, 1],
        [3, 2, 1, 1],
    ]
    assert c["n_eligible"].tolist() == [1, 1, 1]
    assert c["wording"].tolist() == [YEARS["wording"], COI["wording"], AGE["wording"]]


def test_who_fails_what_by_hand(tmp_path):
    status = eligibility.panelist_status(_results(tmp_path)).set_index("panelist")
    # from test_each_criterion_type_on_a_hand_made_panel
    assert status.loc[["a", "b", "c", "d"]].values.tolist() == [
        [True, 0, 0, "", ""],
        [False, 2, 0, "Years in practice; Age", ""],
        [False, 1, 2, "COI disclosed", "Years in practice; Age"],
        [False, 0, 2, "", "Years in practice; COI disclosed"],
    ]


def test_the_coordinators_table_shows_each_value_as_written(tmp_path):
    ratings = pd.DataFrame({"panelist": ["d", "d", "a"], "rating": [4.0, None, 5.0]})
    table = eligibility.panelist_table(_results(tmp_path), ratings).set_index("panelist")
    assert table.loc["d", "Years in practice (≥ 5)"] == "missing: 'many'"
    assert table.loc["c", "Years in practice (≥ 5)"] == "missing"
    assert table.loc["b", "Age (30–65)"] == "✗ 70"
    assert table.loc["a", "COI disclosed (one of Yes)"] == "✓ Yes"
    assert table["n_ratings"].to_dict() == {"a": 1, "b": 0, "c": 0, "d": 1}
    # a is eligible; b and c gave no rating, so there is nothing of theirs to flag
    assert table["ratings_flag"].str.startswith("flagged").to_dict() == {
        "a": False,
        "b": False,
        "c": False,
        "d": True,
    }


def test_an_invited_panelist_without_results_counts_as_missing(tmp_path):
    c = eligibility.counts(_results(tmp_path), 5)  # a fifth invited, never checked
    assert c["n_missing"].tolist() == [3, 2, 2]


def test_the_sentence_by_hand(tmp_path):
    c = eligibility.counts(_results(tmp_path), 4)
    assert eligibility.summary_sentence(c, 4) == (
        "4 invited, 1 eligible; 1 not meeting Years in practice (≥ 5); 2 missing Years in "
        "practice; 1 not meeting COI disclosed (one of Yes); 1 missing COI disclosed; "
        "1 not meeting Age (30–65); 1 missing Age"
    )


def test_the_sentence_when_everyone_is_eligible_or_nothing_was_checked():
    results = pd.DataFrame(
        {
            "panelist": ["P01", "P02"],
            "criterion": [1, 1],
            "attribute": ["Board certified"] * 2,
            "wording": ["Board-certified"] * 2,
            "test": ["one of Yes"] * 2,
            "value": ["Yes", "yes"],
            "met": pd.array([True, True], dtype="boolean"),
        }
    )
    assert (
        eligibility.summary_sentence(eligibility.counts(results, 2), 2) == "2 invited, 2 eligible"
    )
    none = eligibility.counts(results.iloc[:0], 2)
    assert (
        eligibility.summary_sentence(none, 2) == "2 invited; no eligibility criteria were checked"
    )


# --- the sensitivity view ------------------------------------------------------------------


def _hand_ratings() -> pd.DataFrame:
    """S01: 5, 5, 4, 2 (P02 rated 5); S02: 2, 4, 4, 1."""
    rows = [
        (1, "S01", "P01", 5.0),
        (1, "S01", "P02", 5.0),
        (1, "S01", "P03", 4.0),
        (1, "S01", "P04", 2.0),
        (1, "S02", "P01", 2.0),
        (1, "S02", "P02", 4.0),
        (1, "S02", "P03", 4.0),
        (1, "S02", "P04", 1.0),
    ]
    frame = pd.DataFrame(rows, columns=["round", "statement_id", "panelist", "rating"])
    return frame.assign(no_opinion=False)


def _hand_results(p02_coi) -> pd.DataFrame:
    """Two criteria for P01–P04; every one met but P02's COI (``p02_coi``)."""
    rows = [
        (p, k, attribute, attribute, "t", "v", p02_coi if (p, k) == ("P02", 2) else True)
        for k, attribute in ((1, "Years in practice"), (2, "COI disclosed"))
        for p in ("P01", "P02", "P03", "P04")
    ]
    cols = ["panelist", "criterion", "attribute", "wording", "test", "value", "met"]
    return pd.DataFrame(rows, columns=cols).astype({"met": "boolean"})


@pytest.mark.parametrize("p02_coi", [None, False])  # missing counts as not eligible, as not met
def test_leaving_an_ineligible_panelist_out_flips_a_verdict(p02_coi):
    scales = tiny_config().scale_map  # ≥ 75% in 4–5
    sens = eligibility.sensitivity(_hand_ratings(), _hand_results(p02_coi), scales)
    sens = sens.set_index("statement_id")
    # S01: 3 of 4 agree = 75% -> consensus in; without P02: 2 of 3 = 66.7% -> no consensus
    assert (sens.loc["S01", "n_all"], sens.loc["S01", "status_all"]) == (4, "consensus_in")
    assert (sens.loc["S01", "n_eligible"], sens.loc["S01", "status_eligible"]) == (
        3,
        "no_consensus",
    )
    # S02: 2 of 4 = 50%, then 1 of 3 = 33%: no consensus either way
    assert sens.loc["S02", "status_all"] == sens.loc["S02", "status_eligible"] == "no_consensus"
    assert sens["changes"].to_dict() == {"S01": True, "S02": False}


def test_the_sensitivity_sentence_counts_what_is_left_out():
    ratings, results = _hand_ratings(), _hand_results(None)
    sens = eligibility.sensitivity(ratings, results, tiny_config().scale_map)
    assert eligibility.sensitivity_sentence(results, ratings, sens) == (
        "Without the 2 ratings of the 1 panelist not eligible, 1 of 2 verdicts would change."
    )


def test_nobody_is_left_out_when_everyone_is_eligible_or_there_are_no_criteria():
    ratings, scales = _hand_ratings(), tiny_config().scale_map
    for results in (_hand_results(True), _hand_results(True).iloc[:0]):
        sens = eligibility.sensitivity(ratings, results, scales)
        assert not sens["changes"].any() and (sens["n_all"] == sens["n_eligible"]).all()


# --- the demo: one panelist fails one criterion -----------------------------------------------


def test_the_demo_has_one_panelist_missing_one_criterion(demo_db):
    with store.connect(demo_db, read_only=True) as con:
        results = store.eligibility_for(con, 1)
        who = dict(con.execute("SELECT panelist, identity FROM identity_map").fetchall())
    assert results["criterion"].nunique() == 5 and results["panelist"].nunique() == 15
    failing = results[results["met"].ne(True).fillna(True).astype(bool)]
    assert len(failing) == 1
    row = failing.iloc[0]
    assert (who[row["panelist"]], row["attribute"], row["value"]) == (
        DEMO_FAILS[0],
        "COI disclosed",
        "",
    )
    assert pd.isna(row["met"])  # a blank: missing, not "not met"


def _demo_s16_agree() -> tuple[int, int, int]:
    """Round 2, S16, read from the workbook by hand: agree (4–5) and valid ratings, and the
    failing panelist's rating (each identity's latest row)."""
    book = openpyxl.load_workbook(ROOT / "data" / "demo" / "isotretinoin_delphi.xlsx")
    text = next(r[3] for r in book["Statements"].iter_rows(values_only=True) if r[:2] == ("S16", 2))
    rows = list(book["Round 2"].iter_rows(values_only=True))
    col = rows[0].index(text)
    latest = {}
    for row in sorted(rows[1:], key=lambda r: r[0]):
        latest[str(row[1]).strip().casefold()] = LABELS.get(row[col])
    valid = {k: v for k, v in latest.items() if v is not None}
    return sum(v >= 4 for v in valid.values()), len(valid), valid[DEMO_FAILS[0]]


def test_the_demo_verdict_that_changes_without_the_panelist(demo_db, demo_cfg):
    agree, n, theirs = _demo_s16_agree()
    assert (agree, n, theirs) == (11, 15, 3)  # 73.3% < 75%; without them 11 of 14 = 78.6%
    with store.connect(demo_db, read_only=True) as con:
        ratings, results = store.ratings_for(con, 1), store.eligibility_for(con, 1)
    sens = eligibility.sensitivity(ratings, results, demo_cfg.scale_map)
    changed = sens[sens["changes"]]
    assert changed[["round", "statement_id", "status_all", "status_eligible"]].values.tolist() == [
        [2, "S16", "no_consensus", "consensus_in"]
    ]


# --- pages: observers never see who; the coordinator does -------------------------------------


def _texts(at) -> str:
    parts = [*at.title, *at.subheader, *at.markdown, *at.caption, *at.info, *at.warning]
    text = "\n".join(str(e.value) for e in parts)
    tables = "\n".join(d.value.to_csv() for d in at.dataframe)
    return (text + "\n" + tables).replace("\\", "")


def _session(app, role: str | None):
    from lib.auth import hash_password

    app.secrets["access"] = {
        "coordinator_password_hash": hash_password("boss", iterations=1000),
        "committee_password_hash": hash_password("team", iterations=1000),
    }
    if role:
        app.session_state["role"] = role
    return app.run()


def _no_one_named(text: str, where: str) -> None:
    assert not PSEUDONYM.search(text), f"{where}: pseudonym {PSEUDONYM.search(text).group()!r}"
    assert not EMAIL.search(text), f"{where}: e-mail address"
    assert DEMO_FAILS[1] not in text, f"{where}: the failing panelist's name"


def test_observers_see_counts_on_the_panel_page_and_never_who(app):
    at = _session(app, None)
    at.switch_page("pages/panel.py").run()
    assert not at.exception
    text = _texts(at)
    assert "15 invited, 14 eligible; 1 missing COI disclosed." in text
    counts = next(d.value for d in at.dataframe if "n_missing" in d.value.columns)
    assert counts["n_missing"].tolist() == [0, 0, 0, 1, 0] and "value" not in counts.columns
    assert "shown to the steering committee" in text
    assert not [d for d in at.dataframe if "status_eligible" in d.value.columns]
    _no_one_named(text, "pages/panel.py")


def _observer_pages() -> list[str]:
    """The pages app.py offers observers (its PAGES list)."""
    tree = ast.parse((ROOT / "app.py").read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "PAGES")
    return [p for p, _, _, minimum, _ in ast.literal_eval(node.value) if minimum == "observer"]


def test_no_observer_page_names_the_panelist_who_failed(app):
    at = _session(app, None)
    pages = _observer_pages()
    assert "pages/panel.py" in pages
    for page in pages:
        at.switch_page(page).run()
        assert not at.exception, page
        _no_one_named(_texts(at), page)


def test_the_committee_sees_which_verdicts_change_but_not_who(app):
    at = _session(app, "committee")
    at.switch_page("pages/panel.py").run()
    assert not at.exception
    text = _texts(at)
    assert (
        "Without the 72 ratings of the 1 panelist not eligible, 1 of 72 verdicts would change."
        in text
    )
    changed = next(d.value for d in at.dataframe if "status_eligible" in d.value.columns)
    assert changed[["round", "statement_id", "status_all", "status_eligible"]].values.tolist() == [
        [2, "S16", "No consensus", "Consensus in"]
    ]
    _no_one_named(text, "pages/panel.py (committee)")


def test_the_coordinator_sees_who_meets_which_criterion(app):
    at = _session(app, "coordinator")
    at.switch_page("pages/coordinator.py").run()
    assert not at.exception
    table = next(d.value for d in at.dataframe if "eligible" in d.value.columns)
    assert len(table) == 15 and int(table["eligible"].sum()) == 14
    row = table[~table["eligible"]].iloc[0]
    assert (row["identity"], row["name"]) == DEMO_FAILS
    assert row["COI disclosed (one of Yes)"] == "missing"
    assert row["Years in practice (≥ 5)"] == "✓ 8"
    assert row["n_ratings"] == 72 and row["ratings_flag"].startswith("flagged: kept")
    assert "15 invited, 14 eligible; 1 missing COI disclosed" in _texts(at)


def test_a_study_without_criteria_says_so_on_the_panel_page(demo_cfg, tmp_path, monkeypatch):
    text = (ROOT / "data" / "demo" / "study.toml").read_text(encoding="utf-8")
    cut = text.split("[[eligibility]]", 1)[0]  # the [[eligibility]] tables end the file
    cut = cut.replace('source = "isotretinoin_delphi.xlsx"', f'source = "{demo_cfg.source}"')
    toml = tmp_path / "study.toml"
    toml.write_text(cut, encoding="utf-8")
    monkeypatch.setenv("DELPHI_STUDY", str(toml))
    monkeypatch.setenv("DELPHI_DB", str(tmp_path / "none.duckdb"))
    at = signed_in_app("coordinator").run()
    at.switch_page("pages/panel.py").run()
    assert not at.exception
    assert "The study file pre-registers no eligibility criteria" in _texts(at)
