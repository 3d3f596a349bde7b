"""Command line: ``python -m lib COMMAND ...``: refresh, publish, export, report, forms (build,
links), results, hash-password, unlock, init.

Exit status 0 on success; on failure a one-line reason on stderr and a non-zero status
(2 for a usage or configuration error, a database of another study included; 1 for a failed
refresh or export).  ``--study`` and ``--db`` default as in the app: ``$DELPHI_STUDY`` (else the
bundled demo) and ``$DELPHI_DB`` (else the study's own database, ``lib.study_db.default_db``).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from lib import store, study_db
from lib.analysis.consensus import METRIC_COLUMNS
from lib.analysis.rules import PRESETS
from lib.config import ConfigError, load_config, rule_version_warning
from lib.forms.cli import add_forms, add_results, run_forms, run_results
from lib.pipeline import RefreshError, StudyMismatch, refresh
from lib.textsafe import plural

# the plain export: what identifies a statement, then every metric with its status
EXPORT_COLUMNS = ["round", "statement_id", "domain", "text", *METRIC_COLUMNS]


# --study and --db default to what the app uses (resolved after parsing: see _defaults)
_STUDY_HELP = "study TOML (default: $DELPHI_STUDY, else the bundled demo)"
_DB_HELP = (
    "DuckDB file (default: $DELPHI_DB, else the study's own: data/delphi.duckdb for the demo, "
    "data/studies/<study file name>.duckdb for another study)"
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m lib", description="Delphi Dashboard CLI")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("refresh", help="load a new snapshot from the study's source")
    r.add_argument("--study", help=_STUDY_HELP)
    r.add_argument("--source", help="workbook path or Google Sheet URL/key (overrides the study)")
    r.add_argument("--db", help=_DB_HELP)
    r.add_argument(
        "--credentials", help="service-account JSON file (or set DELPHI_GOOGLE_CREDENTIALS)"
    )
    r.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds to wait for a refresh already running (default: %(default)s)",
    )
    _add_export(sub)
    _add_publish(sub)
    _add_report(sub)
    _add_hash_password(sub)
    _add_unlock(sub)
    _add_init(sub)
    add_forms(sub, _STUDY_HELP, _DB_HELP)  # the write path to Google (lib.forms)
    add_results(sub, _STUDY_HELP, _DB_HELP)
    return p


def _add_export(sub) -> None:
    e = sub.add_parser(
        "export",
        help="write the consensus metrics of the published snapshot",
        description="One row per round and statement; with --by-group, one row per round, "
        "statement and stakeholder group, the whole panel as group 'All'.",
    )
    e.add_argument("--format", choices=["csv"], default="csv")
    e.add_argument("--round", type=int, help="only this round")
    e.add_argument("--db", help=_DB_HELP)
    e.add_argument(
        "--study",
        help="study TOML (default: $DELPHI_STUDY): a database of another is refused (without "
        "one: the configuration the snapshot was stored with)",
    )
    _add_snapshot_choice(e)
    g = e.add_argument_group("per stakeholder group")
    g.add_argument(
        "--by-group",
        action="store_true",
        help="one row per round × statement × group: a 'group' column ('All' for the whole "
        "panel), the metrics, 'status' (the rule's verdict within that group; for All the "
        "panel's own) and 'status_study' (the study's verdict under its [groups] choice)",
    )
    g.add_argument(
        "--attribute",
        metavar="NAME",
        help="the panel attribute whose values are the groups (default: [groups] attribute; "
        "required when the study has no [groups])",
    )
    pooling = g.add_mutually_exclusive_group()
    pooling.add_argument(
        "--pooled",
        action="store_true",
        help="pool groups with fewer than privacy.min_group_size respondents in a round, as "
        "observers see them (the default: an exported file may be passed on, so it shows no "
        "group a page would hide from observers)",
    )
    pooling.add_argument(
        "--all-groups",
        action="store_true",
        help="every group whatever its size (the steering committee's and coordinator's own "
        "use: a group of two shows what each of its members rated, near enough)",
    )
    e.add_argument("--out", required=True, help="output file")


def _add_publish(sub) -> None:
    pub = sub.add_parser(
        "publish",
        help="show a snapshot to observers (refused if comparing would reveal answers)",
        description="Makes a snapshot the one observers see (and the committee, unless they "
        "pick another). Refused when, in a round it does not close, the snapshot differs from "
        "a published one by fewer than privacy.min_group_size respondents: comparing the two "
        "would reveal those respondents' answers. Close a round that has ended to publish it "
        "as it is. Refreshes never change what observers see; this does.",
    )
    pub.add_argument("--snapshot", type=int, help="snapshot id (default: the latest)")
    pub.add_argument(
        "--close-round",
        type=int,
        nargs="+",
        action="extend",
        default=[],
        metavar="R",
        help="close round R with this publication (repeatable)",
    )
    pub.add_argument(
        "--study",
        help="study TOML (default: $DELPHI_STUDY): its privacy.min_group_size applies if "
        "stricter, and a database of another study is refused (without one: the configuration "
        "the snapshot was stored with)",
    )
    pub.add_argument("--db", help=_DB_HELP)


def _publish(args: argparse.Namespace) -> int:
    from lib.publication import publish

    if not Path(args.db).exists():
        raise store.StoreError(f"database {args.db} not found; run 'python -m lib refresh'")
    k = None
    if args.study:
        cfg = load_config(args.study)
        with store.connect(args.db, read_only=True) as con:
            _refuse_another_study(con, args.db, cfg)
        k = cfg.min_group_size
    check = publish(args.db, args.snapshot, min_group_size=k, close_rounds=args.close_round)
    sid = check.snapshot_id
    if check.changes_nothing:
        print(f"Snapshot {sid} is already published; nothing changed.")
        return 0
    closing = f", closing round {', '.join(map(str, check.closing))}" if check.closing else ""
    since = f"snapshot {check.published}" if check.published else "nothing published"
    print(f"Published snapshot {sid}{closing}: observers see it from their next click.")
    for r in check.rounds.itertuples():
        print(
            f"  round {r.round}: {r.respondents} respondents; since {since}: {r.added} added, "
            f"{r.changed} changed, {r.removed} removed ({r.verdict})"
        )
    for warning in check.warnings:
        print(f"  note: {warning}")
    return 0


def _add_report(sub) -> None:
    rep = sub.add_parser(
        "report",
        help="write the consensus report (HTML, XLSX or DOCX)",
        description="The consensus report of a snapshot: a self-contained HTML file (opens "
        "offline, prints to PDF), a workbook with one sheet per table, or an editable Word "
        "document (.docx) with the same sections and tables.",
    )
    rep.add_argument("--format", choices=["html", "xlsx", "docx"], required=True)
    rep.add_argument("--db", help=_DB_HELP)
    rep.add_argument("--study", help=_STUDY_HELP)
    _add_snapshot_choice(rep)
    rep.add_argument(
        "--with-comments",
        action="store_true",
        help="include the panel's comments (default: only if privacy.observer_comments is true)",
    )
    rep.add_argument(
        "--all-groups",
        action="store_true",
        help="show every stakeholder group whatever its size, for the steering committee "
        "(default: groups under privacy.min_group_size pooled, as observers see them)",
    )
    rep.add_argument(
        "--narrative",
        help="text file with the edited methods-and-results text "
        "(default: the text drafted from the data)",
    )
    rep.add_argument(
        "--human-headers",
        action="store_true",
        help="xlsx: headers for people, with units, and numbers rounded (default: the CSV's "
        "machine names, unrounded)",
    )
    rep.add_argument("--out", required=True, help="output file")


def _add_hash_password(sub) -> None:
    sub.add_parser(
        "hash-password",
        help="print the salted hash of a sign-in password for [access]",
        description="Prints the PBKDF2 hash to paste into .streamlit/secrets.toml as "
        "coordinator_password_hash or committee_password_hash. At a terminal the password is "
        "asked for twice and not echoed; otherwise the first line of standard input is used.",
    )


def _add_unlock(sub) -> None:
    u = sub.add_parser(
        "unlock",
        help="clear a sign-in lock-out after repeated wrong passwords",
        description="Forgets the failed sign-ins counted for a role (default: every role) in "
        "<db>.signin.json, so that role can sign in again at once; the running app reads the "
        "file on its next sign-in attempt.",
    )
    u.add_argument("--role", choices=["coordinator", "committee"], help="only this role")
    u.add_argument("--db", help=_DB_HELP)


def _add_init(sub) -> None:
    i = sub.add_parser(
        "init",
        help="propose a study file from a sheet's own tabs, and validate it",
        description="Reads the source's tabs once and writes a commented study file: the "
        "round tabs, the identity and timestamp columns, every answer label with its proposed "
        "score, the no-opinion answers, Yes/No rounds, the statements found and how, and the "
        "consensus presets to choose from. Then prints the validation report a refresh would "
        "produce with it, storing nothing.",
    )
    i.add_argument("source", help="workbook path or Google Sheet URL/key")
    i.add_argument("--out", default="study.toml", help="study file to write (default: %(default)s)")
    i.add_argument("--force", action="store_true", help="replace --out if it exists")
    i.add_argument(
        "--consensus",
        choices=sorted(PRESETS),
        help="the consensus rule's preset (default: left for you to choose in the file)",
    )
    i.add_argument(
        "--rule-version",
        default="",
        help="the rule's version as pre-registered, printed in every report, e.g. "
        '"v1, pre-registered 2026-09-01" (needs --consensus)',
    )
    i.add_argument(
        "--credentials", help="service-account JSON file (or set DELPHI_GOOGLE_CREDENTIALS)"
    )


def _init(args: argparse.Namespace) -> int:
    from lib import setup
    from lib.sources import SourceError, read_source

    out = Path(args.out)
    if out.exists() and not args.force:
        raise ValueError(f"{out} already exists: choose another --out, or add --force")
    if args.rule_version.strip() and not args.consensus:
        raise ValueError("--rule-version is the version of a rule: choose it with --consensus")
    google = {"credentials_file": args.credentials} if args.credentials else {}
    try:
        raw = read_source(args.source, None, **google)
    except SourceError as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    proposal = setup.with_labels(
        setup.propose(raw), preset=args.consensus, version=args.rule_version
    )
    setup.write_study(setup.proposal_toml(proposal, out.parent), out, force=args.force)
    print(f"Wrote {out}: {proposal.outline()}")
    for note in proposal.notes:
        print(f"  check: {note}")
    if args.consensus and not proposal.version:
        print(
            "  check: the consensus rule has no version: add --rule-version, or set it in the file"
        )
    found = setup.check(raw, load_config(out))
    print(f"Validation, as a refresh would report it (nothing stored): {setup.summary(found)}")
    for p in found.problems.head(20).itertuples():
        print(f"  problem: {p.tab} row {p.row} column {p.column}: {p.kind} — {p.message}")
    if len(found.problems) > 20:
        print(f"  … and {len(found.problems) - 20} more problems")
    print(
        f"Next: check {out}, choose its consensus rule, then: python -m lib refresh --study {out}"
    )
    return 1 if found.error else 0


def _unlock(args: argparse.Namespace) -> int:
    from lib.auth import clear_lockout, throttle_path

    cleared = clear_lockout(args.db, args.role)
    if cleared:
        print(f"Cleared the failed sign-ins of {', '.join(cleared)} in {throttle_path(args.db)}.")
    else:
        print(
            f"No failed sign-ins of {args.role or 'any role'} recorded in "
            f"{throttle_path(args.db)}; nothing to clear."
        )
    folder = throttle_path(args.db).parent
    if not os.access(folder, os.W_OK):
        print(
            f"Note: {folder} is not writable, so a running app counts failed sign-ins in its own "
            "memory, which this command cannot reach: restart the app to clear them (or wait: "
            "a lock-out lasts at most an hour)."
        )
    return 0


def _read_password() -> str:
    """The password: typed twice at a terminal (not echoed), else stdin's first line."""
    try:
        if sys.stdin.isatty():
            first = getpass.getpass("Password: ")
            if getpass.getpass("Password again: ") != first:
                raise ValueError("the two passwords differ; nothing was printed")
            return first
        return sys.stdin.readline().rstrip("\r\n")
    except EOFError:
        raise ValueError("no password given") from None


