"""``python -m lib forms build|links`` and ``python -m lib results``: the page's write path."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lib import store
from lib.config import ConfigError, StudyConfig, load_config
from lib.forms.build import STYLES, build_form, rounds_toml
from lib.forms.links import prefilled_links
from lib.forms.results import results_rows
from lib.forms.write import read_form, write_form, write_results
from lib.reports.safety import safe_csv
from lib.sources.base import GoogleSheetError, is_google_sheet

__all__ = ["add_forms", "add_results", "run_forms", "run_results"]

_CREDENTIALS = "service-account JSON file (or set DELPHI_GOOGLE_CREDENTIALS)"


def _common(p: argparse.ArgumentParser, study_help: str, db_help: str) -> None:
    p.add_argument("--credentials", help=_CREDENTIALS)
    p.add_argument("--study", help=study_help)
    p.add_argument("--db", help=db_help)


def add_forms(sub: Any, study_help: str, db_help: str) -> None:
    """The ``forms`` command and its ``build`` and ``links`` subcommands."""
    f = sub.add_parser("forms", help="fill the next round's Google Form; pre-filled links")
    fs = f.add_subparsers(dest="forms_command", required=True)
    b = fs.add_parser(
        "build",
        help="fill an empty Google Form with a round's statements",
        description="One question per statement of round N (the Statements tab's rows, as "
        "stored by the last refresh), its ID first in the title, the previous round's result "
        "and what changed in its description, a comment question after each. The form must "
        "be empty and shared with the service account as Editor.",
    )
    b.add_argument("--form", required=True, help="the form's editor address or ID")
    b.add_argument("--round", type=int, help="the round the form asks (default: the next one)")
    b.add_argument("--dry-run", action="store_true", help="print what would be written")
    b.add_argument("--style", choices=STYLES, default="auto", help="question type (%(default)s)")
    b.add_argument("--no-comments", action="store_true", help="no comment question")
    _common(b, study_help, db_help)
    k = fs.add_parser(
        "links",
        help="write each panelist's pre-filled link to the form",
        description="identity, pseudonym, feedback file name and the personal link that "
        "fills in the identity question and the panelist's own previous rating of each "
        "statement carried unchanged.",
    )
    k.add_argument("--form", required=True, help="the form's editor address or ID")
    k.add_argument("--round", type=int, help="the round the form asks (default: the next one)")
    k.add_argument("--out", required=True, help="CSV file to write")
    _common(k, study_help, db_help)


def add_results(sub: Any, study_help: str, db_help: str) -> None:
    """The ``results`` command."""
    r = sub.add_parser(
        "results",
        help="write the Results tab of the current snapshot into the study's sheet",
        description="Per statement and round: n, % agree, median, IQR and status, with the "
        "snapshot id and the consensus rule; aggregates only, never identities. Written to a "
        "new tab, then swapped in for the old Results tab. The sheet must be shared with the "
        "service account as Editor.",
    )
    r.add_argument("--sheet", help="another spreadsheet's address (default: the study's)")
    _common(r, study_help, db_help)


def _api(args: argparse.Namespace) -> dict[str, Any]:
    return {"credentials_file": args.credentials} if args.credentials else {}


def _frames(db: str) -> tuple[int, dict[str, Any]]:
    if not Path(db).exists():
        raise store.StoreError(f"database {db} not found; run 'python -m lib refresh'")
    with store.connect(db, read_only=True) as con:
        sid = store.latest_snapshot_id(con)
        if sid is None:
            raise store.StoreError("the database has no snapshot yet; run 'python -m lib refresh'")
        frames = {
            "info": store.snapshot_info(con, sid),
            "statements": store.statements_for(con, sid),
            "metrics": store.metrics_for(con, sid),
            "distribution": store.distribution_for(con, sid),
            "ratings": store.ratings_for(con, sid),
            "recipients": store.feedback_recipients(con, sid),
        }
    return sid, frames


def _rounds(frames: dict[str, Any], wanted: int | None) -> tuple[int, int]:
    """(the form's round, the last round rated before it)."""
    rated = sorted(int(r) for r in frames["metrics"]["round"].unique())
    rnd = wanted if wanted is not None else (rated[-1] + 1 if rated else 1)
    before = [r for r in rated if r < rnd]
    if not before:
        raise ConfigError(f"no round before round {rnd} has ratings to build on")
    return rnd, before[-1]


def _forms_build(args: argparse.Namespace, cfg: StudyConfig) -> int:
    sid, frames = _frames(args.db)
    rnd, closed = _rounds(frames, args.round)
    stmts = frames["statements"]
    rows = stmts[stmts["round"] == rnd]
    if rows.empty:
        raise ConfigError(
            f"snapshot {sid} lists no statements for round {rnd}: add them to the Statements "
            "tab (the Next round page downloads the rows) and refresh first"
        )
    plan = build_form(
        rows, frames["metrics"], frames["distribution"], cfg, closed,
        style=args.style, comments=not args.no_comments,
    )  # fmt: skip
    for r in plan.preview.itertuples():
        print(f"{r.position:>3}. [{r.kind}] {r.title}")
        if r.description:
            print(f"       {r.description}")
    for note in plan.notes:
        print(f"note: {note}")
    if args.dry_run:
        print(f"Dry run: {plan.n_questions} items for round {rnd} (nothing written).")
        return 0
    done = write_form(args.form, plan, **_api(args))
    print(
        f"Wrote {plan.n_questions} items for round {rnd} to the form in {done.requests} "
        "requests.\nNext, in the form: Responses > Link to Sheets > Select existing "
        "spreadsheet (the study's). Then in the study file, read the new tab as round "
        f"{rnd} (use the tab's name as Google shows it):\n" + rounds_toml(cfg.rounds, rnd)
    )
    return 0


def _forms_links(args: argparse.Namespace, cfg: StudyConfig) -> int:
    _, frames = _frames(args.db)
    _, closed = _rounds(frames, args.round)
    form = read_form(args.form, **_api(args))
    links = prefilled_links(
        form, frames["ratings"], frames["recipients"],
        lambda s: cfg.scale_for(closed, s), cfg.identity_column, closed,
    )  # fmt: skip
    Path(args.out).write_text(safe_csv(links), encoding="utf-8")
    print(f"Wrote {len(links)} pre-filled links (round {closed}'s ratings) to {args.out}")
    return 0


def run_forms(args: argparse.Namespace) -> int:
    """Run ``forms build`` or ``forms links``."""
    cfg = load_config(args.study)
    try:
        if args.forms_command == "build":
            return _forms_build(args, cfg)
        return _forms_links(args, cfg)
    except GoogleSheetError as exc:
        raise ValueError(str(exc)) from None


def run_results(args: argparse.Namespace) -> int:
    """Run ``results``."""
    cfg = load_config(args.study)
    sheet = args.sheet or cfg.source
    if not is_google_sheet(sheet):
        raise ConfigError(f"the study's source is not a Google Sheet ({sheet}): give --sheet")
    _, frames = _frames(args.db)
    rows = results_rows(frames["metrics"], frames["info"])
    try:
        done = write_results(sheet, rows, **_api(args))
    except GoogleSheetError as exc:
        raise ValueError(str(exc)) from None
    print(
        f"Wrote the '{done.tab}' tab ({len(rows) - 6} statement rows of snapshot "
        f"{frames['info']['snapshot_id']}, aggregates only) in {done.requests} requests."
    )
    return 0
