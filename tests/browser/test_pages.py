"""Every page of the running app in a real browser: renders, charts drawn, filters rerun, privacy.

Pages are discovered from the navigation the running app offers (so pages added later are tested
too); the core set must always be there.  Screenshots of each page as tested go to
tests/artifacts/browser/ (git-ignored).
"""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest

from lib.auth import ROLES
from tests.browser.server import (
    ROOT,
    LoopbackGuard,
    app_pages,
    change_filters,
    go_to,
    nav_pages,
    open_app,
    page_report,
    panel_identities,
    screenshot,
    sign_in,
    signed_in_only,
    slug,
    start_server,
    wire,
    write_observer_secrets,
)

pytestmark = pytest.mark.browser

CORE = {"Overview", "Statements"}
RANK = {role: i for i, role in enumerate(ROLES)}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
# Missing values that leaked into text (pandas prints NaN/NaT/<NA>); "None" is left out because
# statements may start with the English word.
MISSING = re.compile(r"\b(nan|NaN|NaT)\b|<NA>")


def _declared(role: str) -> set[str]:
    """Titles app.py offers ``role``, for the page files that exist right now."""
    return {
        p["title"]
        for p in app_pages()
        if RANK[p["minimum"]] <= RANK[role] and (ROOT / p["file"]).exists()
    }


def _problems(report: dict[str, Any]) -> list[str]:
    """What is wrong with a rendered page: errors, undrawn charts or tables, no title, NaN."""
    found = [f"error element: {e!r}" for e in report["errors"]]
    if not report["title"]:
        found.append("no page title (h1)")
    if report["charts_drawn"] != report["charts"]:
        found.append(
            f"{report['charts'] - report['charts_drawn']} of {report['charts']} "
            "Plotly charts not drawn"
        )
    if report["frames_drawn"] != report["frames"]:
        found.append(
            f"{report['frames'] - report['frames_drawn']} of {report['frames']} "
            "dataframes not drawn"
        )
    leaked = sorted({m.group(0) for m in MISSING.finditer(report["text"])})
    if leaked:
        found.append(f"missing values shown as text: {leaked}")
    return found


def _visit_all(page, server, check, artifacts=None, suffix="") -> dict[str, list[str]]:
    """Open the app, visit every page in its navigation in turn; ``check(page, item)`` returns
    the problems of one page.  Returns {title: problems} for the pages that have any (and the
    server log, where tracebacks are, under "server log")."""
    nav = open_app(page, server)
    assert nav, "the app offers no navigation"
    failures = {}
    for item in nav:
        go_to(page, item)
        problems = check(page, item)
        if artifacts is not None:
            screenshot(page, artifacts / f"{slug(item)}{suffix}.png")
        if problems:
            failures[item["title"]] = problems
    if failures:
        failures["server log"] = [server.log_tail(3000)]
    return failures


# --- demo mode: every page, as the coordinator ---------------------------------------------------


def test_navigation_offers_the_core_pages_and_every_declared_page(browser_page, demo_server):
    hidden = signed_in_only()  # "Set up a study": never in demo mode, where all are coordinator
    declared_before = _declared("coordinator") - hidden
    titles = [item["title"] for item in open_app(browser_page, demo_server)]
    assert CORE <= set(titles), titles
    assert declared_before <= set(titles) <= {p["title"] for p in app_pages()} - hidden, titles
    assert "Set up a study" in hidden
    assert page_report(browser_page)["banner"], "demo mode must say so in a banner"


def test_every_page_renders_without_error(browser_page, demo_server, artifacts):
    def check(page, item):
        return _problems(page_report(page))

    assert _visit_all(browser_page, demo_server, check, artifacts) == {}


def test_changing_a_filter_reruns_every_page_without_error(browser_page, demo_server, artifacts):
    changed = {}

    def check(page, item):
        changed[item["title"]] = change_filters(page)
        return _problems(page_report(page))

    assert _visit_all(browser_page, demo_server, check, artifacts, "-filtered") == {}
    assert all(changed[t] for t in CORE), f"no filter changed on a core page: {changed}"


