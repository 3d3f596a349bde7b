"""Browser-test fixtures: the real server (demo and observer mode) and Debian's Chromium.

Servers are started once per session on free loopback ports, each on its own copy of the demo
database; every page gets a fresh browser context whose requests to any host but 127.0.0.1 are
aborted, and the test fails if one was attempted.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.server import (
    CHROMIUM,
    ROOT,
    LoopbackGuard,
    Server,
    launch_chromium,
    start_server,
    write_observer_secrets,
)

ARTIFACTS = ROOT / "tests" / "artifacts"
VIEWPORT = {"width": 1400, "height": 900}


def _missing_browser() -> str | None:
    if not CHROMIUM.exists():
        why = os.environ.get("DELPHI_TEST_PACKAGES")  # set by `python3 run.py test`
        found = f"{CHROMIUM} not found{f' ({why})' if why else ''}"
        return f"{found}: install Debian's 'chromium' package to run browser tests"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the 'playwright' Python package is not installed"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every browser test, before any server starts, when Chromium is missing."""
    reason = _missing_browser()
    if reason:
        for item in items:
            if item.get_closest_marker("browser"):
                item.add_marker(pytest.mark.skip(reason=reason))


def _server(tmp_path_factory, master: Path, name: str, observer: bool) -> Iterator[Server]:
    work = tmp_path_factory.mktemp(name)
    db = work / "demo.duckdb"
    shutil.copy(master, db)
    secrets = write_observer_secrets(work / "secrets") if observer else None
    server = start_server(db, work, secrets)
    try:
        yield server
    finally:
        server.stop()
        # pytest prunes old temporary directories; keep the log where a failure can be read
        (ARTIFACTS / "browser").mkdir(parents=True, exist_ok=True)
        shutil.copy(server.log, ARTIFACTS / "browser" / f"{name}.log")


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory, demo_db_master) -> Iterator[Server]:
    """The app with no ``[access]`` secrets: demo mode, every page open as coordinator."""
    yield from _server(tmp_path_factory, demo_db_master, "demo_server", observer=False)


@pytest.fixture(scope="session")
def observer_server(tmp_path_factory, demo_db_master) -> Iterator[Server]:
    """The app with ``[access]`` password hashes: a visitor who has not signed in observes."""
    yield from _server(tmp_path_factory, demo_db_master, "observer_server", observer=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Debian Chromium per test module (sync Playwright).

    Module scope, not session: while a sync Playwright instance is open its event loop counts
    as running, so any later test that starts Playwright (or asyncio.run) would fail.
    """
    reason = _missing_browser()
    if reason:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        yield browser
        browser.close()


@pytest.fixture
def guard() -> LoopbackGuard:
    """Records every request the page tried to make to a host other than 127.0.0.1."""
    return LoopbackGuard()


@pytest.fixture
def browser_page(chromium, guard) -> Iterator[Any]:
    """A page in a fresh 1400x900 context, loopback only; fails if it tried another host."""
    context = chromium.new_context(viewport=VIEWPORT, device_scale_factor=1)
    guard.attach(context)
    context.set_default_timeout(60_000)
    page = context.new_page()
    yield page
    context.close()
    assert not guard.blocked, f"requests to hosts other than 127.0.0.1: {guard.blocked}"


@pytest.fixture
def artifacts() -> Path:
    """tests/artifacts/browser (git-ignored): screenshots of the pages as tested."""
    path = ARTIFACTS / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path
