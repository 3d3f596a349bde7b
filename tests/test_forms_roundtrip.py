"""The round loop inside Google, end to end over real HTTP to the fake Google server: build round
3 of the demo from round 2's results into an empty Form, write the pre-filled links, answer the
form as each panelist (starting from their link), refresh, and every statement of round 3
matches, with its ``revised_from`` lineage intact."""

from __future__ import annotations

import csv
import json

import pytest

from lib import store
from lib.__main__ import main
from lib.config import load_config
from lib.forms.links import decode_link, form_questions, ratings_from_link
from lib.sources.gsheets_http import API_BASE_ENV
from tests.fake_sheets import FakeSheets, generate_service_account, tabs_from_workbook
from tests.helpers import ROOT

DEMO = ROOT / "data" / "demo"


@pytest.fixture
def loop(tmp_path, rsa_private_key, monkeypatch):
    """The demo without its Round 3 tab on a fake Google Sheet, an empty form shared as
    editor, a study file reading rounds 1-2 from the sheet, and the CLI pointed at the fake."""
    tabs = tabs_from_workbook(DEMO / "isotretinoin_delphi.xlsx")
    round3 = [r for r in tabs["Statements"][1:] if r[1] == 3]
    del tabs["Round 3"]
    with FakeSheets(tabs, public_keys=[rsa_private_key.public_key()]) as fake:
        form_id = fake.add_form()
        info, _ = generate_service_account(fake.token_uri, rsa_private_key)
        key = tmp_path / "sa.json"
        key.write_text(json.dumps(info), encoding="utf-8")
        study = tmp_path / "study.toml"
        text = (DEMO / "study.toml").read_text(encoding="utf-8")
        text = text.replace('source = "isotretinoin_delphi.xlsx"', f'source = "{fake.sheet_url}"')
        study.write_text(text.replace('"Round 3" = 3\n', ""), encoding="utf-8")
        monkeypatch.setenv(API_BASE_ENV, fake.url)
        common = ["--study", str(study), "--db", str(tmp_path / "s.duckdb")]
        yield fake, form_id, common + ["--credentials", str(key)], study, round3, tmp_path


def _run(*argv: str) -> None:
    assert main(list(argv)) == 0, argv


def _latest(db: str):
    with store.connect(db, read_only=True) as con:
        sid = store.latest_snapshot_id(con)
        return (
            store.statements_for(con, sid),
            store.ratings_for(con, sid),
            store.problems_for(con, sid),
            store.feedback_recipients(con, sid),
        )


@pytest.mark.parametrize("style,items", [("auto", 27), ("grid", 20)])  # 1 + 13 x 2; 1 + 6 + 13
def test_round_three_built_answered_and_refreshed_matches_every_statement(
    loop, capsys, style, items
):
    fake, form_id, args, study, round3, tmp = loop
    db = args[args.index("--db") + 1]
    _run("refresh", *[a for a in args])
    stmts, ratings, _, recipients = _latest(db)
    assert sorted(stmts["round"].unique()) == [1, 2, 3]  # round 3 listed, not yet asked

    url = f"https://docs.google.com/forms/d/{form_id}/edit"
    _run("forms", "build", "--form", url, "--style", style, *args)
    built = capsys.readouterr().out
    assert f"Wrote {items} items for round 3" in built and '"Form Responses 1" = 3' in built
    form = fake.forms[form_id]
    titles = [i["title"] for i in form["items"]]
    assert titles[0] == "Email Address"
    # the statement ID starts each question's title, once per statement of round 3
    asked = [q.statement_id for q in form_questions(form) if q.statement_id]
    assert sorted(asked) == sorted(r[0] for r in round3)

    out = tmp / "links.csv"
    _run("forms", "links", "--form", form_id, "--out", str(out), *args)
    links = list(csv.DictReader(out.open(encoding="utf-8")))
    assert len(links) == len(recipients) == 15
    assert [*links[0]] == ["identity", "pseudonym", "file_name", "link"]

    # every panelist answers from their link: the pre-filled rating kept, "Agree" elsewhere
    for n, row in enumerate(links):
        answers = dict(decode_link(row["link"]))
        for q in form_questions(form):
            if q.statement_id and q.entry not in answers:
                answers[q.entry] = "Agree"
        comment = next(q for q in form_questions(form) if q.title.startswith("Comments on"))
        answers[comment.entry] = f"Comment {n}"
        fake.submit(form_id, answers)
    text = study.read_text(encoding="utf-8")
    study.write_text(text.replace('"Round 2" = 2\n', '"Round 2" = 2\n"Form Responses 1" = 3\n'))

    _run("refresh", *args)
    stmts, ratings, problems, _ = _latest(db)
    r3 = stmts[stmts["round"] == 3]
    listed = {r[0]: (r[4] if len(r) > 4 and r[4] else None) for r in round3}
    lineage = {r.statement_id: r.revised_from or None for r in r3.fillna("").itertuples()}
    # round 3 of the demo revises S07a into S07b and S37 into S37a (its Statements tab)
    assert lineage == listed and {k: v for k, v in listed.items() if v} == {
        "S07b": "S07a",
        "S37a": "S37",
    }
    rated = ratings[ratings["round"] == 3]
    assert set(rated["statement_id"]) == set(listed)  # every statement matched a column
    assert rated.groupby("statement_id")["panelist"].nunique().eq(15).all()
    assert not problems["kind"].str.contains("not asked|unmatched|no match", case=False).any()