def _hash_password(args: argparse.Namespace) -> int:
    from lib.auth import hash_password

    password = _read_password()
    if len(password) < 8:
        raise ValueError("the password is empty or shorter than 8 characters; choose a longer one")
    print(hash_password(password))
    return 0


def _refresh(args: argparse.Namespace) -> int:
    cfg = load_config(args.study)
    google = {}
    creds = args.credentials or os.environ.get("DELPHI_GOOGLE_CREDENTIALS")
    if creds:
        google["credentials_file"] = creds
    progress = (lambda step: print(f"… {step}", file=sys.stderr)) if sys.stderr.isatty() else None
    res = refresh(
        cfg, args.db, source=args.source, google=google, wait=args.wait, progress=progress
    )
    if res.outcome == "no_change":
        print(f"No change: the source matches snapshot {res.snapshot_id}.")
        _note_rule_version(cfg)
        return 0
    c = res.counts
    print(
        f"Snapshot {res.snapshot_id} stored in {res.seconds:.2f} s: "
        f"{plural(c['n_rounds'], 'round')}, "
        f"{c['n_respondents']} respondents of {c['n_invited']} invited, "
        f"{plural(c['n_statements'], 'statement')}, {plural(c['n_ratings'], 'rating')}, "
        f"{plural(c['n_problems'], 'problem')}."
    )
    for row in res.changes.itertuples():
        removed = f", {row.removed_responses} removed" if row.removed_responses else ""
        print(
            f"  round {row.round}: {row.respondents} respondents "
            f"({row.new_responses} new, {row.changed_responses} changed{removed})"
        )
    for p in res.problems.head(20).itertuples():
        print(f"  problem: {p.tab} row {p.row} column {p.column}: {p.kind} — {p.message}")
    if len(res.problems) > 20:
        print(f"  … and {len(res.problems) - 20} more problems")
    _note_rule_version(cfg)
    return 0


