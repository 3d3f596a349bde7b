"""``python -m bench [--sizes S,M,L] [--runs N] [--out FILE.json]``: run the benchmark.

Per size: generate the study, time the refresh (median of the runs, min and max; CPU beside
the floor pass over the same cells), its peak RSS in a fresh process, the fetch from the local
fake Sheets API, ours vs the analyst baseline and the peers (``bench.peers``), the feedback
pack and the HTML report (fresh process), every page (AppTest, fresh process: rerun, first
render and a page view) and the cold start (``streamlit run`` + Chromium); then the Sheets API
requests per refresh for 1 to 10 rounds.  Targets are judged on CPU seconds (the machine is
shared: wall time swings).  Prints tables, writes JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import report
from bench.generate import SIZES, study_config, study_raw, write_toml

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "bench" / "results" / "latest.json"
LARGE = 1_000_000  # cells from which a size counts as large: fewer repeats (see --runs)
# cells from which only the refresh and its memory are measured: the analyst loop, the
# documents, the pages and the cold start of the XL study would take many minutes and say
# nothing the L study does not (XL is there for the growth of the refresh with the data)
GROWTH_ONLY = 4_000_000


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    p.add_argument(
        "--sizes",
        default="S,M,L",
        help="comma-separated, of S, M, L, XL (default %(default)s; XL, 6 M rating cells, "
        "measures the refresh and its memory only)",
    )
    p.add_argument(
        "--runs",
        type=int,
        default=5,
        help="repeats per measurement (default %(default)s; sizes over 1 M cells "
        "use at most 3 for the refresh and cold start, 1 for the baseline)",
    )
    p.add_argument("--out", default=str(DEFAULT_OUT), help="JSON file (default %(default)s)")
    p.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to skip: memory, fetch, baseline (ours vs the analyst loop "
        "and the peers), documents, pages, coldstart, requests",
    )
    p.add_argument("--keep", action="store_true", help="keep the generated databases")
    return p


def _child(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m <args>`` in a fresh process; the JSON it prints (``BENCH-JSON`` line)."""
    import os

    out = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("BENCH-JSON "):
            return json.loads(line[len("BENCH-JSON ") :])
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"python -m {' '.join(args)} failed:\n{out.stderr[-3000:]}")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def bench_size(name: str, runs: int, work: Path, skip: set[str]) -> dict[str, Any]:
    """Every measurement of one size."""
    from bench import coldstart, compare, sheets
    from bench.refresh import timed_refresh

    size = SIZES[name]
    large = size.cells >= LARGE
    if size.cells >= GROWTH_ONLY:
        skip = skip | {"fetch", "baseline", "documents", "pages", "coldstart"}
    cfg, raw = study_config(size), study_raw(size)
    study = write_toml(size, work / f"{name}.toml")
    out: dict[str, Any] = {
        "size": {
            "panelists": size.panelists,
            "statements": size.statements,
            "rounds": size.rounds,
            "rating_cells": size.cells,
            "cells": sum(len(r) for t in raw.tabs.values() for r in t),
        }
    }
    n_refresh = min(runs, 3) if large else runs
    _say(f"[{name}] refresh × {n_refresh}")
    out["refresh"] = [
        timed_refresh(cfg, raw, work / f"{name}-{k}.duckdb") for k in range(n_refresh)
    ]
    db = str(work / f"{name}-{n_refresh - 1}.duckdb")
    sid = out["refresh"][-1]["snapshot_id"]
    del raw
    if "memory" not in skip:
        _say(f"[{name}] peak memory")
        out["memory"] = _child(
            ["bench.refresh", "--memory", name, "--db", str(work / f"{name}-mem.duckdb")]
        )
    if "fetch" not in skip:
        _say(f"[{name}] fetch from the fake Sheets API")
        out["fetch"] = sheets.timed_fetch(size)
    if "baseline" not in skip:
        _say(f"[{name}] ours vs baseline and peers")
        out["side_by_side"] = compare.side_by_side(db, cfg, sid, 1 if large else min(runs, 3))
    if "documents" not in skip:
        _say(f"[{name}] feedback pack and HTML report")
        args = ["--db", db, "--study", str(study), "--snapshot", str(sid)]
        out["documents"] = _child(["bench.documents", *args])
    env = {"DELPHI_DB": db, "DELPHI_STUDY": str(study)}
    if "pages" not in skip:
        _say(f"[{name}] pages (AppTest)")
        out["pages"] = _child(["bench.pages", "--runs", str(runs)], env)
    if "coldstart" not in skip:
        _say(f"[{name}] cold start")
        out["cold_start"] = coldstart.cold_start(db, str(study), cfg.title, min(runs, 3))
    return out


def run(sizes: list[str], runs: int, skip: set[str], keep: bool = False) -> dict[str, Any]:
    """The whole benchmark as one JSON-able dict."""
    work = Path(tempfile.mkdtemp(prefix="delphi-bench-"))
    started = dt.datetime.now(dt.UTC)
    try:
        result: dict[str, Any] = {"meta": report.machine(), "runs": runs, "sizes": {}}
        for name in sizes:
            result["sizes"][name] = bench_size(name, runs, work, skip)
        if "requests" not in skip:
            from bench import sheets

            _say("Sheets API requests for 1..10 rounds")
            result["sheets_requests"] = sheets.requests_per_rounds(10)
    finally:
        if keep:
            _say(f"databases kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    result["meta"]["date"] = started.isoformat(timespec="seconds")
    result["meta"]["duration_s"] = (dt.datetime.now(dt.UTC) - started).total_seconds()
    result["meta"]["command"] = "python -m bench " + " ".join(sys.argv[1:])
    result["summary"] = report.summarise(result)
    return result


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the tables, write the JSON."""
    args = _parser().parse_args(argv)
    sizes = [s.strip().upper() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        print(
            f"error: unknown size {unknown[0]!r}; choose from {', '.join(SIZES)}", file=sys.stderr
        )
        return 2
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    result = run(sizes, max(1, args.runs), skip, args.keep)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str), encoding="utf-8")
    print(report.tables(result))
    print(f"\nJSON written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