def test_a_prefilled_link_decodes_to_that_panelists_round_two_ratings(loop):
    fake, form_id, args, _, round3, tmp = loop
    db = args[args.index("--db") + 1]
    _run("refresh", *args)
    _run("forms", "build", "--form", form_id, *args)
    out = tmp / "links.csv"
    _run("forms", "links", "--form", form_id, "--out", str(out), *args)
    _, ratings, _, recipients = _latest(db)
    pseudonym = dict(zip(recipients["identity"], recipients["panelist"], strict=True))
    cfg, form = load_config(args[args.index("--study") + 1]), fake.forms[form_id]
    # carried unchanged into round 3: the same ID rated in round 2 (revisions get a new ID)
    carried = {r[0] for r in round3} & set(ratings.loc[ratings["round"] == 2, "statement_id"])
    assert len(carried) == 11
    checked = 0
    for row in csv.DictReader(out.open(encoding="utf-8")):
        assert decode_link(row["link"])[_identity_entry(form)] == row["identity"]
        mine = ratings[
            (ratings["round"] == 2) & (ratings["panelist"] == pseudonym[row["identity"]])
        ]
        expected = {
            r.statement_id: ("Unable to judge" if r.no_opinion else float(r.rating))
            for r in mine.itertuples()
            if r.statement_id in carried and (r.no_opinion or r.rating == r.rating)
        }
        got = ratings_from_link(form, row["link"], lambda s: cfg.scale_for(3, s))
        assert got == expected
        checked += len(expected)
    assert checked > 100  # 15 panelists x 11 statements, less those who skipped round 2


def _identity_entry(form) -> int:
    return next(q.entry for q in form_questions(form) if q.title == "Email Address")


def test_dry_run_prints_the_form_and_writes_nothing(loop, capsys):
    fake, form_id, args, *_ = loop
    _run("refresh", *args)
    _run("forms", "build", "--form", form_id, "--dry-run", *args)
    out = capsys.readouterr().out
    assert "Dry run: 27 items for round 3 (nothing written)." in out
    assert "2. [multiple choice] S04. " in out and "Round 2 result for S04: n = 15" in out
    assert fake.count("forms.get") == fake.count("forms.batchUpdate") == 0
    assert "items" not in fake.forms[form_id]


def test_results_command_writes_the_results_tab_of_the_published_snapshot(loop, capsys):
    fake, _, args, study, *_ = loop
    db = args[args.index("--db") + 1]
    _run("refresh", *args)
    requests = fake.count()
    assert main(["results", *args]) == 1  # nothing published yet: refused, nothing sent
    assert "no snapshot is published yet" in capsys.readouterr().err
    assert fake.count() == requests
    _run("publish", "--study", str(study), "--db", db)
    assert main(["results", *args]) == 1  # shared as Viewer: refused, with the reason
    assert "as Editor" in capsys.readouterr().err and "Results" not in fake.tabs
    fake.sheet_editor = True
    _run("results", *args)
    # one row per statement of rounds 1 and 2 as the Statements tab lists them
    rated = sum(1 for r in fake.tabs["Statements"][1:] if r[1] in (1, 2))
    out = capsys.readouterr().out
    assert f"Wrote the 'Results' tab ({rated} statement rows of snapshot 1," in out
    assert fake.tabs["Results"][2][:2] == ["Snapshot", 1] and len(fake.tabs["Results"]) == 6 + rated


def test_results_of_an_unpublished_snapshot_go_to_the_studys_own_sheet_only(loop, capsys):
    fake, _, args, study, *_ = loop
    db = args[args.index("--db") + 1]
    fake.sheet_editor = True
    _run("refresh", *args)
    _run("publish", "--study", str(study), "--db", db)
    last = fake.tabs["Round 2"][-1]
    last[2] = "Disagree" if last[2] != "Disagree" else "Agree"  # snapshot 2 differs by it
    _run("refresh", *args)
    requests = fake.count()
    other = "https://docs.google.com/spreadsheets/d/AnotherSheetKey123/edit"
    for which in (["--latest"], ["--snapshot", "2"]):
        assert main(["results", "--sheet", other, *which, *args]) == 2
        err = capsys.readouterr().err
        assert "snapshot 2 is not published" in err and "leave out --sheet" in err
    assert fake.count() == requests and "Results" not in fake.tabs  # refused before sending
    _run("results", "--sheet", fake.key, "--latest", *args)  # the study's own sheet, by key
    assert "of snapshot 2, not published," in capsys.readouterr().out
    assert fake.tabs["Results"][2][:2] == ["Snapshot", 2]
    _run("results", *args)  # by default: the published one
    assert fake.tabs["Results"][2][:2] == ["Snapshot", 1]
