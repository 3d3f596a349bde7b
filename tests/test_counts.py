"""One count everywhere (issue 17.1): "statements" means each statement once, in its final
version (a revised wording replaces the one it was revised from).  The Overview's header and
table, Trends' rule comparison ("final versions") and the report (final list, narrative) agree,
on both bundled demos; a round's counts are every wording rated in it.

The expected numbers are computed here from the stored metrics (``revised_from`` and each id's
last round), never by the page or report code under test.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lib import store
from lib.config import load_config
from lib.pipeline import ensure_demo_db
from lib.reports.data import build_report_data
from lib.reports.inputs import StoreFrames, report_inputs
from lib.reports.tables import final_statements
from tests.test_signin_pages import app_py_on_every_run  # noqa: F401 (autouse fixture)

ROOT = Path(__file__).resolve().parents[1]
STUDIES = {
    "demo": ROOT / "data" / "demo" / "study.toml",
    "demo-cos": ROOT / "data" / "demo-cos" / "study.toml",
}


@pytest.fixture(scope="module", params=list(STUDIES))
def study(request, tmp_path_factory) -> dict:
    """A demo study's database, config, stored metrics and report data."""
    cfg = load_config(STUDIES[request.param])
    db = tmp_path_factory.mktemp(request.param) / "study.duckdb"
    ensure_demo_db(cfg, db)
    with store.connect(db) as con:
        sid = store.current_snapshot_id(con)
        metrics = store.metrics_for(con, sid)
        data = build_report_data(report_inputs(StoreFrames(con, sid)), cfg)
    return {"name": request.param, "db": db, "cfg": cfg, "metrics": metrics, "data": data}


def _expected(metrics) -> dict:
    """Final versions by hand: the last row of each id never named in ``revised_from``."""
    revised_away = set(metrics["revised_from"].dropna())
    last = metrics.sort_values("round").groupby("statement_id").tail(1)
    final = last[~last["statement_id"].isin(revised_away)]
    return {
        "final": len(final),
        "wordings": metrics["statement_id"].nunique(),
        **{s: int((final["status"] == s).sum()) for s in ("consensus_in", "consensus_out")},
        "none": int((final["status"] == "no_consensus").sum()),
    }


def _values(array) -> list:
    """A Plotly JSON array: a list, or a typed array as base64 ``bdata`` with its ``dtype``."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def _app(study: dict, monkeypatch, tmp_path) -> AppTest:
    db = tmp_path / "copy.duckdb"
    shutil.copy(study["db"], db)
    monkeypatch.setenv("DELPHI_DB", str(db))
    monkeypatch.setenv("DELPHI_STUDY", str(STUDIES[study["name"]]))
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()


def test_the_demos_have_revised_statements_so_the_two_counts_differ(study):
    exp = _expected(study["metrics"])
    assert exp["wordings"] > exp["final"]  # else this file would test nothing


def test_overview_header_table_and_caption_count_final_versions(study, monkeypatch, tmp_path):
    exp = _expected(study["metrics"])
    at = _app(study, monkeypatch, tmp_path)
    assert not at.exception
    metric = {m.label: m.value for m in at.metric}
    assert metric["Statements"] == str(exp["final"])
    reached = exp["consensus_in"] + exp["consensus_out"]
    assert metric["Consensus reached"] == f"{reached} of {exp['final']}"
    table = next(d.value for d in at.dataframe if "pct_agree" in d.value.columns)
    assert len(table) == exp["final"]
    assert any(
        c.value.startswith(f"{exp['final']} statements, each in its final version")
        for c in at.caption
    )


def test_trends_rule_comparison_counts_final_versions(study, monkeypatch, tmp_path):
    exp = _expected(study["metrics"])
    at = _app(study, monkeypatch, tmp_path)
    at.switch_page("pages/trends.py").run()
    assert not at.exception
    assert at.segmented_control(key="tr_scope").value == "final versions"
    spec = next(
        c.proto.spec for c in at.get("plotly_chart") if "Consensus under each rule" in c.proto.spec
    )
    fig = json.loads(spec)
    # the study's own rule is the chart's first row; its bars are in, out, none
    first = {t["name"]: int(_values(t["x"])[0]) for t in fig["data"]}
    assert first == {
        "Consensus in": exp["consensus_in"],
        "Consensus out": exp["consensus_out"],
        "No consensus": exp["none"],
    }


def test_report_final_list_and_narrative_count_final_versions(study):
    exp = _expected(study["metrics"])
    data = study["data"]
    final = final_statements(data)
    assert len(final) == exp["final"]
    fates = final["fate"].value_counts()
    assert int(fates.get("accepted", 0)) == exp["consensus_in"]
    assert int(fates.get("rejected", 0)) == exp["consensus_out"]
    assert int(fates.get("open", 0) + fates.get("dropped", 0)) == exp["none"]
    # the narrative states the accepted count of the same final versions
    assert re.search(rf"\b{exp['consensus_in']}\b", data.narrative)
