"""``python -m lib forms build|links`` and ``python -m lib results``: the page's write path."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lib import store, study_db
from lib.config import ConfigError, StudyConfig, load_config
from lib.forms.build import STYLES, build_form, rounds_toml
from lib.forms.links import prefilled_links
from lib.forms.results import results_rows
from lib.forms.write import read_form, write_form, write_results
from lib.pipeline import StudyMismatch
from lib.reports.safety import safe_csv
from lib.sources.base import GoogleSheetError, is_google_sheet
from lib.sources.gsheets import parse_sheet_key

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
        help="write the Results tab of the published snapshot into the study's sheet",
        description="Per statement and round: n, % agree, median, IQR and status, with the "
        "snapshot id and the consensus rule; aggregates only, never identities. Written to a "
        "new tab, then swapped in for the old Results tab. The sheet must be shared with the "
        "service account as Editor. Another spreadsheet (--sheet) gets published snapshots "
        "only.",
    )
    r.add_argument("--sheet", help="another spreadsheet's address (default: the study's)")
    which = r.add_mutually_exclusive_group()
    which.add_argument("--snapshot", type=int, help="snapshot id (default: the published one)")
    which.add_argument(
        "--latest",
        action="store_true",
        help="the latest snapshot, published or not (into the study's own sheet only)",
    )
    _common(r, study_help, db_help)


def _api(args: argparse.Namespace) -> dict[str, Any]:
    return {"credentials_file": args.credentials} if args.credentials else {}


def _published(con: Any, requested: int | None, latest: bool) -> tuple[int, bool]:
    """(the snapshot asked for, else the published one; whether it was ever published)."""
    shown = {int(s) for s in store.publications(con)["snapshot_id"]}
    if requested is not None:
        store.snapshot_info(con, requested)  # raises if it does not exist
        return requested, requested in shown
    sid = store.latest_snapshot_id(con) if latest else store.published_snapshot_id(con)
    if sid is None:
        raise store.StoreError(
            "no snapshot is published yet: publish one ('python -m lib publish'), or name one "
            "with --snapshot N or --latest"
        )
    return sid, sid in shown


def _frames(
    db: str, cfg: StudyConfig, requested: int | None = None, latest: bool = True
) -> tuple[int, bool, dict[str, Any]]:
    """(snapshot id, whether it was published, its frames): the latest snapshot by default,
    else ``requested``, or the published one when neither is given and ``latest`` is off."""
    if not Path(db).exists():
        raise store.StoreError(f"database {db} not found; run 'python -m lib refresh'")
    with store.connect(db, read_only=True) as con:
        other = study_db.mismatch(con, cfg.source, cfg.title, db=db, study=cfg.path)
        if other is not None:  # another study's database: exit 2 naming both, as elsewhere
            raise StudyMismatch(other)
        if store.latest_snapshot_id(con) is None:
            raise store.StoreError("the database has no snapshot yet; run 'python -m lib refresh'")
        sid, published = _published(con, requested, latest)
        frames = {
            "info": store.snapshot_info(con, sid),
            "statements": store.statements_for(con, sid),
            "metrics": store.metrics_for(con, sid),
            "distribution": store.distribution_for(con, sid),
            "ratings": store.ratings_for(con, sid),
            "recipients": store.feedback_recipients(con, sid),
        }
    return sid, published, frames


def _rounds(frames: dict[str, Any], wanted: int | None) -> tuple[int, int]:
    """(the form's round, the last round rated before it)."""
    rated = sorted(int(r) for r in frames["metrics"]["round"].unique())
    rnd = wanted if wanted is not None else (rated[-1] + 1 if rated else 1)
    before = [r for r in rated if r < rnd]
    if not before:
        raise ConfigError(f"no round before round {rnd} has ratings to build on")
    return rnd, before[-1]


def _forms_build(args: argparse.Namespace, cfg: StudyConfig) -> int:
    sid, _, frames = _frames(args.db, cfg)
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
    _, _, frames = _frames(args.db, cfg)
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


def _another_sheet(sheet: str | None, source: str) -> bool:
    """Whether ``--sheet`` names a spreadsheet other than the study's own."""
    if not sheet:
        return False
    return not is_google_sheet(source) or parse_sheet_key(sheet) != parse_sheet_key(source)


def run_results(args: argparse.Namespace) -> int:
    """Run ``results``: the published snapshot by default; another spreadsheet than the
    study's own gets published snapshots only."""
    cfg = load_config(args.study)
    sheet = args.sheet or cfg.source
    if not is_google_sheet(sheet):
        raise ConfigError(f"the study's source is not a Google Sheet ({sheet}): give --sheet")
    try:
        other = _another_sheet(args.sheet, cfg.source)
        sid, published, frames = _frames(args.db, cfg, args.snapshot, args.latest)
        if other and not published:
            # publish's differencing check guards what observers see; a copy elsewhere gets
            # only what was published (two writes a few late responses apart would reveal
            # those respondents' ratings to the other sheet's readers)
            raise ConfigError(
                f"snapshot {sid} is not published, and --sheet names a spreadsheet other than "
                "the study's own, whose readers may not see the answers: publish it first "
                "('python -m lib publish'), or leave out --sheet to write it to the study's "
                "own sheet"
            )
        rows = results_rows(frames["metrics"], frames["info"])
        done = write_results(sheet, rows, **_api(args))
    except GoogleSheetError as exc:
        raise ValueError(str(exc)) from None
    print(
        f"Wrote the '{done.tab}' tab ({len(rows) - 6} statement rows of snapshot {sid}"
        f"{'' if published else ', not published'}, aggregates only) in {done.requests} "
        "requests."
    )
    return 0
