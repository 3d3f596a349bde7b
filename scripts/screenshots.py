#!/usr/bin/env python3
"""Regenerate the README screenshots: docs/screenshots/<page>.png, one per page of the app.

    .venv/bin/python scripts/screenshots.py            # every page in the navigation
    .venv/bin/python scripts/screenshots.py overview   # only these pages (by file name)

Starts the real server (``streamlit run app.py`` on a free 127.0.0.1 port) on a fresh copy of
the demo study, with sign-in configured so there is no demo banner, signs in as the coordinator
(so every page is offered), and photographs each page at 1400x900 (device scale 1) in Debian's
Chromium once its charts and tables have drawn.  Exits 1 if a page shows an error (and leaves
that page's screenshot out).  No request leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser.server import (  # noqa: E402
    CHROMIUM,
    LoopbackGuard,
    build_demo_db,
    choose,
    go_to,
    launch_chromium,
    open_app,
    page_report,
    running_server,
    screenshot,
    sign_in,
    slug,
    wait_idle,
    write_observer_secrets,
)

OUT = ROOT / "docs" / "screenshots"
SIZE = {"width": 1400, "height": 900}


def _statements(page: Any) -> None:
    """A revised statement, so the wording history across rounds shows."""
    choose(page, "Statement", "S07b")


# How to set each page up before its photograph (pages not listed: as they open).
SETUP: dict[str, Callable[[Any], None]] = {"statements": _statements}


def _at_rest(page: Any) -> None:
    """Scrolled to the top, nothing focused, the mouse over an empty corner (no hover effects)."""
    page.evaluate("""() => { const m = document.querySelector('[data-testid="stMain"]');
                             if (m) m.scrollTo(0, 0);
                             if (document.activeElement) document.activeElement.blur(); }""")
    page.mouse.move(SIZE["width"] * 0.6, 20)
    page.wait_for_timeout(300)


def take(out: Path, only: list[str]) -> int:
    """Photograph the pages; return the number of pages that showed an error."""
    from playwright.sync_api import sync_playwright

    failed = 0
    with tempfile.TemporaryDirectory(prefix="delphi-screens-") as tmp:
        work = Path(tmp)
        db = build_demo_db(work / "demo.duckdb")
        secrets = write_observer_secrets(work / "secrets")
        with running_server(db, work, secrets) as server, sync_playwright() as p:
            browser = launch_chromium(p)
            context = browser.new_context(viewport=SIZE, device_scale_factor=1)
            guard = LoopbackGuard()
            guard.attach(context)
            page = context.new_page()
            open_app(page, server)
            sign_in(page, "coordinator")
            nav = open_nav(page)
            for item in nav:
                name = slug(item)
                if only and name not in only:
                    continue
                go_to(page, item)
                SETUP.get(name, lambda _: None)(page)
                report = page_report(page)
                if report["errors"]:
                    failed += 1
                    print(
                        f"{name}: error on the page, no screenshot: {report['errors']}",
                        file=sys.stderr,
                    )
                    continue
                _at_rest(page)
                wait_idle(page)
                path = screenshot(page, out / f"{name}.png", full=False)
                print(f"{path.relative_to(ROOT)}  ({report['title']})")
            browser.close()
            if guard.blocked:
                print(f"blocked requests to other hosts: {guard.blocked}", file=sys.stderr)
                failed += 1
    return failed


def open_nav(page: Any) -> list[dict[str, str]]:
    """The navigation after signing in, Overview first."""
    from tests.browser.server import nav_pages

    nav = nav_pages(page)
    return sorted(nav, key=lambda item: item["title"] != "Overview")


def main(argv: list[str] | None = None) -> int:
    """Command line: which pages, where to."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help="page names (default: every page)")
    parser.add_argument("--out", type=Path, default=OUT, help="folder (default: %(default)s)")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"{CHROMIUM} not found: install Debian's 'chromium' package", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    return 1 if take(args.out, args.pages) else 0


if __name__ == "__main__":
    sys.exit(main())
