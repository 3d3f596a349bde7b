"""The documents in real Chromium (issue 17.3): a panelist's feedback keeps its distribution bars
on a phone, and the report's charts keep their y labels inside the chart and clear of the plot,
on screen and as printed, with no chart cut across a page."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib import store
from lib.reports.data import build_feedback_data, build_report_data
from lib.reports.feedback import feedback_html
from lib.reports.html import html_report
from lib.reports.inputs import StoreFrames, feedback_inputs, report_inputs


@pytest.fixture(scope="module")
def documents(demo_db_master, demo_cfg, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("documents")
    with store.connect(demo_db_master) as con:
        sid = store.current_snapshot_id(con)
        fd = build_feedback_data(feedback_inputs(StoreFrames(con, sid)), demo_cfg, 3)
        data = build_report_data(report_inputs(StoreFrames(con, sid)), demo_cfg)
    out = {"feedback": folder / "feedback.html", "report": folder / "report.html"}
    out["feedback"].write_text(feedback_html(fd, "P03"), encoding="utf-8")
    out["report"].write_text(html_report(data), encoding="utf-8")
    return out


def _open(chromium, path: Path, width: int, height: int, media: str = "screen"):
    page = chromium.new_page(viewport={"width": width, "height": height})
    page.emulate_media(media=media)
    page.goto(path.as_uri())
    return page


@pytest.mark.parametrize("width,height", [(390, 844), (1400, 900)])
def test_feedback_bars_stay_visible(chromium, documents, artifacts, width, height):
    page = _open(chromium, documents["feedback"], width, height)
    widths = page.evaluate(
        "[...document.querySelectorAll('.dist td.bar')]"
        ".filter(td => td.querySelector('.track')).map(td => td.getBoundingClientRect().width)"
    )
    page.screenshot(path=str(artifacts / f"feedback_{width}.png"))
    page.close()
    assert widths and min(widths) >= 60  # the column had collapsed to 0 px at 390 px


LABELS = """(i) => {
  const chart = document.getElementById('chart-' + i), box = chart.getBoundingClientRect();
  const plot = chart.querySelector('.nsewdrag').getBoundingClientRect();
  const ticks = [...chart.querySelectorAll('.ytick text')].map(t => t.getBoundingClientRect());
  return {left: box.left, plot: plot.left, tickLeft: Math.min(...ticks.map(r => r.left)),
          tickRight: Math.max(...ticks.map(r => r.right)),
          avoid: getComputedStyle(chart.closest('.figure')).breakInside};
}"""


@pytest.mark.parametrize(
    "width,media", [(1400, "screen"), (390, "screen"), (718, "print")]
)  # 718 px: A4 less the report's 12 mm page margins
def test_report_chart_labels_stay_inside_and_clear_of_the_plot(
    chromium, documents, artifacts, width, media
):
    page = _open(chromium, documents["report"], width, 900, media)
    page.wait_for_selector("#chart-2 .ytick text")
    for i in (1, 2):
        m = page.evaluate(LABELS, i)
        assert m["tickLeft"] >= m["left"], f"chart {i}: a y label is cut at the left"
        # printed text runs wider than on screen: a gap keeps a label off its bar
        assert m["tickRight"] <= m["plot"] - 4, f"chart {i}: y labels touch the plot"
        assert m["avoid"] == "avoid"
    page.locator("#chart-1").screenshot(path=str(artifacts / f"report_chart1_{media}{width}.png"))
    page.close()
