"""The refresh, timed step by step, and its peak memory (``python -m bench.refresh``).

The timed call is the real ``lib.pipeline.refresh(cfg, db, raw=raw)`` (validate -> compute ->
store, no fetch) on raw tab values held in memory; thin wrappers around the functions it calls
time the steps inside it:

* ``ingest``  — ``lib.ingest.ingest``: parse every cell, build the tidy ratings and the validation
  report (the pipeline's ``validate`` timing);
* ``hash``    — ``store.content_hash`` of the raw tabs (decides "no change");
* ``load``    — writing the snapshot's tables into DuckDB (``store and compute`` minus compute);
* ``compute`` — per-statement metrics and status (``study_metrics`` of the ingested ratings,
  as ``lib.pipeline`` calls it), the only computation a refresh stores (``lib.analysis``
  statistics are computed on first view, cached per snapshot, and timed by ``bench.compare`` and
  the pages' first render);
* ``other``   — lock, connection, schema, the result's problems and changes queries.

Beside the steps, each run has ``floor_cpu``: :func:`floor_pass` over the same raw cells, run
in the same process just before the refresh (so both see the same machine load), and
``cpu_over_floor``, the refresh's CPU over it (issue 18's target: at most 5 at L).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from lib import pipeline, store

__all__ = ["STEPS", "floor_pass", "timed_refresh", "peak_rss_mb"]

STEPS = ["ingest", "hash", "load", "compute", "other", "total", "cpu"]
# Functions lib.pipeline calls during its "store and compute" step that compute, not load.
_COMPUTE_NAMES = ("study_metrics",)


@contextmanager
def _spy(owner: Any, name: str, spans: dict[str, float], step: str) -> Iterator[None]:
    """Add the time spent in ``owner.name`` to ``spans[step]`` while the block runs."""
    original: Callable[..., Any] = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spans[step] = spans.get(step, 0.0) + time.perf_counter() - t0

    setattr(owner, name, timed)
    try:
        yield
    finally:
        setattr(owner, name, original)


def floor_pass(tabs: dict[str, list[list[Any]]]) -> float:
    """CPU seconds of the floor: one Python pass over every raw cell with a type test and a
    dict look-up (the least any reading of the cells costs; issue 18)."""
    labels: dict[str, int] = {"Agree": 4}
    get = labels.get
    c0 = time.process_time()
    for rows in tabs.values():
        for row in rows:
            for v in row:
                if isinstance(v, str):
                    get(v)
    return time.process_time() - c0


def timed_refresh(cfg: Any, raw: Any, db: str | Path) -> dict[str, Any]:
    """Run one refresh into ``db`` (which must not hold this content yet); seconds per step,
    and the floor pass over the same cells measured just before it (``floor_cpu``)."""
    floor = floor_pass(raw.tabs)
    spans: dict[str, float] = {}
    with ExitStack() as stack:
        stack.enter_context(_spy(store, "content_hash", spans, "hash"))
        for name in _COMPUTE_NAMES:
            stack.enter_context(_spy(pipeline, name, spans, "compute"))
        t0, c0 = time.perf_counter(), time.process_time()
        res = pipeline.refresh(cfg, db, raw=raw)
        total, cpu = time.perf_counter() - t0, time.process_time() - c0
    if res.outcome != "new":
        raise RuntimeError(f"expected a new snapshot, got {res.outcome}")
    timings = dict(res.timings)
    out = {
        "ingest": timings.get("validate", 0.0),
        "hash": spans.get("hash", 0.0),
        "compute": spans.get("compute", 0.0),
    }
    out["load"] = timings.get("store and compute", 0.0) - out["compute"]
    out["other"] = total - sum(out.values())
    out["total"] = total
    out["cpu"] = cpu  # CPU seconds of every thread: well above total when DuckDB runs in parallel,
    # well below it when other work on the machine takes the CPUs
    return {
        "steps": out,
        "floor_cpu": floor,
        "cpu_over_floor": cpu / floor if floor else None,
        "pipeline_timings": timings,
        "snapshot_id": res.snapshot_id,
        "counts": {k: int(v) for k, v in res.counts.items()},
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB (``ru_maxrss`` is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def _reset_peak() -> bool:
    """Reset VmHWM (Linux ≥ 4.0: write 5 to clear_refs) so the peak is the refresh's own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_rss_mb()


def memory_child(size_name: str, db: str) -> dict[str, Any]:
    """In a fresh process: generate the study, then refresh it; RSS before and at the peak."""
    from bench.generate import SIZES, study_config, study_raw

    size = SIZES[size_name]
    raw, cfg = study_raw(size), study_config(size)
    before = _current_rss_mb()
    reset = _reset_peak()
    t0 = time.perf_counter()
    pipeline.refresh(cfg, db, raw=raw)
    seconds = time.perf_counter() - t0
    peak = _vm_hwm_mb() if reset else peak_rss_mb()
    return {
        "rss_before_mb": round(before, 1),
        "peak_rss_mb": round(peak, 1),
        "peak_is_refresh_only": reset,
        "seconds": round(seconds, 3),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.refresh --memory SIZE --db FILE``: print the memory figures as JSON."""
    p = argparse.ArgumentParser(prog="python -m bench.refresh")
    p.add_argument("--memory", required=True, help="size name (S, M, L)")
    p.add_argument("--db", required=True)
    args = p.parse_args(argv)
    print("BENCH-JSON " + json.dumps(memory_child(args.memory, args.db)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