def _note_rule_version(cfg) -> None:
    """A copied study file that kept a bundled demo's rule version: say so after a refresh."""
    if warning := rule_version_warning(cfg):
        print(f"  note: {warning}")


def _add_snapshot_choice(parser: argparse.ArgumentParser) -> None:
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--snapshot", type=int, help="snapshot id (default: the published one)")
    which.add_argument(
        "--latest",
        action="store_true",
        help="the latest snapshot, published or not (for the coordinator's own use)",
    )


def _refuse_another_study(con, db: str, cfg) -> None:
    """Stop (exit 2) when the database holds another study than ``cfg`` (lib.study_db)."""
    other = study_db.mismatch(con, cfg.source, cfg.title, db=db, study=cfg.path)
    if other is not None:
        raise StudyMismatch(other)


def _defaults(args: argparse.Namespace) -> argparse.Namespace:
    """``--study`` defaults to ``$DELPHI_STUDY`` and ``--db`` to ``$DELPHI_DB``, else the
    study's own database (``lib.study_db.default_db``): the files the app uses."""
    study = os.environ.get("DELPHI_STUDY") or None
    if hasattr(args, "study"):
        args.study = args.study or study
        study = args.study
    if hasattr(args, "db") and not args.db:
        args.db = os.environ.get("DELPHI_DB") or str(study_db.default_db(study))
    return args


