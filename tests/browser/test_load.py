"""Load: 20 concurrent observer sessions browse every page while a refresh stores a new snapshot.

One Debian Chromium, one browser context (= one Streamlit session) per observer, all against a
``streamlit run app.py`` on a loopback port in observer mode.  Each session opens the app, then
clicks through the pages of its navigation PASSES times; once every session is in and browsing,
``python -m lib refresh`` runs in a subprocess on the same database with a modified copy of the
demo workbook, so it stores snapshot 2 while the sessions read, and ``python -m lib publish
--close-round 3`` then publishes it as the coordinator would (observers see published snapshots
only; the one changed answer needs its round closed).  Before the 20 arrive, one observer makes
the same views alone, for comparison.  The figures go to
tests/artifacts/load.json (and, by hand, to docs/performance.md, "Load").
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lib import store
from tests.browser.server import (
    CHROMIUM,
    DEMO_WORKBOOK,
    ERROR_SELECTORS,
    IDLE_JS,
    NAV_JS,
    ROOT,
    LoopbackGuard,
    Wire,
    launch_chromium,
    running_server,
    write_observer_secrets,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SESSIONS = 20
# Each session opens the app, then clicks every page of its navigation once: with 5 observer pages,
# 20 x (1 + 5) = 120 page views.  On one 2-CPU machine Chromium's cost dominates (a cold-cache first
# load of the app is several CPU seconds of script parsing per session), so more passes would not
# fit in the time budget; the refresh starts once every session is in and 40 clicks are done.
PASSES = 1
RAMP_S = 0.5  # observers arrive this many seconds apart (all 20 within 10 s)
VIEW_TIMEOUT = 120.0  # seconds for one page view to become idle
OVERALL_TIMEOUT = 200.0  # seconds for the whole browsing, refresh included
BUSY_LOAD_PER_CPU = 3.0  # skip (with the reason) when other processes already load the machine
OUT = ROOT / "tests" / "artifacts" / "load.json"
SNAPSHOT = re.compile(r"Snapshot (\d+) of ")

# Errors on the page, and the snapshot its caption names (None if the page shows no caption).
VIEW_JS = """(errorSelectors) => {
  const errors = errorSelectors.flatMap((s) => Array.from(document.querySelectorAll(s)))
    .map((e) => e.innerText.trim().slice(0, 300));
  const main = document.querySelector('[data-testid="stMain"]');
  return {errors, text: main ? main.innerText.slice(0, 4000) : ''};
}"""


def _modified_workbook(path: Path) -> Path:
    """The demo workbook with one round-3 rating changed, so a refresh stores a new snapshot."""
    import openpyxl

    wb = openpyxl.load_workbook(DEMO_WORKBOOK)
    cell = wb["Round 3"].cell(row=2, column=3)  # first respondent, first statement
    cell.value = "Strongly agree" if cell.value == "Agree" else "Agree"
    wb.save(path)
    return path


def _percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ranked = sorted(values)
    return ranked[max(0, math.ceil(q / 100 * len(ranked)) - 1)]


def _spread(values: list[float]) -> dict[str, Any]:
    """n, p50, p95 and max of page times, in seconds."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50": round(_percentile(values, 50), 2),
        "p95": round(_percentile(values, 95), 2),
        "max": round(max(values), 2),
    }


