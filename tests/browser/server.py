"""Run the real dashboard (``streamlit run app.py``) on a loopback port and drive Chromium at it.

Used by the browser-test fixtures (tests/browser/conftest.py), the load test and
scripts/screenshots.py.  Nothing here talks to any host but 127.0.0.1: the server binds to it, and
a ``LoopbackGuard`` aborts (and records) any browser request to another host.

A script run is known to be over from the app's WebSocket (``Wire``: the server's
``script_finished`` message), then the page from the DOM (``IDLE_JS``).  The JavaScript snippets
are shared by the sync helpers below and the async load test.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ROOT",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "HOST",
    "Server",
    "LoopbackGuard",
    "free_port",
    "build_demo_db",
    "write_observer_secrets",
    "start_server",
    "running_server",
    "launch_chromium",
    "wait_idle",
    "goto_idle",
    "click_idle",
    "nav_pages",
    "page_report",
    "panel_identities",
    "open_app",
    "go_to",
    "change_filters",
    "choose",
    "screenshot",
    "Wire",
    "wire",
    "app_pages",
    "slug",
    "IDLE_JS",
    "REPORT_JS",
    "NAV_JS",
    "ERROR_SELECTORS",
    "PASSWORDS",
    "sign_in",
    "DEMO_WORKBOOK",
]

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
HOST = "127.0.0.1"
DEMO_WORKBOOK = ROOT / "data" / "demo" / "isotretinoin_delphi.xlsx"
# The test servers' sign-in passwords (their hashes go into a temporary secrets.toml).
PASSWORDS = {"committee": "committee-test", "coordinator": "coordinator-test"}
# The labels of the sign-in form's role choice (lib.ui.access.ROLE_LABELS).
ROLE_LABELS = {"committee": "Steering committee", "coordinator": "Coordinator"}

# Streamlit 1.67's frontend: an uncaught exception (even with client.showErrorDetails = "none")
# renders as stException; st.error as an stAlertContainer holding stAlertContentError.
ERROR_SELECTORS = ['[data-testid="stException"]', '[data-testid="stAlertContentError"]']

# Idle = connected, the script run finished (stApp's data-test-script-state, which the frontend
# sets from its ScriptRunState: initial/running/rerunRequested/notRunning/...), no status widget
# ("Running..."), no app skeleton, and no element left stale from the previous run.
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.dataset.testConnectionState === 'CONNECTED'
    && app.dataset.testScriptState === 'notRunning'
    && !document.querySelector('[data-testid="stStatusWidget"]')
    && !document.querySelector('[data-testid="stAppSkeleton"]')
    && !document.querySelector('[data-testid="stSkeleton"]')
    && !document.querySelector('[data-stale="true"]');
}"""

# What a test needs to know about the page as rendered: errors, charts, tables, title, text.
REPORT_JS = """(errorSelectors) => {
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const q = (s) => Array.from(main.querySelectorAll(s));
  const errors = errorSelectors.flatMap((s) => Array.from(document.querySelectorAll(s)))
    .map((e) => e.innerText.trim().slice(0, 500));
  const charts = q('[data-testid="stPlotlyChart"]');
  // a table inside a collapsed expander is not drawn until it is opened: count visible ones
  const frames = q('[data-testid="stDataFrame"]').filter((f) => f.checkVisibility());
  const h1 = main.querySelector('h1');
  return {
    path: location.pathname,
    title: h1 ? h1.innerText.trim() : null,
    errors,
    charts: charts.length,
    charts_drawn: charts.filter((c) => c.querySelector('.js-plotly-plot .main-svg')).length,
    frames: frames.length,
    frames_drawn: frames.filter((f) => {
      const c = f.querySelector('canvas[data-testid="data-grid-canvas"]');
      return !!c && c.width > 0 && c.height > 0;  // an empty table has a header, no cells
    }).length,
    selectboxes: q('[data-testid="stSelectbox"]').length,
    multiselects: q('[data-testid="stMultiSelect"]').length,
    pills: q('[data-testid="stButtonGroup"]').length,
    banner: Array.from(document.querySelectorAll('[data-testid="stAlertContentWarning"]'))
      .some((e) => e.innerText.includes('Demo mode')),
    text: document.body.innerText,
  };
}"""

