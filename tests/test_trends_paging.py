"""Trends at scale (issue 18.3): 200 statements are shown 50 to a heatmap, by domain or page,
each page with its round labels (a 4,500 px heatmap took the browser 2.5 s to draw)."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from bench.generate import Size, study_config, study_raw, write_toml
from lib.analysis.summary import HEATMAP_ROWS
from lib.pipeline import refresh
from lib.publication import publish
from tests.test_signin_pages import app_py_on_every_run  # noqa: F401 (autouse fixture)

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]
# the L study's 200 statements and 4 rounds, with a small panel (fast to build)
SIZE = Size("T", 20, 200, 4)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    work = tmp_path_factory.mktemp("paging")
    db = work / "t.duckdb"
    refresh(study_config(SIZE), db, raw=study_raw(SIZE))
    publish(db, close_rounds=list(range(1, SIZE.rounds + 1)))  # observers see it (no secrets)
    return {"db": db, "toml": write_toml(SIZE, work / "t.toml")}


def _heatmap(at: AppTest) -> dict:
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return next(s for s in specs if "Agreement per statement" in s["layout"]["title"]["text"])


def test_trends_pages_a_200_statement_heatmap(study, monkeypatch):
    monkeypatch.setenv("DELPHI_DB", str(study["db"]))
    monkeypatch.setenv("DELPHI_STUDY", str(study["toml"]))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.switch_page("pages/trends.py").run()
    assert not at.exception
    pages = at.selectbox(key="tr_heat_page").options
    assert len(pages) == 4 and pages[0] == "Statements 1–50 of 200"  # 200 / 50
    heat = _heatmap(at)
    assert len(heat["layout"]["yaxis"]["ticktext"]) == HEATMAP_ROWS
    # four rounds: the numbers under one "Round" title, so they fit a phone side by side
    assert heat["layout"]["xaxis"]["ticktext"] == ["1", "2", "3", "4"]
    assert heat["layout"]["xaxis"]["title"]["text"] == "Round"
    at.selectbox(key="tr_heat_page").select(pages[-1]).run()
    assert len(_heatmap(at)["layout"]["yaxis"]["ticktext"]) == 50
    domain = at.selectbox(key="tr_heat_domain").options[1]
    at.selectbox(key="tr_heat_domain").select(domain).run()
    rows = len(_heatmap(at)["layout"]["yaxis"]["ticktext"])
    assert not at.exception and 0 < rows <= HEATMAP_ROWS
