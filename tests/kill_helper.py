"""Run one refresh of the demo study, saying where it is, so tests/test_kill.py can kill it there.

    python -m tests.kill_helper DB [--hold MARKER]

Prints one line per point reached, flushed at once: ``ready`` (imports done), the refresh steps
(``fetch``, ``validate``, ``store and compute``), ``insert <table>`` after each INSERT inside the
store transaction, ``refresh log`` just before the new snapshot's refresh-log line is written,
``committed`` once the snapshot is committed, and ``done``.  With ``--hold
MARKER`` it sleeps right after printing MARKER, so the parent can SIGKILL it at exactly that point.
The hooks wrap lib.store functions in this process only; lib itself has no test hooks.
"""

from __future__ import annotations

import argparse
import sys
import time

from lib import pipeline, store
from lib.config import load_config
from lib.store import snapshots


def _mark(name: str, hold: str | None) -> None:
    print(name, flush=True)
    if name == hold:
        time.sleep(60)  # the parent kills us long before this ends


def _trace(hold: str | None) -> None:
    insert, write, log = snapshots._insert, store.write_snapshot, store.log_refresh

    def traced_insert(con, table, *args, **kwargs):
        insert(con, table, *args, **kwargs)
        _mark(f"insert {table}", hold)

    def traced_write(*args, **kwargs):
        sid = write(*args, **kwargs)
        _mark("committed", hold)
        return sid

    def traced_log(con, source, outcome, *args, **kwargs):
        if outcome == "new":
            _mark("refresh log", hold)
        log(con, source, outcome, *args, **kwargs)

    snapshots._insert, store.write_snapshot = traced_insert, traced_write
    # wherever the line is written from: lib.pipeline calls store.log_refresh, lib.store.snapshots
    # its own import
    store.log_refresh = traced_log
    if hasattr(snapshots, "log_refresh"):
        snapshots.log_refresh = traced_log


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("db")
    parser.add_argument("--hold", default=None)
    args = parser.parse_args(argv)
    _trace(args.hold)
    cfg = load_config()
    _mark("ready", args.hold)
    pipeline.refresh(cfg, args.db, progress=lambda step: _mark(step, args.hold))
    _mark("done", args.hold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
