"""Page render and rerun times with Streamlit's AppTest (``python -m bench.pages``).

Run in a fresh process per study size, with ``DELPHI_DB`` / ``DELPHI_STUDY`` pointing at it:

* ``first_render`` — a new session opens the page with every ``st.cache_data`` /
  ``st.cache_resource`` cleared (modules already imported: the cold start covers imports);
* ``rerun`` — in that session, after a widget change (the page's first selectbox, multiselect,
  pills, radio, checkbox or toggle in the main area), with warm caches; median of ``--runs``;
* ``connections`` — DuckDB connections opened per warm rerun (counted on ``lib.store.connect``):
  a page that re-queries what a snapshot-keyed cache holds shows up here;
* ``view`` — a new session opening the page with warm caches (another visitor's page view):
  the server CPU per view, from which ``bench.report`` derives the observers one core serves;
* ``view_bytes`` — the data sent for that page view: the serialised size (``ByteSize``) of
  every ForwardMsg the run enqueues for the browser (deltas with their Arrow tables and Plotly
  specs, page and session messages), before the queue merges replaced deltas, as the live
  server, flushing while the script runs, sends most of them; files served by URL (images,
  downloads) are not in it.

Times are the server side of a rerun (script run + element serialisation), not browser painting.

AppTest (Streamlit 1.67) resets ``PagesManager.uses_pages_directory`` before every run, so in an
app with a ``pages/`` folder every run after the first executes the page script alone, without
app.py (multipage v1 behaviour).  The live server clears that flag at the first
``st.navigation`` call and runs app.py on every rerun; :func:`_like_the_live_server` makes
AppTest do the same, so the reruns measured here include app.py's own work (snapshot lookup,
sidebar).
AppTest also compiles every script afresh on every run (a new ``ScriptCache`` per run) where the
server compiles it once; the benchmark shares one cache between runs, as the server does.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

__all__ = ["page_files", "measure_pages"]

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
SKIP_KEYS = {"view_snapshot", "password"}  # the sidebar snapshot picker and the sign-in form


def page_files() -> list[str]:
    """The pages app.py registers that exist (the list is read from app.py's PAGES)."""
    import ast

    tree = ast.parse(APP.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PAGES":
            pages = [elt.elts[0].value for elt in node.value.elts]  # type: ignore[attr-defined]
            return [p for p in pages if (ROOT / p).exists()]
    return ["pages/overview.py"]


def _session() -> Any:
    """A new AppTest session of the coordinator, so that every page is offered: a study that is
    not the bundled demo has sign-in (lib.auth fails closed), so the session is signed in."""
    from streamlit.testing.v1 import AppTest

    from lib.auth import hash_password

    at = AppTest.from_file(str(APP), default_timeout=300)
    at.secrets["access"] = {"coordinator_password_hash": hash_password("bench", iterations=1000)}
    at.session_state["role"] = "coordinator"
    return at


def _like_the_live_server() -> None:
    """Make AppTest rerun as the live server does (see the module docstring)."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.testing.v1 import app_test

    original = PagesManager.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False  # as st.navigation leaves it

    PagesManager.__init__ = init  # type: ignore[method-assign]
    from streamlit.testing.v1 import local_script_runner

    shared = app_test.ScriptCache()  # the server compiles each script once, AppTest every run
    app_test.ScriptCache = lambda: shared  # type: ignore[attr-defined,assignment]  # pages
    local_script_runner.ScriptCache = lambda: shared  # type: ignore[attr-defined,assignment]


class _Counter:
    """Counts ``lib.store.connect`` calls (one per DuckDB connection opened)."""

    def __init__(self) -> None:
        from lib import store

        self.n, self._store, self._orig = 0, store, store.connect

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.n += 1
            return self._orig(*args, **kwargs)

        store.connect = counted


def _widget_changers(at: Any) -> Iterator[tuple[str, Callable[[int], Any]]]:
    """Ways to change one widget on the page, most useful first: (description, change(k))."""

    def usable(ws: Any) -> list[Any]:
        return [w for w in ws if getattr(w, "key", None) not in SKIP_KEYS and not w.disabled]

    for w in usable(at.main.selectbox):
        if len(w.options) >= 2:
            key, n = w.key, len(w.options)
            yield (
                f"selectbox {key!r}",
                lambda k, key=key, n=n: at.selectbox(key=key).select_index((k + 1) % n),
            )
    for w in usable(at.main.multiselect):
        if w.options:
            key, opt = w.key, w.options[0]
            yield (
                f"multiselect {key!r}",
                lambda k, key=key, opt=opt: at.multiselect(key=key).set_value(
                    [opt] if k % 2 == 0 else []
                ),
            )
    for w in usable(at.main.button_group):
        if w.options:
            key, opts = w.key, w.options
            yield (
                f"pills {key!r}",
                lambda k, key=key, opts=opts: at.button_group(key=key).set_value(
                    [opts[k % len(opts)]]
                ),
            )
    for kind in ("radio", "checkbox", "toggle"):
        for w in usable(getattr(at.main, kind)):
            yield (f"{kind} {w.key!r}", _flip(at, kind, w))


def _working_changer(page: str, runs: int) -> tuple[Any, tuple[str, Callable] | None, list[str]]:
    """A fresh session on ``page`` and the first widget change AppTest can drive there.

    AppTest cannot drive every widget (a selectbox whose ``format_func`` formats non-text
    options fails in ``select_index``); such a widget is skipped, noted, not counted as a page
    error.  The session returned has run the change once (caches warm for it).
    """
    notes: list[str] = []
    at = _session()
    at.switch_page(page)
    at.run()
    for desc, change in list(_widget_changers(at)):
        try:
            change(runs)
            at.run()
            return at, (desc, change), notes
        except Exception as exc:
            notes.append(f"{desc}: AppTest cannot drive it ({type(exc).__name__})")
            at = _session()
            at.switch_page(page)
            at.run()
    return at, None, notes


def _flip(at: Any, kind: str, w: Any) -> Callable[[int], Any]:
    if kind == "radio":
        n = len(w.options)
        return lambda k: at.radio(key=w.key).set_value(w.options[(k + 1) % n])
    return lambda k: getattr(at, kind)(key=w.key).set_value(k % 2 == 0)


_CPU: list[float] = []  # CPU seconds of the process during each timed run (all threads)


def _timed_run(at: Any) -> float:
    t0, c0 = time.perf_counter(), time.process_time()
    at.run()
    _CPU.append(time.process_time() - c0)
    return time.perf_counter() - t0


def _errors(at: Any) -> list[str]:
    return [str(e.value)[:300] for e in at.exception] + [str(e.value)[:300] for e in at.error]


def measure_page(page: str, runs: int, counter: _Counter) -> dict[str, Any]:
    """First render (cold caches) and warm widget-change reruns of one page."""
    import streamlit as st

    st.cache_data.clear()
    st.cache_resource.clear()
    at = _session()
    at.switch_page(page)
    first = _timed_run(at)
    out: dict[str, Any] = {
        "page": page,
        "first_render_s": first,
        "first_render_cpu_s": _CPU[-1],
        "errors": _errors(at),
    }
    at, changer, out["notes"] = _working_changer(page, runs)
    out["widget"] = changer[0] if changer else "none (plain rerun)"
    times, conns, cpu_from = [], [], len(_CPU)
    for k in range(runs):
        if changer:
            changer[1](k)
        before = counter.n
        times.append(_timed_run(at))
        conns.append(counter.n - before)
        out["errors"] += [e for e in _errors(at) if e not in out["errors"]]
    out.update(
        rerun_s=_stats(times),
        rerun_cpu_s=_stats(_CPU[cpu_from:]),
        connections_per_rerun=max(conns) if conns else 0,
    )
    out.update(_page_views(page, runs))
    return out


class _Bytes:
    """Sums the serialised size of every ForwardMsg enqueued for the browser while counting."""

    def __init__(self) -> None:
        from streamlit.runtime.forward_msg_queue import ForwardMsgQueue

        self.n, self.on = 0, False

        def count(msg: Any) -> None:
            if self.on:
                self.n += msg.ByteSize()

        ForwardMsgQueue._before_enqueue_msg = staticmethod(count)  # type: ignore[assignment]


_BYTES: list[_Bytes] = []


def _page_views(page: str, runs: int) -> dict[str, Any]:
    """A page view as another visitor makes it: a new session opening the page while the
    per-snapshot caches are warm (what the server spends per view once the first render paid),
    and the bytes sent for the first of them."""
    counter = _BYTES[0] if _BYTES else None
    times, cpu_from, sent = [], len(_CPU), 0
    for k in range(max(1, min(runs, 3))):
        at = _session()
        at.switch_page(page)
        if counter is not None and k == 0:
            counter.n, counter.on = 0, True
        try:
            times.append(_timed_run(at))
        finally:
            if counter is not None and k == 0:
                sent, counter.on = counter.n, False
    return {"view_s": _stats(times), "view_cpu_s": _stats(_CPU[cpu_from:]), "view_bytes": sent}


def _stats(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def measure_pages(runs: int) -> dict[str, Any]:
    """Every page: first render and warm reruns; whether pingouin got imported on the way."""
    _like_the_live_server()
    counter = _Counter()
    if not _BYTES:
        _BYTES.append(_Bytes())
    warm = _session()
    warm.run()  # imports the app's modules once, so first renders measure rendering only
    overview_imports_pingouin = "pingouin" in sys.modules
    pages = [measure_page(p, runs, counter) for p in page_files()]
    return {"pages": pages, "pingouin_imported_by_overview": overview_imports_pingouin}


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.pages --runs N``: print the page figures as JSON (env: DELPHI_DB...)."""
    import logging

    p = argparse.ArgumentParser(prog="python -m bench.pages")
    p.add_argument("--runs", type=int, default=5)
    args = p.parse_args(argv)
    logging.getLogger("streamlit").setLevel(logging.ERROR)
    print("BENCH-JSON " + json.dumps(measure_pages(args.runs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
