"""Panel attributes by allowlist (issue 12, item 2).

Only the Panel columns the study lists in ``panel_attributes`` become attributes; every other
column (first_name, Surname, Telephone, …) stays out of every table but ``identity_map``.
Groups under ``privacy.min_group_size`` are pooled the same way on the Panel page and in the
report, for every role; attrition of fewer panelists than that is not shown.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from lib import store
from lib.auth import hash_password
from lib.config import ConfigError, config_from_dict
from lib.ingest import ingest
from lib.ingest.panel import PANEL_COLUMNS
from lib.pipeline import refresh
from lib.reports.data import build_report_data
from lib.reports.html import html_report
from lib.reports.inputs import StoreFrames, report_inputs
from lib.sources import RawSource, read_workbook
from tests.helpers import Page, tiny_config, tiny_tabs, with_identifying_columns

OTHER = "Other (groups under 5)"


def _raw(tabs: dict[str, list[list]]) -> RawSource:
    return RawSource(tabs=tabs, source="tiny", title="Tiny", all_tabs=list(tabs))


def _identifying_tabs() -> tuple[dict[str, list[list]], set[str]]:
    tabs = tiny_tabs()
    tabs["Panel"], values = with_identifying_columns(tabs["Panel"])
    return tabs, values


# --- configuration -------------------------------------------------------------------------


def test_without_the_key_there_are_no_attributes():
    cfg = config_from_dict({"rounds": {"Round 1": 1}})
    assert cfg.panel_attributes == ()


@pytest.mark.parametrize(
    "listed,message",
    [
        ("Country", "'panel_attributes' must be a list"),
        ([3], "must be a list of Panel column names"),
        ([" "], "must be a list of Panel column names"),
        (["Country", "country"], "lists 'country' twice"),
        (["email address"], "the identity column"),
    ],
)
def test_bad_panel_attributes_name_the_key(listed, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        tiny_config(panel_attributes=listed)


def test_the_demo_lists_its_four_attributes(demo_cfg):
    assert demo_cfg.panel_attributes == (
        "Country",
        "Practice setting",
        "Years in practice",
        "Isotretinoin prescribing volume",
    )


# --- ingest --------------------------------------------------------------------------------


def test_only_listed_columns_become_attributes():
    tabs, _ = _identifying_tabs()
    res = ingest(_raw(tabs), tiny_config(statements_tab=""))
    assert res.panel.columns.tolist() == [*PANEL_COLUMNS, "Country"]
    assert res.panel["name"].tolist() == ["Ann Alpha", "Bob Beta", "Cat Gamma", "Dan Delta"]


def test_an_empty_list_keeps_the_panel_but_no_attribute():
    tabs, _ = _identifying_tabs()
    res = ingest(_raw(tabs), tiny_config(statements_tab="", panel_attributes=[]))
    assert res.panel.columns.tolist() == PANEL_COLUMNS and len(res.panel) == 4


def test_a_listed_column_missing_from_the_tab_is_a_problem_not_a_crash():
    cfg = tiny_config(statements_tab="", panel_attributes=["country", "Specialty"])
    res = ingest(_raw(tiny_tabs()), cfg)
    assert "Country" in res.panel.columns  # matched ignoring case, named as the sheet writes it
    missing = res.problems[res.problems["kind"] == "attribute not found"]
    assert missing[["tab", "row", "column", "header"]].values.tolist() == [
        ["Panel", 1, "", "Specialty"]
    ]


def test_a_listed_column_that_looks_identifying_is_kept_with_a_warning():
    tabs, _ = _identifying_tabs()
    res = ingest(_raw(tabs), tiny_config(statements_tab="", panel_attributes=["Surname"]))
    assert "Surname" in res.panel.columns  # the list decides, not a guess from the header
    warned = res.problems[res.problems["kind"] == "attribute may identify"]
    assert warned[["tab", "row", "column"]].values.tolist() == [["Panel", 1, "E"]]


# --- store ---------------------------------------------------------------------------------


def _text_cells(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    frame = con.execute(f"SELECT * FROM {table}").df()
    return {v for col in frame.columns for v in frame[col] if isinstance(v, str)}


def test_identifying_columns_are_stored_nowhere_but_the_identity_table(tmp_path):
    tabs, values = _identifying_tabs()
    db = tmp_path / "s.duckdb"
    refresh(tiny_config(statements_tab=""), db, raw=_raw(tabs))
    with duckdb.connect(str(db), read_only=True) as con:
        tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        for table in (t for t in tables if t != "identity_map"):
            cells = _text_cells(con, table)
            leaked = {v for v in values if v in cells or any(v in c for c in cells)}
            assert not leaked, f"{table}: {sorted(leaked)[:3]}"
        assert set(con.execute("SELECT DISTINCT attribute FROM panel").df()["attribute"]) == {
            "Country"
        }
        names = dict(con.execute("SELECT identity, name FROM identity_map").fetchall())
        assert names["a@x.example"] == "Ann Alpha" and names["d@x.example"] == "Dan Delta"


def test_a_snapshot_from_before_the_list_shows_no_attribute(tmp_path):
    db = tmp_path / "s.duckdb"
    sid = refresh(tiny_config(statements_tab=""), db, raw=_raw(tiny_tabs())).snapshot_id
    with duckdb.connect(str(db)) as con:  # as the old code wrote it: every column, no list
        con.execute('UPDATE snapshots SET config_json = \'{"title": "old"}\'')
        con.execute("INSERT INTO panel VALUES (?, 'P01', 'Surname', 'Alpha')", [sid])
    with store.connect(db, read_only=True) as con:
        assert store.panel_attributes(con, sid).empty


# --- the demo: page and report pool alike, for every role ---------------------------------


def _small_values(demo_cfg) -> dict[str, set[str]]:
    """Per text attribute of the demo, the values held by fewer than the minimum."""
    header, *rows = read_workbook(demo_cfg.source).tabs["Panel"]
    out = {}
    for attr in demo_cfg.panel_attributes:
        counts = Counter(str(r[header.index(attr)]) for r in rows)
        if not all(v.isdigit() for v in counts):
            out[attr] = {v for v, n in counts.items() if n < demo_cfg.min_group_size}
    return out


def _report(db, cfg):
    with store.connect(db, read_only=True) as con:
        sid = store.current_snapshot_id(con)
        return build_report_data(report_inputs(StoreFrames(con, sid)), cfg)


def _as(app: AppTest, role: str) -> AppTest:
    if role != "coordinator":  # demo mode: the coordinator's view
        app.secrets["access"] = {"committee_password_hash": hash_password("c", iterations=1000)}
    if role == "committee":
        app.session_state["role"] = "committee"
    app.run()
    app.switch_page("pages/panel.py").run()
    assert not app.exception, app.exception
    return app


def _page_groups(at: AppTest) -> dict[str, list[tuple[str, int]]]:
    """Per attribute on the Panel page: (group, invited) from its round-1 cells "r of i"."""
    out = {}
    for attr in at.selectbox(key="pa_attribute").options:
        at.selectbox(key="pa_attribute").select(attr).run()
        table = next(d.value for d in at.dataframe if "Group" in d.value.columns)
        invited = [int(c.split(" of ")[1]) for c in table["Round 1"]]
        out[attr] = list(zip(table["Group"], invited, strict=True))
    return out


@pytest.mark.parametrize("role", ["observer", "committee", "coordinator"])
def test_the_report_and_the_panel_page_pool_identically(app, demo_db, demo_cfg, role):
    page = _page_groups(_as(app, role))
    report = _report(demo_db, demo_cfg).panel
    small = _small_values(demo_cfg)
    for attr in small:  # the text attributes; a number is a median (IQR) in the report
        shown = report[report["attribute"] == attr]
        assert sorted(page[attr]) == sorted(zip(shown["value"], shown["count"], strict=True))
        assert all(n >= demo_cfg.min_group_size for _, n in page[attr]), (attr, page[attr])
        assert not {g for g, _ in page[attr]} & small[attr]
    # demo Panel tab, by hand: every country is under 5, so one pooled row of all 15
    assert page["Country"] == [(OTHER, 15)]
    assert page["Practice setting"] == [("Private practice", 5), (OTHER, 10)]


@pytest.mark.parametrize("role", ["observer", "committee"])
def test_small_group_values_never_reach_the_page(app, demo_cfg, role):
    at = _as(app, role)
    for attr in at.selectbox(key="pa_attribute").options:
        at.selectbox(key="pa_attribute").select(attr).run()
        text = "\n".join(
            [str(e.proto) for e in [*at.caption, *at.markdown, *at.get("plotly_chart")]]
            + [d.value.to_csv() for d in at.dataframe]
        )
        for values in _small_values(demo_cfg).values():
            shown = [v for v in values if re.search(rf"(?<![\w<>]){re.escape(v)}(?!\w)", text)]
            assert not shown, (attr, shown)


@pytest.mark.parametrize("role", ["observer", "committee"])
def test_attrition_of_one_panelist_is_suppressed(app, role):
    at = _as(app, role)
    assert not any("mean_rating" in d.value.columns for d in at.dataframe)
    assert any("Dropped out: 1; stayed: 14" in c.value for c in at.caption)


def test_the_report_names_no_small_group(demo_db, demo_cfg):
    data = _report(demo_db, demo_cfg)
    html = Page(html_report(data)).text
    for values in _small_values(demo_cfg).values():
        for v in values:
            assert not re.search(rf"(?<![\w<>]){re.escape(v)}(?!\w)", html), v
    years = data.panel.set_index("attribute").loc["Years in practice", "value"]
    assert OTHER in html and "range" not in years  # its ends are one person each


def test_an_identifying_column_in_the_report_only_if_listed(tmp_path, demo_cfg):
    raw = read_workbook(demo_cfg.source)
    panel, values = with_identifying_columns(raw.tabs["Panel"])
    raw = replace(raw, tabs={**raw.tabs, "Panel": panel})
    db = tmp_path / "s.duckdb"
    refresh(demo_cfg, db, raw=raw)
    data = _report(db, demo_cfg)
    assert set(data.panel["attribute"]) == set(demo_cfg.panel_attributes)
    text = Page(html_report(data)).text + data.panel.to_csv()
    assert not [v for v in values if re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text)]