def test_no_request_leaves_loopback(browser_page, demo_server, guard):
    _visit_all(browser_page, demo_server, lambda page, item: [])
    assert guard.blocked == []


def test_loopback_guard_aborts_and_records_a_request_to_another_host(chromium, demo_server):
    guard = LoopbackGuard()
    context = chromium.new_context()
    guard.attach(context)
    try:
        page = context.new_page()
        open_app(page, demo_server)
        # .invalid never resolves (RFC 2606), so nothing could leave even without the guard
        fetched = page.evaluate(
            "() => fetch('https://guard.example.invalid/x').then(() => true, () => false)"
        )
    finally:
        context.close()
    assert fetched is False
    assert guard.blocked == ["https://guard.example.invalid/x"]


# --- observer mode: the shared link, nobody signed in --------------------------------------------


def test_observer_has_no_banner_and_only_observer_pages(browser_page, observer_server):
    titles = {item["title"] for item in open_app(browser_page, observer_server)}
    assert CORE <= titles
    restricted = {p["title"] for p in app_pages() if p["minimum"] != "observer"}
    assert not titles & restricted, f"observer offered {titles & restricted}"
    assert not page_report(browser_page)["banner"]


def test_signing_in_as_coordinator_offers_every_page(browser_page, observer_server):
    open_app(browser_page, observer_server)
    sign_in(browser_page, "coordinator")
    declared = _declared("coordinator")  # sign_in waited for "Signed in as coordinator"
    titles = {item["title"] for item in nav_pages(browser_page)}
    assert declared <= titles <= {p["title"] for p in app_pages()}, titles
    assert page_report(browser_page)["errors"] == []


def test_every_observer_page_renders_and_filters_without_error(
    browser_page, observer_server, artifacts
):
    def check(page, item):
        problems = _problems(page_report(page))
        change_filters(page)
        return problems + [f"after a filter change: {p}" for p in _problems(page_report(page))]

    assert _visit_all(browser_page, observer_server, check, artifacts, "-observer") == {}


def test_observer_pages_show_no_email_or_panelist_name(browser_page, observer_server):
    who = panel_identities()
    frames = wire(browser_page, keep=True)  # all the server sends: tables, charts too

    def check(page, item):
        shown = []
        for _ in range(2):  # as opened, then after a filter change
            text = page_report(page)["text"]
            shown += [m.group(0) for m in EMAIL.finditer(text)]
            shown += [n for n in who["names"] if n.casefold() in text.casefold()]
            change_filters(page)
        return shown

    assert _visit_all(browser_page, observer_server, check) == {}
    assert frames.payloads, "no WebSocket traffic was captured"
    assert frames.containing(who["names"] + who["emails"]) == []


# --- a deep link as the first request after the server starts ---------------------------------


# Was an app bug (pages/ beside app.py makes Streamlit 1.67 run the v1 multipage fallback until the
# first st.navigation): every page now starts with ui.require_router(), which sends such a run
# through app.py.
def test_deep_link_to_a_fresh_server_goes_through_app_py(chromium, demo_db_master, tmp_path, guard):
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_master, db)
    server = start_server(db, tmp_path, write_observer_secrets(tmp_path / "secrets"))
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    guard.attach(context)
    try:
        page = context.new_page()
        frames = wire(page, keep=True)
        seen = {}
        for declared in [p for p in app_pages() if (ROOT / p["file"]).exists()]:
            nav = open_app(page, server, "/" + declared["file"].rsplit("/", 1)[-1][:-3])
            seen[declared["title"]] = (page_report(page)["title"], [i["title"] for i in nav])
        who = panel_identities()
        assert frames.containing(who["names"] + who["emails"]) == []
        assert all(CORE <= set(titles) for _, titles in seen.values()), seen
        assert "Coordinator" not in {title for title, _ in seen.values()}, seen
    finally:
        context.close()
        server.stop()