SCROLL_UNDRAWN_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]') || document.body;
  const undrawn = Array.from(main.querySelectorAll(
      '[data-testid="stDataFrame"], [data-testid="stPlotlyChart"]'))
    .find((e) => e.checkVisibility() && !e.querySelector(
      'canvas[data-testid="data-grid-canvas"], .js-plotly-plot .main-svg'));
  if (undrawn) undrawn.scrollIntoView({block: 'center'});
}"""

# The pages st.navigation offers this session, in sidebar order: [{title, href, path}].
NAV_JS = """() => Array.from(document.querySelectorAll(
    '[data-testid="stSidebarNav"] [data-testid="stSidebarNavLink"]'))
  .map((a) => {
    const label = a.querySelector('[data-testid="stMarkdownContainer"]');
    return {title: (label || a).innerText.trim(), href: a.href, path: new URL(a.href).pathname};
  })"""


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def build_demo_db(path: Path) -> Path:
    """Build the demo study's database at ``path`` as the app does (lib.pipeline.ensure_demo_db:
    snapshot 1, published with every round closed)."""
    from lib.config import load_config
    from lib.pipeline import ensure_demo_db

    ensure_demo_db(load_config(), path)
    return path


def write_observer_secrets(directory: Path) -> Path:
    """A secrets.toml with an ``[access]`` table, so a visitor who has not signed in observes."""
    from lib.auth import hash_password

    # 1,000 PBKDF2 iterations: fast for tests (the passwords only ever exist here).
    committee = hash_password(PASSWORDS["committee"], iterations=1000)
    coordinator = hash_password(PASSWORDS["coordinator"], iterations=1000)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "secrets.toml"
    path.write_text(
        f'[access]\ncommittee_password_hash = "{committee}"\n'
        f'coordinator_password_hash = "{coordinator}"\n',
        encoding="utf-8",
    )
    return path


@dataclass
class Server:
    """A running ``streamlit run app.py``."""

    url: str
    port: int
    db: Path
    proc: subprocess.Popen
    log: Path
    mode: str = "demo"

    def page_url(self, path: str = "/") -> str:
        """The absolute URL of a path on this server."""
        return f"{self.url}{path if path.startswith('/') else '/' + path}"

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the server's combined stdout/stderr."""
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``timeout`` s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)


def _python() -> str:
    venv = ROOT / ".venv" / "bin" / "python"
    return str(venv) if venv.exists() else sys.executable


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except (urllib.error.URLError, OSError):
        return False


