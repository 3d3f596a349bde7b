"""Cold start: process start to the first page rendered in a browser (``python -m bench``).

A real ``streamlit run app.py`` on a free 127.0.0.1 port (``DELPHI_DB`` / ``DELPHI_STUDY`` set)
and Debian's Chromium driven by Playwright: the browser is launched first (not timed), then the
clock starts as the server process is spawned and stops when the Overview's title (an ``h1``
holding the study title) is visible.  ``server_ready_s`` is when ``/_stcore/health`` first
answered, ``frontend_loaded_s`` when the page's ``load`` event fired (static files in), and
``server_cpu_s`` the CPU seconds the server process had used by the time the title showed (a
figure that other work on the machine does not inflate).  Without Chromium or Playwright it
falls back to AppTest in a fresh Python process (import + first run, no HTTP), and says so in
``method``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

__all__ = ["cold_start", "CHROMIUM"]

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_health(url: str, proc: subprocess.Popen, deadline: float) -> float:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as resp:
                if resp.status == 200:
                    return time.monotonic()
        except OSError:
            time.sleep(0.02)
    raise TimeoutError("streamlit did not become healthy in time")


def _streamlit(port: int, env: dict[str, str]) -> subprocess.Popen:
    secrets = env.get("BENCH_SECRETS_FILE")
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        "app.py",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
        *(["--secrets.files", secrets] if secrets else []),
    ]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _browser_once(browser: Any, title: str, env: dict[str, str]) -> dict[str, float]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    page = browser.new_page()
    t0 = time.monotonic()
    proc = _streamlit(port, env)
    try:
        ready = _wait_health(url, proc, t0 + 120)
        page.goto(url, wait_until="load")  # the frontend's HTML, JS and CSS are in
        loaded = time.monotonic()
        page.locator("h1", has_text=title).first.wait_for(state="visible", timeout=120_000)
        shown = time.monotonic()
        cpu = _cpu_seconds(proc.pid)
    finally:
        page.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return {
        "first_page_s": shown - t0,
        "server_ready_s": ready - t0,
        "frontend_loaded_s": loaded - t0,
        "server_cpu_s": cpu,
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc), else NaN."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def _apptest_once(env: dict[str, str]) -> dict[str, float]:
    code = (
        "import time; t0 = time.monotonic()\n"
        "from streamlit.testing.v1 import AppTest\n"
        "at = AppTest.from_file('app.py', default_timeout=300).run()\n"
        "assert not at.exception, at.exception\n"
        "print(time.monotonic() - t0)"
    )
    t0 = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return {
        "first_page_s": time.monotonic() - t0,
        "import_and_run_s": float(out.stdout.strip().splitlines()[-1]),
    }


def _as_deployed(db: str, folder: Path) -> Path:
    """What a shared link shows: ``db``'s latest snapshot published (every round closed) and a
    secrets file with sign-in configured, so the first page is the observer's Overview."""
    from lib import store
    from lib.auth import hash_password
    from lib.publication import publish

    with store.connect(db, read_only=True) as con:
        latest = store.latest_snapshot_id(con)
        rounds = store.metrics_for(con, latest)["round"].unique().tolist()
    publish(db, latest, close_rounds=[int(r) for r in rounds])
    secrets = folder / "secrets.toml"
    digest = hash_password("bench-committee", iterations=1000)
    secrets.write_text(f'[access]\ncommittee_password_hash = "{digest}"\n')
    return secrets


def cold_start(db: str, study: str, title: str, runs: int) -> dict[str, Any]:
    """Cold starts of the dashboard on ``db`` as an observer opens the shared link: a list of
    timings and the method used (the latest snapshot is published first)."""
    secrets = _as_deployed(db, Path(db).parent)
    env = {**os.environ, "DELPHI_DB": db, "DELPHI_STUDY": study, "BENCH_SECRETS_FILE": str(secrets)}
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not CHROMIUM.exists():
        return {
            "method": "AppTest in a fresh process (no Chromium)",
            "runs": [_apptest_once(env) for _ in range(runs)],
        }
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            out = [_browser_once(browser, title, env) for _ in range(runs)]
        finally:
            browser.close()
    return {
        "method": "streamlit run + Chromium (Playwright), until the Overview h1 is visible",
        "runs": out,
    }