def _snapshot(con, requested: int | None, latest: bool = False) -> int:
    """The snapshot a command reads: the one asked for, else the one observers see.

    A file written by a cron job may be shared, so by default only what is published leaves
    the database (an unpublished snapshot could be compared with a published one)."""
    if store.latest_snapshot_id(con) is None:
        raise store.StoreError("the database has no snapshot yet; run 'python -m lib refresh'")
    if requested is not None:
        sid = requested
    elif latest:
        sid = store.latest_snapshot_id(con)
    else:
        sid = store.published_snapshot_id(con)
        if sid is None:
            raise store.StoreError(
                "no snapshot is published yet: publish one ('python -m lib publish'), or name "
                "one with --snapshot N or --latest"
            )
    store.snapshot_info(con, sid)  # raises if it does not exist
    return sid


def _export(args: argparse.Namespace) -> int:
    cfg = load_config(args.study) if args.study else None
    if not args.by_group and (args.attribute or args.all_groups or args.pooled):
        raise ConfigError("--attribute, --pooled and --all-groups go with --by-group")
    if not Path(args.db).exists():
        raise store.StoreError(f"database {args.db} not found; run 'python -m lib refresh'")
    with store.connect(args.db, read_only=True) as con:
        if cfg is not None:
            _refuse_another_study(con, args.db, cfg)
        sid = _snapshot(con, args.snapshot, args.latest)
        frame = store.metrics_for(con, sid)
        if args.by_group:
            frame, what = _by_group(con, sid, frame, cfg, args)
    if args.round is not None:
        if args.round not in set(frame["round"]):
            raise ValueError(
                f"round {args.round} is not in snapshot {sid} "
                f"(rounds: {', '.join(map(str, sorted(set(frame['round']))))})"
            )
        frame = frame[frame["round"] == args.round]
    from lib.reports.groups import BY_GROUP_COLUMNS
    from lib.reports.safety import safe_csv

    columns = BY_GROUP_COLUMNS if args.by_group else EXPORT_COLUMNS
    Path(args.out).write_text(safe_csv(frame[columns]), encoding="utf-8")
    rows = f"{len(frame)} rows ({what})" if args.by_group else f"{len(frame)} rows"
    print(f"Wrote {rows} of snapshot {sid} to {args.out}")
    return 0