def start_server(
    db: Path,
    workdir: Path,
    secrets: Path | None = None,
    timeout: float = 60.0,
    study: Path | None = None,
) -> Server:
    """Start the app on a free loopback port; return once /_stcore/health says ok.

    ``secrets`` is the only secrets file the server reads (``--secrets.files``); without it the
    server reads a file that does not exist, so it is in demo mode whatever ``.streamlit/`` of the
    repository or of the user holds.  HOME is a fresh directory under ``workdir`` for the same
    reason.  The working directory stays the repository root, so its .streamlit/config.toml
    (theme, showErrorDetails, toolbar) applies as in production.  ``study`` is the study
    configuration (``DELPHI_STUDY``; the bundled demo's without it).
    """
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    secrets_file = secrets or workdir / "no-secrets" / "secrets.toml"
    env = {**os.environ, "DELPHI_DB": str(db), "HOME": str(home), "PYTHONUNBUFFERED": "1"}
    env.pop("DELPHI_STUDY", None)
    if study is not None:
        env["DELPHI_STUDY"] = str(study)
    last_error = ""
    for _ in range(3):  # another process may take the port between free_port() and bind
        port = free_port()
        log = workdir / f"server-{port}.log"
        cmd = [
            _python(),
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            HOST,
            "--browser.gatherUsageStats",
            "false",
            "--server.fileWatcherType",
            "none",
            "--secrets.files",
            str(secrets_file),
        ]
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        server = Server(
            f"http://{HOST}:{port}", port, db, proc, log, "observer" if secrets else "demo"
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if _healthy(server.url):
                return server
            time.sleep(0.2)
        last_error = server.log_tail()
        server.stop()
        if "already in use" not in last_error:
            break
    raise RuntimeError(f"streamlit did not become healthy within {timeout:.0f} s:\n{last_error}")


@contextmanager
def running_server(
    db: Path,
    workdir: Path,
    secrets: Path | None = None,
    timeout: float = 60.0,
    study: Path | None = None,
) -> Iterator[Server]:
    """``start_server`` as a context manager that always stops the server."""
    server = start_server(db, workdir, secrets, timeout, study)
    try:
        yield server
    finally:
        server.stop()


# --- the browser -------------------------------------------------------------------------------


def launch_chromium(playwright: Any, **kwargs: Any) -> Any:
    """Debian's Chromium, headless, with background networking off (sync or async Playwright)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, **kwargs
    )


# Only requests to other hosts are routed (the pattern is matched inside Playwright's driver), so
# the app's own requests never wait for a Python round trip.
_NOT_LOOPBACK = re.compile(r"^(?!(https?|wss?)://127\.0\.0\.1[:/]|data:|blob:|about:)")


@dataclass
class LoopbackGuard:
    """Aborts every browser request to a host other than 127.0.0.1, and remembers it."""

    blocked: list[str] = field(default_factory=list)

    def _sync_route(self, route: Any) -> None:
        self.blocked.append(route.request.url)
        route.abort("blockedbyclient")

    async def _async_route(self, route: Any) -> None:
        self.blocked.append(route.request.url)
        await route.abort("blockedbyclient")

    def _sync_ws(self, ws: Any) -> None:
        self.blocked.append(ws.url)
        ws.close()

    async def _async_ws(self, ws: Any) -> None:
        self.blocked.append(ws.url)
        await ws.close()

    def attach(self, context: Any) -> None:
        """Install the guard on a sync Playwright BrowserContext."""
        context.route(_NOT_LOOPBACK, self._sync_route)
        context.route_web_socket(_NOT_LOOPBACK, self._sync_ws)

    async def attach_async(self, context: Any) -> None:
        """Install the guard on an async Playwright BrowserContext."""
        await context.route(_NOT_LOOPBACK, self._async_route)
        await context.route_web_socket(_NOT_LOOPBACK, self._async_ws)


def wait_idle(page: Any, timeout: float = 60.0) -> None:
    """Wait until the app is connected and its script run has finished (sync Page)."""
    page.wait_for_function(IDLE_JS, timeout=timeout * 1000, polling=100)
    page.wait_for_timeout(150)  # let the last deltas paint, then check again
    page.wait_for_function(IDLE_JS, timeout=timeout * 1000, polling=100)


def goto_idle(page: Any, url: str, timeout: float = 60.0) -> None:
    """Open ``url`` in a fresh session; wait for its first script run to end and the app to idle."""
    socket = wire(page)
    runs = socket.finished
    page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    socket.wait_for_run(page, runs, timeout)
    wait_idle(page, timeout)


def click_idle(page: Any, locator: Any, timeout: float = 60.0) -> None:
    """Click ``locator`` (or call it, if callable), then wait for the rerun it causes to end."""
    socket = wire(page)
    runs = socket.finished
    locator() if callable(locator) else locator.click()
    socket.wait_for_run(page, runs, timeout)
    wait_idle(page, timeout)


def nav_pages(page: Any) -> list[dict[str, str]]:
    """The pages in the sidebar navigation of the current session: [{title, href, path}]."""
    return page.evaluate(NAV_JS)


def page_report(page: Any, settle: float = 10.0) -> dict[str, Any]:
    """Errors, charts, tables, widgets, title and text of the page as rendered (sync Page).

    Charts and tables draw after the script run ends (and a table only once it is on screen), so
    for up to ``settle`` seconds undrawn ones are scrolled into view and looked at again.
    """
    deadline = time.monotonic() + settle
    while True:
        report = page.evaluate(REPORT_JS, ERROR_SELECTORS)
        drawn = (
            report["charts_drawn"] == report["charts"]
            and report["frames_drawn"] == report["frames"]
        )
        if drawn or time.monotonic() > deadline:
            return report
        page.evaluate(SCROLL_UNDRAWN_JS)
        page.wait_for_timeout(200)


def panel_identities(workbook: Path = DEMO_WORKBOOK) -> dict[str, list[str]]:
    """Names and email addresses from the workbook's Panel tab (what observers must never see)."""
    import openpyxl

    wb = openpyxl.load_workbook(workbook, read_only=True, data_only=True)
    try:
        rows = list(wb["Panel"].iter_rows(values_only=True))
    finally:
        wb.close()
    header = [str(h).strip() for h in rows[0]]
    col = {name: header.index(name) for name in ("Name", "Email Address")}
    pick = {k: sorted({str(r[i]).strip() for r in rows[1:] if r[i]}) for k, i in col.items()}
    return {"names": pick["Name"], "emails": pick["Email Address"]}


# --- sessions, navigation and widgets (sync Page) ----------------------------------------------


def open_app(
    page: Any, server: Server, path: str = "/", timeout: float = 60.0
) -> list[dict[str, str]]:
    """Open ``path`` in a new session, wait until idle; return the navigation it offers."""
    goto_idle(page, server.page_url(path), timeout)
    return nav_pages(page)


def go_to(page: Any, item: dict[str, str], timeout: float = 60.0) -> None:
    """Switch to a navigation entry by clicking its sidebar link (same session)."""
    if page.evaluate("() => location.href") == item["href"]:
        return
    link = page.locator(f'[data-testid="stSidebarNavLink"][href="{item["href"]}"]')
    click_idle(page, link, timeout)


def sign_in(page: Any, role: str, timeout: float = 60.0) -> None:
    """Sign in through the sidebar's "Sign in" popover with the test password of ``role``."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("button", name="Sign in").first.click()
    popover = page.locator('[data-testid="stPopoverBody"]')
    form = popover.locator('[data-testid="stForm"]')
    # "Sign in as": the test servers give both roles a password, so the form asks for the role
    choice = popover.get_by_role("radiogroup")
    radio = choice.get_by_role("radio", name=ROLE_LABELS[role], exact=True)
    radio.wait_for(state="attached", timeout=timeout * 1000)
    if not radio.is_checked():
        click_idle(page, choice.get_by_text(ROLE_LABELS[role], exact=True), timeout)
    form.get_by_label("Password", exact=True).fill(PASSWORDS[role])
    click_idle(page, form.get_by_role("button", name="Sign in"), timeout)
    sidebar.get_by_text(f"Signed in as {role}").wait_for(timeout=timeout * 1000)


def _main(page: Any, testid: str) -> Any:
    """Visible elements of the page body (not the sidebar, not inside a hidden tab)."""
    return page.locator(f'[data-testid="stMain"] [data-testid="{testid}"]').filter(visible=True)


def change_filters(page: Any, timeout: float = 30.0) -> list[str]:
    """Change one pills, one selectbox and one multiselect of the page, where it has them.

    Each change is a real click followed by the rerun it causes; returns what was chosen.  The
    selectbox changed is the last one offering another option (the most specific filter, e.g.
    the statement on Statements).  Buttons are never pressed.
    """
    done = []
    pills = _main(page, "stButtonGroup")
    if pills.count():
        button = pills.first.locator("button").first
        click_idle(page, button, timeout)
        done.append(f"pills -> {button.inner_text().strip()}")
    boxes = _main(page, "stSelectbox")
    for i in reversed(range(boxes.count())):
        chosen = _pick_unselected(page, boxes.nth(i), timeout)
        if chosen is not None:
            done.append(f"selectbox -> {chosen}")
            break
    multis = _main(page, "stMultiSelect")
    if multis.count():
        chosen = _pick_unselected(page, multis.first, timeout)
        page.keyboard.press("Escape")
        if chosen is not None:
            done.append(f"multiselect -> {chosen}")
    return done


def _pick_unselected(page: Any, box: Any, timeout: float) -> str | None:
    """Open a selectbox/multiselect (a react-aria ComboBox in Streamlit 1.67) and click the
    first option not selected yet; None when there is none."""
    box.locator('input[role="combobox"]').click()
    page.keyboard.press("ArrowDown")  # opens the list
    option = (
        page.locator('[role="listbox"] [role="option"][aria-selected="false"]')
        .filter(has_not_text="Select all")
        .first
    )  # a multiselect's first option
    try:
        option.wait_for(state="visible", timeout=3000)
    except Exception:  # a single option, already selected: nothing else to choose
        page.keyboard.press("Escape")
        return None
    label = option.inner_text().strip()
    click_idle(page, option, timeout)
    return label


def choose(page: Any, label: str, option: str, timeout: float = 60.0) -> None:
    """Pick ``option`` (typed, so virtualised lists work) in the selectbox labelled ``label``."""
    box = _main(page, "stSelectbox").filter(has=page.get_by_text(label, exact=True)).first

    def pick() -> None:
        field = box.locator('input[role="combobox"]')
        field.click()
        field.fill(option)
        page.get_by_role("option").filter(has_text=option).first.click()

    click_idle(page, pick, timeout)


def screenshot(page: Any, path: Path, full: bool = True, timeout: float = 60.0) -> Path:
    """Save a screenshot; ``full`` grows the viewport to the height of the scrolled content.

    Streamlit scrolls inside stMain, not the document, so Playwright's full_page option alone
    captures one viewport.
    """
    size = page.viewport_size
    if full:
        height = page.evaluate("""() => {
          const m = document.querySelector('[data-testid="stMain"]');
          return m ? m.scrollHeight : document.documentElement.scrollHeight; }""")
        page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
        wait_idle(page, timeout)
        page.wait_for_timeout(300)  # charts and tables re-layout to the new size
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), animations="disabled", caret="hide")
    if full:
        page.set_viewport_size(size)
    return path


class Wire:
    """The app's WebSocket as one page sees it: script runs finished, and optionally every frame.

    A run is over when the server sends a ForwardMsg ``script_finished`` (decoded with
    Streamlit's own protobuf classes); this cannot be missed the way a DOM state can when the
    frontend batches "running" and "not running" into one render.  ``keep`` holds every frame
    the server sent, to check what an observer's browser received.
    """

    def __init__(self, page: Any, keep: bool = False) -> None:
        self.finished = 0
        self.keep = keep
        self.payloads: list[bytes] = []
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: Any) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        data = payload.encode() if isinstance(payload, str) else bytes(payload)
        if self.keep:
            self.payloads.append(data)
        msg = ForwardMsg()
        msg.ParseFromString(data)
        # a run cut short by a newer rerun is followed by that rerun's own script_finished
        if (
            msg.WhichOneof("type") == "script_finished"
            and msg.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN
        ):
            self.finished += 1

    def wait_for_run(self, page: Any, runs: int, timeout: float = 60.0) -> None:
        """Wait (sync Page) until more than ``runs`` script runs have finished."""
        deadline = time.monotonic() + timeout
        while self.finished <= runs:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no script run finished within {timeout:.0f} s")
            page.wait_for_timeout(50)  # lets Playwright deliver the WebSocket events

    async def wait_for_run_async(self, page: Any, runs: int, timeout: float = 60.0) -> None:
        """Wait (async Page) until more than ``runs`` script runs have finished."""
        deadline = time.monotonic() + timeout
        while self.finished <= runs:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no script run finished within {timeout:.0f} s")
            await page.wait_for_timeout(50)

    def containing(self, needles: list[str]) -> list[str]:
        """The needles found (case-insensitively for ASCII) in any frame kept."""
        blob = b"\n".join(self.payloads).lower()
        return [n for n in needles if n.lower().encode("utf-8") in blob]


_WIRES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def wire(page: Any, keep: bool = False) -> Wire:
    """The page's Wire, made on first use (before the page opens the app's WebSocket)."""
    if page not in _WIRES:
        _WIRES[page] = Wire(page, keep)
    return _WIRES[page]


# --- what the app declares ---------------------------------------------------------------------


def app_pages(app: Path = ROOT / "app.py") -> list[dict[str, str]]:
    """app.py's PAGES list (file, title, icon, minimum role, section), read without running it."""
    import ast

    for node in ast.parse(app.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "PAGES" for t in node.targets
        ):
            keys = ("file", "title", "icon", "minimum", "section")
            return [dict(zip(keys, row, strict=True)) for row in ast.literal_eval(node.value)]
    raise LookupError(f"no PAGES list in {app}")


def signed_in_only(app: Path = ROOT / "app.py") -> set[str]:
    """Titles of the pages app.py never offers in demo mode (its SIGNED_IN_ONLY files)."""
    import ast

    for node in ast.parse(app.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "SIGNED_IN_ONLY" for t in node.targets
        ):
            files = ast.literal_eval(node.value)
            return {p["title"] for p in app_pages(app) if p["file"] in files}
    return set()


def slug(item: dict[str, str]) -> str:
    """A file-name-safe name for a navigation entry ('Overview' -> 'overview')."""
    return re.sub(r"[^a-z0-9]+", "-", item["title"].lower()).strip("-") or "page"
