"""What people read, on a desktop and on a phone (issue 17.1-17.2), in real Chromium.

Every page in every role (observer, committee, coordinator) at 1400x900 and at 390x844: a
full-page screenshot of each (tests/artifacts/browser/readability/, git-ignored: look at them),
and, measured on the page as drawn:

- every Plotly chart: the title inside the chart (not cut), the legend clear of the title and of
  the axis titles, the y-axis labels (statement IDs) inside the chart, the x-axis labels (rounds)
  clear of each other and of the title, and a heatmap's status markers clear of its numbers;
- Overview: the statements table starts with ID, Status and % agree, and is wide enough to show
  them; at 1400 px the rounds table shows every column ("Consensus out", "No consensus") without
  scrolling sideways.

Boxes are the browser's own (getBoundingClientRect) of Plotly's SVG elements.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.server import (
    LoopbackGuard,
    click_idle,
    nav_pages,
    open_app,
    page_report,
    screenshot,
    sign_in,
    slug,
)

pytestmark = pytest.mark.browser

SIZES = {"desktop": (1400, 900), "phone": (390, 844)}

# Per drawn chart: boxes [left, top, right, bottom] of its parts (charts in a tab not shown
# have an empty box and are skipped).
CHARTS_JS = """() => Array.from(document.querySelectorAll(
    '[data-testid="stMain"] [data-testid="stPlotlyChart"] .js-plotly-plot')).map((p) => {
  const box = (e) => { const r = e.getBoundingClientRect();
                       return [r.left, r.top, r.right, r.bottom]; };
  const all = (s) => Array.from(p.querySelectorAll(s)).map(box).filter((b) => b[2] > b[0]);
  const title = p.querySelector('.gtitle');
  return {
    title: title ? title.textContent : '',
    svg: box(p.querySelector('.main-svg')),
    titles: all('.gtitle, .gtitle-subtitle'),
    legend: all('.legend'),
    axis_titles: all('.xtitle, .ytitle'),
    yticks: all('.ytick text'),
    xticks: all('.xtick text'),
    cell_numbers: all('.heatmap-label'),
    markers: all('.scatterlayer .trace:not(.lines) .point'),
  };
})"""

# The a11y header row glide-data-grid keeps in the DOM, and the visible width of one table.
TABLE_JS = """(f) => { const s = f.querySelector('.dvn-scroller');
  return {headers: Array.from(f.querySelectorAll('th')).map((t) => t.innerText.trim()),
          scroll_width: s ? s.scrollWidth : 0, client_width: s ? s.clientWidth : 0}; }"""

# The statements table's first columns: ID (pinned, sized to its content: at most this wide),
# Status (132 px) and % agree (70 px), as lib/ui/columns.py STATUS_TABLE sets them.
FIRST_COLUMNS = ["ID", "Status", "% agree"]
FIRST_COLUMNS_WIDTH = 80 + 132 + 70


def _overlap(a: list[float], b: list[float], slack: float = 1.0) -> bool:
    return (
        a[0] < b[2] - slack and b[0] < a[2] - slack and a[1] < b[3] - slack and b[1] < a[3] - slack
    )


def chart_problems(chart: dict[str, Any]) -> list[str]:
    """What is unreadable in one drawn chart."""
    if chart["svg"][2] <= chart["svg"][0]:
        return []
    name, svg, found = chart["title"][:40], chart["svg"], []
    for t in chart["titles"]:
        if t[0] < svg[0] - 1 or t[2] > svg[2] + 1:
            found.append(f"{name}: title cut at the chart's edge")
    for lg in chart["legend"]:
        if any(_overlap(lg, t) for t in chart["titles"] + chart["axis_titles"]):
            found.append(f"{name}: legend over the title or an axis title")
    if any(y[0] < svg[0] - 1 for y in chart["yticks"]):
        found.append(f"{name}: y-axis labels cut at the left edge")
    xt = chart["xticks"]
    if any(_overlap(a, b) for i, a in enumerate(xt) for b in xt[i + 1 :]):
        found.append(f"{name}: x-axis labels overlap each other")
    if any(_overlap(x, t) for x in xt for t in chart["titles"]):
        found.append(f"{name}: x-axis labels over the title")
    if any(_overlap(n, m) for n in chart["cell_numbers"] for m in chart["markers"]):
        found.append(f"{name}: status markers over the numbers in the cells")
    return found


def _goto(page: Any, item: dict[str, str]) -> None:
    """Switch page in the same session (a phone's sidebar is collapsed: click the link by
    script, as a tap on it in the opened sidebar would)."""
    link = page.locator(f'[data-testid="stSidebarNavLink"][href="{item["href"]}"]')
    if page.evaluate("() => location.href") != item["href"]:
        click_idle(page, lambda: link.evaluate("(a) => a.click()"))


def _overview_problems(page: Any, width: int) -> list[str]:
    # glide-data-grid writes its header row into the DOM once the table has been on screen
    frames = page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]')
    tables = []
    for i in range(frames.count()):
        frames.nth(i).scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        tables.append(frames.nth(i).evaluate(TABLE_JS))
    statements = next((t for t in tables if "Status" in t["headers"]), None)
    # glide-data-grid keeps only the columns in view (and one or two beyond) in that row
    rounds = next((t for t in tables if "Invited" in t["headers"]), None)
    found = []
    if statements is None or statements["headers"][:3] != FIRST_COLUMNS:
        found.append(f"statements table does not start with {FIRST_COLUMNS}: {statements}")
    elif statements["client_width"] < FIRST_COLUMNS_WIDTH:
        found.append(f"statements table too narrow for {FIRST_COLUMNS}: {statements}")
    if rounds is None:
        found.append("no rounds table")
    elif width >= 1400 and (
        not {"Consensus out", "No consensus"} <= set(rounds["headers"])
        or rounds["scroll_width"] > rounds["client_width"]
    ):
        found.append(f"rounds table wider than its frame at {width} px: {rounds}")
    return found


@pytest.fixture
def shots(artifacts):
    path = artifacts / "readability"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("role", ["observer", "committee", "coordinator"])
def test_every_page_is_readable(chromium, observer_server, shots, role, size):
    width, height = SIZES[size]
    guard = LoopbackGuard()
    context = chromium.new_context(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
    guard.attach(context)
    context.set_default_timeout(60_000)
    problems: dict[str, list[str]] = {}
    seen = []
    try:
        page = context.new_page()
        nav = open_app(page, observer_server)
        if role != "observer":  # signed in through the sidebar, then the phone's width
            sign_in(page, role)
            nav = nav_pages(page)
        page.set_viewport_size({"width": width, "height": height})
        for item in nav:
            _goto(page, item)
            report = page_report(page)
            found = [f"error: {e}" for e in report["errors"]]
            for chart in page.evaluate(CHARTS_JS):
                found += chart_problems(chart)
            seen.append(item["title"])
            if item["title"] == "Overview":
                found += _overview_problems(page, width)
            screenshot(page, shots / f"{slug(item)}-{role}-{width}.png")
            if found:
                problems[item["title"]] = found
    finally:
        context.close()
    assert not guard.blocked
    assert {"Overview", "Statements", "Trends", "Panel"} <= set(seen)
    assert problems == {}


def test_chart_problems_finds_a_legend_over_a_title_and_cut_labels():
    """The geometry checks fail on the faults they look for (boxes as the browser gives)."""
    bad = {
        "title": "Ratings",
        "svg": [0, 0, 300, 200],
        "titles": [[10, 5, 320, 35]],  # runs past the right edge
        "legend": [[10, 10, 200, 40]],  # over the title
        "axis_titles": [],
        "yticks": [[-30, 50, 40, 60]],  # starts left of the chart
        "xticks": [[100, 30, 140, 45], [130, 30, 170, 45]],  # overlap each other
        "cell_numbers": [[100, 100, 120, 110]],
        "markers": [[115, 98, 125, 108]],  # over the number
    }
    assert len(chart_problems(bad)) == 6
    good = {**bad, "titles": [[10, 5, 200, 25]], "legend": [[10, 160, 200, 190]]}
    good |= {"yticks": [[5, 50, 40, 60]], "xticks": [[100, 30, 120, 45], [130, 30, 150, 45]]}
    good |= {"markers": [[125, 95, 131, 101]]}
    assert chart_problems(good) == []