def _by_group(con, sid: int, metrics, cfg, args: argparse.Namespace):
    """The export's rows per round × statement × group (lib.reports.groups.by_group_rows),
    and what they hold in words."""
    from lib.config import config_from_dict
    from lib.reports.data import snapshot_scales
    from lib.reports.groups import by_group_rows, group_noun

    info = store.snapshot_info(con, sid)
    try:
        stored = config_from_dict(info.get("config") or {})
    except (ValueError, TypeError, AttributeError):
        stored = None
    study = cfg or stored
    if study is None:
        raise ConfigError(
            f"snapshot {sid}'s stored configuration cannot be read: give the study (--study)"
        )
    attributes = store.panel_attributes(con, sid)
    names = {str(a).casefold(): str(a) for a in attributes["attribute"].unique()}
    listed = ", ".join(sorted(names.values())) or "none in this snapshot"
    name = args.attribute or (study.groups.attribute if study.groups else None)
    if name is None:
        raise ConfigError(
            f"--by-group needs the study's [groups] table or --attribute NAME, one of the "
            f"panel attributes ({listed})"
        )
    if name.casefold() not in names:
        raise ConfigError(f"--attribute {name!r} is not a panel attribute ({listed})")
    least = max(c.min_group_size for c in (cfg, stored) if c is not None)
    min_size = None if args.all_groups else least
    rows = by_group_rows(
        metrics,
        store.ratings_for(con, sid),
        attributes,
        names[name.casefold()],
        snapshot_scales(info, study),
        min_size,
    )
    how = "every group" if min_size is None else f"groups under {least} pooled"
    return rows, f"per {group_noun(names[name.casefold()])}, {how}"


def _report(args: argparse.Namespace) -> int:
    from lib.reports import data as report_data
    from lib.reports.docx import docx_report
    from lib.reports.html import html_report
    from lib.reports.inputs import StoreFrames, report_inputs
    from lib.reports.xlsx import xlsx_report

    cfg = load_config(args.study)
    if not Path(args.db).exists():
        raise store.StoreError(f"database {args.db} not found; run 'python -m lib refresh'")
    narrative = Path(args.narrative).read_text(encoding="utf-8") if args.narrative else None
    with store.connect(args.db, read_only=True) as con:
        _refuse_another_study(con, args.db, cfg)
        sid = _snapshot(con, args.snapshot, args.latest)
        comments = args.with_comments or cfg.observer_comments
        frames = report_inputs(
            StoreFrames(con, sid), include_comments=comments, all_groups=args.all_groups
        )
    data = report_data.with_narrative(report_data.build_report_data(frames, cfg), narrative)
    out = Path(args.out)
    if args.format == "html":
        out.write_text(html_report(data), encoding="utf-8")
    elif args.format == "docx":
        out.write_bytes(docx_report(data))
    else:
        out.write_bytes(xlsx_report(data, human=args.human_headers))
    print(f"Wrote the {args.format.upper()} report of snapshot {sid} to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _defaults(_parser().parse_args(argv))
    handlers = {
        "refresh": _refresh,
        "publish": _publish,
        "export": _export,
        "report": _report,
        "hash-password": _hash_password,
        "unlock": _unlock,
        "init": _init,
        "forms": run_forms,
        "results": run_results,
    }
    try:
        return handlers[args.command](args)
    except StudyMismatch as exc:  # a configuration error: the wrong study for this database
        print(f"error: {exc.mismatch.message(cli=True)}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (RefreshError, store.StoreError, ValueError, OSError) as exc:
        print(f"error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
