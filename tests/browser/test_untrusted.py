"""Sheet text in a real browser (Debian's Chromium): a hostile header, tab name, statement text
or domain renders as text -- no link, no image, no request leaves 127.0.0.1 (issue 12, item 5).

The observer opens a study whose first build fails on its headers (the error quotes them), and
every page of a study whose statements and domains are the payloads.  Each page is searched for
anchors and images inside rendered markdown; the loopback guard of ``browser_page`` fails the
test if the page tried to reach another host (the remote pixel below would).
"""

from __future__ import annotations

import pytest

from lib.config import load_config
from lib.pipeline import refresh
from lib.publication import publish
from tests.browser.server import (
    go_to,
    open_app,
    running_server,
    write_observer_secrets,
)
from tests.untrusted import PAYLOADS, hostile_tabs, write_study

pytestmark = pytest.mark.browser

REMOTE_PIXEL = "![pixel](http://pixel.invalid/p.png)"  # loading it would leave 127.0.0.1
# Links and images inside rendered markdown of the page body; not the sidebar's navigation nor
# Streamlit's in-page anchors of headings (href="#...").
LIVE_JS = """() => Array.from(document.querySelectorAll(
    ['stMarkdownContainer', 'stAlertContainer'].flatMap((id) => [
      `[data-testid="stMain"] [data-testid="${id}"] a:not([href^="#"])`,
      `[data-testid="stMain"] [data-testid="${id}"] img`]).join(', ')))
  .map((e) => e.outerHTML.slice(0, 200))"""


def _text(page) -> str:
    return page.evaluate("() => document.body.innerText").replace("\u2060", "")


def test_first_build_error_shows_hostile_headers_as_text(browser_page, tmp_path):
    tabs = hostile_tabs()
    tabs["Round 1"][0][1] = "E-mail"  # no identity column: the error quotes every header
    tabs["Round 1"][0].append(REMOTE_PIXEL)
    for row in tabs["Round 1"][1:]:
        row.append("Agree")
    study = write_study(tmp_path / "study", tabs)
    secrets = write_observer_secrets(tmp_path / "secrets")
    with running_server(tmp_path / "data" / "delphi.duckdb", tmp_path, secrets, study=study) as s:
        open_app(browser_page, s)
        assert browser_page.evaluate(LIVE_JS) == []
        text = _text(browser_page)
        assert "has no identity column" in text
        assert all(p in text for p in [*PAYLOADS[:2], REMOTE_PIXEL]), text[:2000]
        assert str(tmp_path) not in text  # no server path for an observer


def test_every_page_shows_hostile_statements_and_domains_as_text(browser_page, tmp_path):
    tabs = hostile_tabs()
    tabs["Statements"][1][2] = REMOTE_PIXEL  # S01's domain
    study = write_study(tmp_path / "study", tabs)
    db = tmp_path / "hostile.duckdb"
    refresh(load_config(study), db)
    publish(db, close_rounds=(1, 2))
    secrets = write_observer_secrets(tmp_path / "secrets")
    with running_server(db, tmp_path, secrets, study=study) as server:
        nav = open_app(browser_page, server)
        assert len(nav) >= 4
        seen = ""
        for item in nav:
            go_to(browser_page, item)
            assert browser_page.evaluate(LIVE_JS) == [], item["title"]
            seen += _text(browser_page)
        assert REMOTE_PIXEL in seen and PAYLOADS[3] in seen  # S01's domain and text, as written
