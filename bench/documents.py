"""The documents a coordinator makes, timed (``python -m bench.documents``, a fresh process).

* ``feedback`` — the feedback pack: every panelist's HTML document in one ZIP
  (``lib.reports.feedback.feedback_zip``) after the last round: CPU and wall seconds, the
  process's peak RSS while it is made (VmHWM reset first, so the peak is the pack's own) and
  the archive's size; ``data_cpu_s`` is building its data from the snapshot, before;
* ``report`` — the HTML consensus report (``lib.reports.html.html_report``): CPU seconds and
  size in bytes.

Run with ``--db`` (a refreshed benchmark database), ``--study`` (its study file) and
``--snapshot``; prints one ``BENCH-JSON`` line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from typing import Any

from bench.refresh import _reset_peak, _vm_hwm_mb, peak_rss_mb

__all__ = ["measure_documents"]


def _timed(fn: Any) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.process_time() - c0, time.perf_counter() - t0


def measure_documents(db: str, study: str, sid: int) -> dict[str, Any]:
    """The feedback pack and the HTML report of snapshot ``sid``."""
    from lib import store
    from lib.config import load_config
    from lib.reports.data import build_feedback_data, build_report_data
    from lib.reports.feedback import feedback_zip
    from lib.reports.html import html_report
    from lib.reports.inputs import StoreFrames, feedback_inputs, report_inputs

    cfg = load_config(study)
    with store.connect(db, read_only=True) as con:
        source = StoreFrames(con, sid)
        fd, data_cpu, _ = _timed(lambda: build_feedback_data(feedback_inputs(source), cfg))
        report_frames = report_inputs(source, include_comments=True)
    reset = _reset_peak()
    archive, cpu, wall = _timed(partial(feedback_zip, fd))
    peak = _vm_hwm_mb() if reset else peak_rss_mb()
    feedback = {
        "documents": len(fd.panelists),
        "data_cpu_s": data_cpu,
        "cpu_s": cpu,
        "wall_s": wall,
        "peak_rss_mb": round(peak, 1),
        "peak_is_pack_only": reset,
        "archive_bytes": len(archive),
    }
    del archive, fd
    data, data_cpu, _ = _timed(lambda: build_report_data(report_frames, cfg))
    html, cpu, wall = _timed(lambda: html_report(data))
    report = {
        "data_cpu_s": data_cpu,
        "cpu_s": cpu,
        "wall_s": wall,
        "html_bytes": len(html.encode("utf-8")),
    }
    return {"feedback": feedback, "report": report}


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.documents --db FILE --study FILE --snapshot N``: print the figures."""
    p = argparse.ArgumentParser(prog="python -m bench.documents")
    p.add_argument("--db", required=True)
    p.add_argument("--study", required=True)
    p.add_argument("--snapshot", type=int, required=True)
    args = p.parse_args(argv)
    print("BENCH-JSON " + json.dumps(measure_documents(args.db, args.study, args.snapshot)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