def _machine() -> dict[str, Any]:
    mem_kb = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    return {
        "nproc": os.cpu_count(),
        "ram_gb": round(mem_kb / 1024**2, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "chromium": subprocess.run(
            [str(CHROMIUM), "--version"], capture_output=True, text=True
        ).stdout.strip(),
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a running process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _idle(page: Any, socket: Wire, runs: int) -> float:
    """Wait for a script run after the ``runs`` seen so far, then for the page to be idle;
    return when it first was (perf_counter)."""
    await socket.wait_for_run_async(page, runs, VIEW_TIMEOUT)
    await page.wait_for_function(IDLE_JS, polling=50, timeout=VIEW_TIMEOUT * 1000)
    first = time.perf_counter()
    await page.wait_for_timeout(150)  # still idle a moment later: the run really ended
    await page.wait_for_function(IDLE_JS, polling=100, timeout=VIEW_TIMEOUT * 1000)
    return first


class _Tally:
    """What the sessions share: the start time, every view, and when to start the refresh."""

    def __init__(self, refresh_after_clicks: float) -> None:
        self.clock0 = time.perf_counter()
        self.views: list[dict[str, Any]] = []
        self.refresh_after_clicks = refresh_after_clicks
        self.midway = asyncio.Event()  # every session is in and browsing

    def add(self, view: dict[str, Any]) -> None:
        """Record one page view."""
        self.views.append(view)
        opened = sum(v["kind"] == "open" for v in self.views)
        clicks = len(self.views) - opened
        if opened == SESSIONS and clicks >= self.refresh_after_clicks:
            self.midway.set()

    async def view(self, page: Any, t0: float, t1: float, kind: str, session: int) -> None:
        """Look at the page just become idle: errors, and the snapshot its caption names."""
        seen = await page.evaluate(VIEW_JS, ERROR_SELECTORS)
        match = SNAPSHOT.search(seen["text"])
        self.add(
            {
                "session": session,
                "kind": kind,
                "path": await page.evaluate("location.pathname"),
                "seconds": t1 - t0,
                "started": t0 - self.clock0,
                "ended": t1 - self.clock0,
                "errors": seen["errors"],
                "snapshot": int(match.group(1)) if match else None,
            }
        )


async def _session(browser: Any, url: str, guard: LoopbackGuard, n: int, tally: _Tally) -> None:
    """One observer: open the app, then click through every page PASSES times."""
    await asyncio.sleep(n * RAMP_S)
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await guard.attach_async(context)
    try:
        page = await context.new_page()
        socket = Wire(page)
        t0 = time.perf_counter()
        await page.goto(url, wait_until="domcontentloaded", timeout=VIEW_TIMEOUT * 1000)
        await tally.view(page, t0, await _idle(page, socket, 0), "open", n)
        nav = await page.evaluate(NAV_JS)
        for _ in range(PASSES):
            for item in nav:
                t0, runs = time.perf_counter(), socket.finished
                await page.locator(
                    f'[data-testid="stSidebarNavLink"][href="{item["href"]}"]'
                ).click()
                await tally.view(page, t0, await _idle(page, socket, runs), "click", n)
    finally:
        await context.close()


async def _refresh(db: Path, source: Path, tally: _Tally) -> dict[str, Any]:
    """``python -m lib refresh``, then ``python -m lib publish``, on the served database while
    the sessions browse (observers see the new snapshot once it is published)."""
    await tally.midway.wait()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DELPHI_")}
    lib = [sys.executable, "-m", "lib"]
    commands = [
        [*lib, "refresh", "--db", str(db), "--source", str(source)],
        [*lib, "publish", "--db", str(db), "--close-round", "3"],  # the changed answer's round
    ]
    t0, outputs, status = time.perf_counter(), [], 0
    for cmd in commands:
        proc = await asyncio.create_subprocess_exec(
            *cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        outputs.append(await proc.communicate())
        status = status or proc.returncode
        if status:
            break
    t1 = time.perf_counter()
    return {
        "command": " && ".join(" ".join(["python", *cmd[1:]]) for cmd in commands),
        "returncode": status,
        "stdout": "".join(out.decode(errors="replace") for out, _ in outputs),
        "stderr": "".join(err.decode(errors="replace") for _, err in outputs),
        "started": t0 - tally.clock0,
        "ended": t1 - tally.clock0,
        "seconds": t1 - t0,
    }


async def _browse(url: str, db: Path, source: Path, guard: LoopbackGuard) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch_chromium(p)
        alone = _Tally(refresh_after_clicks=math.inf)  # the same views by one observer first
        await asyncio.wait_for(_session(browser, url, guard, 0, alone), OVERALL_TIMEOUT / 4)
        tally = _Tally(refresh_after_clicks=2 * SESSIONS)
        refresh = asyncio.create_task(_refresh(db, source, tally))
        sessions = [
            asyncio.create_task(_session(browser, url, guard, n, tally)) for n in range(SESSIONS)
        ]
        _, pending = await asyncio.wait([refresh, *sessions], timeout=OVERALL_TIMEOUT)
        for task in pending:  # over time: stop, but keep the figures gathered so far
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await browser.close()
    failures = [
        repr(t.exception()) for t in sessions if not t.cancelled() and t.exception() is not None
    ]
    failures += [
        f"session still browsing after {OVERALL_TIMEOUT:.0f} s" for t in sessions if t.cancelled()
    ]
    done = refresh.done() and not refresh.cancelled()
    if done and refresh.exception():
        raise refresh.exception()
    return {
        "refresh": refresh.result()
        if done
        else {"returncode": None, "started": math.inf, "ended": math.inf},
        "views": tally.views,
        "alone": alone.views,
        "session_failures": failures,
        "seconds": time.perf_counter() - tally.clock0,
    }


def _figures(run: dict[str, Any], pages: list[str], extra: dict[str, Any]) -> dict[str, Any]:
    views, refresh = run["views"], run["refresh"]
    clicks = [v["seconds"] for v in views if v["kind"] == "click"]
    opens = [v["seconds"] for v in views if v["kind"] == "open"]
    after = [v for v in views if v["started"] > refresh["ended"] and v["snapshot"] is not None]
    during = [
        v for v in views if v["started"] < refresh["ended"] and v["ended"] > refresh["started"]
    ]
    return {
        "sessions": SESSIONS,
        "passes": PASSES,
        "pages": pages,
        "page_views": len(views),
        "errors": sum(bool(v["errors"]) for v in views),
        "errors_by_page": {
            path: sum(bool(v["errors"]) for v in views if v["path"] == path)
            for path in pages
            if any(v["errors"] for v in views if v["path"] == path)
        },
        "error_texts": sorted({e for v in views for e in v["errors"]})[:5],
        "session_failures": run["session_failures"],
        "seconds": round(run["seconds"], 1),
        "page_time_s": _spread(clicks + opens),  # navigation start to idle, every view
        "click_to_idle_s": _spread(clicks),  # a page of the sidebar, same session
        "open_to_idle_s": _spread(opens),  # a new session: HTML, scripts, WebSocket, first run
        "one_session_alone": {  # the same views by one observer before the 20 arrive
            kind: _spread([v["seconds"] for v in run["alone"] if v["kind"] == kind])
            for kind in ("open", "click")
        },
        "refresh": {k: (round(v, 2) if isinstance(v, float) else v) for k, v in refresh.items()},
        "views_during_refresh": len(during),
        "views_after_refresh": len(after),
        "snapshots_seen_after_refresh": sorted({v["snapshot"] for v in after}),
        "machine": _machine(),
        **extra,
        "command": ".venv/bin/python -m pytest tests/browser/test_load.py -q",
    }


def _busy_machine() -> str | None:
    """Why the figures would measure other processes rather than the app, if they would."""
    load, cpus = os.getloadavg()[0], os.cpu_count() or 1
    if load > BUSY_LOAD_PER_CPU * cpus and not os.environ.get("DELPHI_LOAD_TEST_FORCE"):
        return (
            f"machine busy before the load test (1-min load average {load:.1f} on {cpus} "
            "CPUs): 20 browsers and the server would not get the CPU the time budget assumes "
            "(set DELPHI_LOAD_TEST_FORCE=1 to run anyway)"
        )
    return None


def test_twenty_observers_browse_while_a_refresh_runs(demo_db_master, tmp_path):
    busy = _busy_machine()
    if busy:
        pytest.skip(busy)
    db = tmp_path / "demo.duckdb"
    shutil.copy(demo_db_master, db)
    source = _modified_workbook(tmp_path / "modified.xlsx")
    with store.connect(db) as con:
        before = store.latest_snapshot_id(con)
    guard = LoopbackGuard()
    secrets = write_observer_secrets(tmp_path / "secrets")
    with running_server(db, tmp_path, secrets) as server:
        cpu0, load0 = _cpu_seconds(server.proc.pid), os.getloadavg()[0]
        # Playwright's async API gets a thread of its own, away from any sync Playwright loop.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            run = pool.submit(asyncio.run, _browse(server.url, db, source, guard)).result(
                timeout=OVERALL_TIMEOUT + 60
            )
        extra = {
            "server_cpu_s": round(_cpu_seconds(server.proc.pid) - cpu0, 1),
            "load_average_1min": {"start": load0, "end": os.getloadavg()[0]},
        }
        log = server.log_tail(3000)
    pages = sorted({v["path"] for v in run["views"]})
    figures = _figures(run, pages, extra)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    with store.connect(db) as con:
        after = store.latest_snapshot_id(con)

    assert figures["session_failures"] == [], (figures["session_failures"], log)
    assert figures["refresh"]["returncode"] == 0, figures["refresh"]
    assert after == before + 1
    assert figures["page_views"] == SESSIONS * (1 + PASSES * len(pages))
    assert [v for v in run["views"] if v["errors"]] == [], log
    # ui.resolve_snapshot runs on every rerun: a view begun after the refresh shows the new data
    assert figures["views_after_refresh"] > 0
    assert figures["snapshots_seen_after_refresh"] == [after]
    assert guard.blocked == []
