"""Set-up from the sheet: ``python -m lib init`` and the "Set up a study" page.

The reference for the demo is the hand-written ``data/demo/study.toml``; for the other shapes,
counts and medians computed here from the answers the fixtures wrote (numpy, hand counts).
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from lib import setup, store
from lib.__main__ import main
from lib.config import DEMO_CONFIG, ConfigError, load_config
from lib.ingest import ingest
from lib.pipeline import refresh
from lib.setup.tabs import round_number
from lib.sources import RawSource, read_workbook
from tests import real_shapes
from tests.fake_sheets import generate_service_account, tabs_from_workbook
from tests.helpers import LABELS, ROOT, signed_in_app
from tests.scale_fixtures import mixed_study
from tests.untrusted import PAYLOADS, hostile_tabs, markdown_links, markdown_strings
from tests.untrusted import write_study as write_hostile

DEMO_BOOK = ROOT / "data" / "demo" / "isotretinoin_delphi.xlsx"


def _read_from_the_sheet(cfg) -> dict:
    """What "equivalent" means: every setting init reads from the sheet, as the loaded
    StudyConfig holds it.  Left out, as the coordinator's to choose: the title; the consensus
    rule (init leaves [consensus] commented out, so the default pct75 applies, which is also the
    demo's); panel_attributes (privacy fails closed: init lists the Panel columns commented
    out); timezone (a workbook does not say: init writes UTC and "check"; a Google Sheet's own
    zone is tested below).  Privacy and date settings are the defaults, in both files."""
    return {
        "source": Path(cfg.source).resolve(),
        "rounds": cfg.rounds,
        "scale": (cfg.scale_min, cfg.scale_max),
        "labels": cfg.labels,
        "no_opinion": set(cfg.no_opinion),
        "no_opinion_in_denominator": cfg.no_opinion_in_denominator,
        "scales": cfg.scales,
        "identity_column": cfg.identity_column,
        "timestamp_column": cfg.timestamp_column,
        "statements_tab": cfg.statements_tab,
        "panel_tab": cfg.panel_tab,
        "date_order": cfg.date_order,
        "comment_pattern": cfg.comment_pattern,
        "privacy": (cfg.min_group_size, cfg.observer_comments),
    }


def _init(raw: RawSource, folder: Path) -> Path:
    """init's study file for ``raw``, written into ``folder``."""
    return _toml_file(setup.propose(raw), folder)


def _toml_file(p: setup.Proposal, folder: Path) -> Path:
    """The study file of proposal ``p``, written into ``folder``."""
    path = folder / "init.toml"
    path.write_text(setup.proposal_toml(p, folder), encoding="utf-8")
    return path


def _raw(tabs: dict) -> RawSource:
    return RawSource(tabs=tabs, source="made.xlsx", title="Made", all_tabs=list(tabs))


def _metrics(cfg, db: Path) -> pd.DataFrame:
    sid = refresh(cfg, db).snapshot_id
    with store.connect(db, read_only=True) as con:
        frame = store.metrics_for(con, sid)
    return frame.sort_values(["round", "statement_id"]).reset_index(drop=True)


# --- the demo ---------------------------------------------------------------------------------


def test_init_on_the_demo_workbook_is_equivalent_to_the_demo_study_file(tmp_path):
    proposed = load_config(_init(read_workbook(DEMO_BOOK), tmp_path))
    assert _read_from_the_sheet(proposed) == _read_from_the_sheet(load_config(DEMO_CONFIG))
    assert proposed.panel_attributes == ()  # proposed commented out, never switched on


def test_init_leaves_the_rule_and_the_panel_attributes_commented_out(tmp_path):
    text = setup.proposal_toml(setup.propose(read_workbook(DEMO_BOOK)), tmp_path)
    data = tomllib.loads(text)
    assert "consensus" not in data and "panel_attributes" not in data
    assert '# preset = "pct75"' in text and "#   median_iqr" in text
    assert '#     "Country", "Practice setting", "Years in practice",' in text
    # the Panel's name column is named apart, never in the proposed list
    assert '# Never list these (they name, reach or single out a person): "Name"' in text


def test_cli_init_then_refresh_gives_the_demo_metrics(tmp_path):
    out = tmp_path / "study.toml"
    res = subprocess.run(
        [sys.executable, "-m", "lib", "init", str(DEMO_BOOK), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    # data/demo/generate.py: 15 invited, all answer at least once; one duplicate submission
    assert "15 panelists of 15 invited" in res.stdout and "1 problem." in res.stdout
    assert "duplicate submission" in res.stdout and not (tmp_path / "study.duckdb").exists()
    ours = _metrics(load_config(out), tmp_path / "ours.duckdb")
    demo = _metrics(load_config(DEMO_CONFIG), tmp_path / "demo.duckdb")
    # every metric and status; the "rule" column names the demo's pre-registration version
    pd.testing.assert_frame_equal(ours.drop(columns="rule"), demo.drop(columns="rule"))
    assert set(ours["rule"]) == {"≥ 75% agreement"}


def test_cli_init_refuses_to_overwrite_unless_forced(tmp_path, capsys):
    out = tmp_path / "study.toml"
    out.write_text("# mine\n", encoding="utf-8")
    assert main(["init", str(DEMO_BOOK), "--out", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "# mine\n"
    assert main(["init", str(DEMO_BOOK), "--out", str(out), "--force"]) == 0
    assert load_config(out).rounds == {"Round 1": 1, "Round 2": 2, "Round 3": 3}


def test_cli_init_of_a_missing_workbook_fails_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "study.toml"
    assert main(["init", str(tmp_path / "none.xlsx"), "--out", str(out)]) == 1
    assert "Workbook not found" in capsys.readouterr().err and not out.exists()


def test_cli_init_reads_a_google_sheet_once(fake_sheets, rsa_private_key, tmp_path, monkeypatch):
    fake_sheets.tabs = tabs_from_workbook(DEMO_BOOK)
    info, _ = generate_service_account(fake_sheets.token_uri, rsa_private_key)
    key = tmp_path / "key.json"
    key.write_text(json.dumps(info), encoding="utf-8")
    monkeypatch.setenv("DELPHI_SHEETS_API_BASE", fake_sheets.url)
    out = tmp_path / "study.toml"
    argv = ["init", fake_sheets.sheet_url, "--out", str(out), "--credentials", str(key)]
    assert main(argv) == 0
    assert fake_sheets.count() == 3  # token, metadata, one batchGet: the tabs read once
    cfg = load_config(out)
    assert cfg.source == fake_sheets.sheet_url and cfg.timezone == "Europe/Rome"  # the sheet's
    ours, demo = _read_from_the_sheet(cfg), _read_from_the_sheet(load_config(DEMO_CONFIG))
    assert {**ours, "source": None} == {**demo, "source": None}


def test_cli_init_of_a_google_sheet_without_credentials_says_so(tmp_path, capsys, monkeypatch):
    for name in ("DELPHI_GOOGLE_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    out, sheet = tmp_path / "s.toml", "https://docs.google.com/spreadsheets/d/1Key_x/edit"
    assert main(["init", sheet, "--out", str(out)]) == 1
    assert "Service account credentials: none configured" in capsys.readouterr().err
    assert not out.exists()


# --- what is recognised -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("Form Responses 1", 1),
        ("Form responses 3", 3),
        ("Form Responses", 1),
        ("Round 2", 2),
        ("R3", 3),
        ("Ronda 2", 2),
        ("Rodada 4", 4),
        ("Tour 1", 1),
        ("Respostas ao formulário 2", 2),
        ("Réponses au formulaire 1", 1),
        ("Round 2 (final)", 2),
        ("Statements", None),
        ("Panel", None),
        ("Results 2026", None),
        ("Round 2026", None),
    ],
)
def test_round_number_from_a_tab_name(name, number):
    assert round_number(name) == number


def _tab(header: list, rows: list[list]) -> list[list]:
    t = dt.datetime(2026, 9, 1, 9)
    return [header, *[[t + dt.timedelta(hours=i), *r] for i, r in enumerate(rows)]]


def test_rounds_are_ordered_by_the_number_in_their_names_and_other_tabs_ignored():
    one = _tab(["Timestamp", "E-mail", "S01. x"], [["a@x.example", "Agree"]])
    tabs = {"Round 3": one, "Notes": [["free text"]], "Form Responses 1": one, "Ronda 2": one}
    p = setup.propose(_raw(tabs))
    assert p.rounds == {"Form Responses 1": 1, "Ronda 2": 2, "Round 3": 3}
    assert list(p.rounds) == ["Form Responses 1", "Ronda 2", "Round 3"]
    notes = {r.tab: r.why for r in p.tabs if r.role == "ignored"}
    assert notes == {"Notes": "its name gives no round number"}


@pytest.mark.parametrize(
    ("header", "values", "kind"),
    [
        ("E-mail", ["a@x.example", "b@x.example"], "e-mail"),
        ("Participant ID", ["P1", "P2"], "code"),
        ("Your name", ["Ann Alpha", "Bob Beta"], "name"),
    ],
)
def test_the_identity_column_is_chosen_and_explained(header, values, kind):
    tab = _tab(["Timestamp", header, "S01. x"], [[v, "Agree"] for v in values])
    p = setup.propose(_raw({"Round 1": tab, "Round 2": tab}))
    assert p.identity.column == header and "in every round tab" in p.identity.why
    assert (kind == "name") == p.identity.check  # a name is a guess to check
    assert f'identity_column = "{header}"' in setup.proposal_toml(p)


def test_an_email_column_is_preferred_to_a_name_and_must_hold_addresses():
    rows = [["Ann Alpha", "not an address", "P1", "Agree"], ["Bob", "none", "P2", "Agree"]]
    tab = _tab(["Timestamp", "Your name", "Email", "Participant ID", "S01. x"], rows)
    p = setup.propose(_raw({"Round 1": tab}))
    assert p.identity.column == "Participant ID"  # "Email" holds no address
    rows = [["Ann Alpha", "a@x.example", "Agree"], ["Bob", "b@x.example", "Agree"]]
    tab = _tab(["Timestamp", "Your name", "Email Address", "S01. x"], rows)
    assert setup.propose(_raw({"Round 1": tab})).identity.column == "Email Address"


def _answers(answers: list) -> dict:
    """One round tab, one statement, one panelist per answer."""
    rows = [[f"p{i}@x.example", a] for i, a in enumerate(answers)]
    return {"Round 1": _tab(["Timestamp", "Email Address", "S01. x"], rows)}


def test_no_opinion_answers_in_several_languages(tmp_path):
    answers = ["Agree", "Disagree", "Unable to judge", "Don’t know", "Não sei", "Ne sais pas"]
    p = setup.propose(_raw(_answers(answers)))
    no_op = [x.label for x in p.main.labels if x.no_opinion]
    assert sorted(no_op) == sorted(answers[2:])
    assert set(load_config(_toml_file(p, tmp_path)).no_opinion) == set(answers[2:])


def test_numbered_labels_score_themselves_and_unknown_labels_are_left_to_the_coordinator(
    tmp_path,
):
    answers = ["1 – Not important", "Very important (7)", "4: Neutral", "Maybe", "Maybe"]
    p = setup.propose(_raw(_answers(answers)))
    scores = {x.label: x.score for x in p.main.labels}
    assert scores == {answers[0]: 1, answers[1]: 7, answers[2]: 4, "Maybe": None}
    assert (p.main.min, p.main.max) == (1, 7)
    text = setup.proposal_toml(p)
    assert '# "Maybe" = ?  # no score known: give it one, check; 2 answers, round 1' in text
    cfg = load_config(_toml_file(p, tmp_path))
    problems = ingest(_raw(_answers(answers)), cfg).problems
    assert len(problems) == 2  # the two "Maybe", each with the line to add
    assert problems["message"].str.contains('add under \\[scale.labels\\]:  "Maybe" =').all()


def test_unnumbered_labels_get_the_usual_order_to_check():
    labels = ["Nada importante", "Pouco importante", "Importante", "Muito importante"]
    p = setup.propose(_raw(_answers(labels)))
    assert {x.label: x.score for x in p.main.labels} == {t: k for k, t in enumerate(labels, 1)}
    assert all(x.check for x in p.main.labels) and (p.main.min, p.main.max) == (1, 4)


def test_statement_ids_found_and_how_without_a_statements_tab():
    header = ["Timestamp", "Email Address", "S01. Low doses", "[S07a] Peels", "Any remarks?"]
    tab = _tab(header, [["a@x", "Agree", "Disagree", "thanks"], ["b@x", "Agree", "Agree", ""]])
    (q,) = setup.propose(_raw({"Round 1": tab})).questions
    assert q.ids == ["S01", "S07a"] and q.how == {"an ID at the start of the title": 2}
    text = setup.proposal_toml(setup.propose(_raw({"Round 1": tab})))
    line = '#   round 1, "Round 1": 2 statements by an ID at the start of the title (S01, S07a)'
    assert line in text
    assert 'statements_tab = ""' in text  # no Statements tab: the default would look for one


# --- Yes/No rounds -----------------------------------------------------------------------------


def test_a_yes_no_round_gets_a_yes_no_scale_and_its_votes_are_counted(tmp_path):
    study = mixed_study()  # round 1: S01–S04 rated 1–7, S05 Yes/No; round 2: a Yes/No vote
    p = setup.propose(_raw(study.tabs))
    data = tomllib.loads(setup.proposal_toml(p))
    assert data["scale"]["min"] == 1 and data["scale"]["max"] == 7
    assert data["scales"] == [
        {"name": "Yes/No vote", "rounds": [2], "type": "yes_no", "no_opinion": ["Don't know"]},
        {"name": "Yes/No vote, round 1", "rounds": [1], "statements": ["S05"], "type": "yes_no"},
    ]
    cfg = load_config(_toml_file(p, tmp_path))
    assert cfg.scale_for(2, "S02").yes_no and cfg.scale_for(1, "S05").yes_no
    assert not cfg.scale_for(1, "S01").yes_no
    ratings = ingest(_raw(study.tabs), cfg).ratings.set_index(["round", "statement_id"])
    for (rnd, sid), cells in study.answers.items():
        mine = ratings.loc[(rnd, sid)]
        if rnd == 2 or sid == "S05":  # a hand count of the Yes, and of the "Don't know"
            assert mine["rating"].sum() == cells.count("Yes")
            assert mine["rating"].notna().sum() == cells.count("Yes") + cells.count("No")
            assert mine["no_opinion"].sum() == cells.count("Don't know")
        else:
            numbers = [c for c in cells if isinstance(c, int)]
            assert mine["rating"].sum() == sum(numbers)


def test_sim_nao_votes_are_mapped_in_the_yes_no_scale(tmp_path):
    r1 = _tab(["Timestamp", "Email Address", "S01. x"], [["a@x", "Agree"], ["b@x", "Disagree"]])
    votes = [["a@x", "Sim"], ["b@x", "Não"], ["c@x", "Sim"]]
    r2 = _tab(["Timestamp", "Email Address", "S01. x"], votes)
    p = setup.propose(_raw({"Round 1": r1, "Round 2": r2}))
    vote = tomllib.loads(setup.proposal_toml(p))["scales"][0]
    assert vote["type"] == "yes_no" and vote["labels"] == {"Sim": 1, "Não": 0}
    cfg = load_config(_toml_file(p, tmp_path))
    ratings = ingest(_raw({"Round 1": r1, "Round 2": r2}), cfg).ratings
    assert ratings[ratings["round"] == 2]["rating"].tolist() == [1.0, 0.0, 1.0]


def test_a_later_round_on_another_scale_gets_a_scale_of_its_own(tmp_path):
    nine = [(i % 9) + 1 for i in range(12)]  # round 1: a 1–9 linear scale (numbers)
    five = [list(LABELS)[i % 5] for i in range(12)]  # round 2: the five agreement labels
    r1 = _tab(
        ["Timestamp", "Email Address", "S01. a"], [[f"p{i}@x.org", v] for i, v in enumerate(nine)]
    )
    r2 = _tab(
        ["Timestamp", "Email Address", "S01. a"], [[f"p{i}@x.org", v] for i, v in enumerate(five)]
    )
    tabs = {"Round 1": r1, "Round 2": r2}
    p = setup.propose(_raw(tabs))
    cfg = load_config(_toml_file(p, tmp_path))
    assert (cfg.scale_min, cfg.scale_max) == (1, 9) and cfg.labels == {}
    assert (cfg.scale_for(2, "S01").min, cfg.scale_for(2, "S01").max) == (1, 5)
    assert cfg.scale_for(2, "S01").labels == LABELS
    ratings = ingest(_raw(tabs), cfg).ratings.groupby("round")["rating"].sum()
    assert ratings.to_dict() == {1: sum(nine), 2: sum(LABELS[v] for v in five)}


def test_the_pages_edits_reach_the_study_file(tmp_path):
    p = setup.propose(read_workbook(DEMO_BOOK))
    tabs = setup.rounds_frame(p)
    tabs.loc[tabs["tab"] == "Round 3", "round"] = pd.NA  # round 3 left out
    p = setup.propose(read_workbook(DEMO_BOOK), rounds=setup.rounds_from(tabs))
    labels = setup.labels_frame(p)
    neutral = labels["label"] == "Neither agree nor disagree"
    labels.loc[neutral, "no opinion"] = True
    edited = setup.with_labels(p, labels, "comet_70_15", "My study")
    cfg = load_config(_toml_file(edited, tmp_path))
    assert cfg.rounds == {"Round 1": 1, "Round 2": 2} and cfg.title == "My study"
    assert set(cfg.no_opinion) == {"Unable to judge", "Neither agree nor disagree"}
    assert "Neither agree nor disagree" not in cfg.labels and cfg.rule.name == "comet_70_15"


def test_two_tabs_given_one_round_number_are_refused_with_the_key_named(tmp_path):
    one = _tab(["Timestamp", "Email Address", "S01. x"], [["a@x.org", "Agree"]])
    raw = _raw({"Round 1": one, "Round 2": one})
    p = setup.propose(raw, rounds={"Round 1": 1, "Round 2": 1})  # as the page's table may say
    with pytest.raises(ConfigError, match="'rounds' maps two tabs to the same round number"):
        setup.config_of(setup.proposal_toml(p), tmp_path)


# --- sheet text is data, never TOML -----------------------------------------------------------


def test_hostile_tab_names_labels_and_headers_stay_strings(tmp_path):
    tab_name = 'Round 1"]\nmalicious = true #'
    label = 'Agree" = 1\n[privacy]\nobserver_comments = true\n"x'
    header = 'S01. x\n[rounds]\n"Round 9" = 9'
    tab = _tab(["Timestamp", "Email Address", header], [["a@x", label], ["b@x", "Disagree\x7f"]])
    raw = _raw({tab_name: tab})
    p = setup.propose(raw, rounds={tab_name: 1})
    cfg = load_config(_toml_file(p, tmp_path))
    assert cfg.rounds == {tab_name: 1} and not cfg.observer_comments
    assert set(tomllib.loads(setup.proposal_toml(p))) >= {"rounds", "scale", "privacy"}
    assert label in [x.label for x in p.main.labels]  # unscored, so only in a comment


# --- the fixtures of other shapes (tests/real_shapes.py) --------------------------------------

SHAPES = {
    "numeric IDs, Statements text without them": real_shapes.numeric_ids,
    "numeric IDs listed as such": lambda f: real_shapes.numeric_ids(f, "same"),
    "every ID shape": real_shapes.every_id_shape,
    "every ID shape with a Statements tab": lambda f: real_shapes.every_id_shape(f, True),
    "Portuguese 4-point, legends in titles": real_shapes.portuguese_legends,
    "a typo against the Statements tab": real_shapes.typo,
    "labels that carry their number": real_shapes.numbered_labels,
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_init_on_each_shape_writes_a_file_whose_refresh_succeeds(shape, tmp_path, capsys):
    study = SHAPES[shape](tmp_path / "study")
    out = tmp_path / "init.toml"
    assert main(["init", str(study.workbook), "--out", str(out)]) == 0, capsys.readouterr()
    metrics = _metrics(load_config(out), tmp_path / "init.duckdb").set_index(
        ["round", "statement_id"]
    )
    assert set(metrics.index) == set(study.answers)
    for key, cells in study.answers.items():
        scores = [study.scores.get(c, c) for c in cells if c != "" and c not in study.no_opinion]
        # hand count and numpy median of the answers as the fixture wrote them
        assert metrics.loc[key, "n"] == len(scores)
        assert metrics.loc[key, "median"] == pytest.approx(np.median(scores))


def test_init_on_a_sheet_no_question_of_which_matches_says_a_refresh_would_fail(tmp_path, capsys):
    study = real_shapes.typo(tmp_path / "study", every_question=True)
    out = tmp_path / "init.toml"
    assert main(["init", str(study.workbook), "--out", str(out)]) == 1
    said = capsys.readouterr().out
    assert "A refresh would fail: No question in tab 'Round 1' matches a statement" in said
    assert "closest" in said and out.exists()  # the file is written, to be corrected


# --- the "Set up a study" page ----------------------------------------------------------------


@pytest.fixture
def setup_page(tmp_path, monkeypatch, demo_db):
    """A signed-in coordinator on the set-up page; studies are saved under tmp_path/studies."""
    monkeypatch.setenv("DELPHI_DB", str(demo_db))
    monkeypatch.delenv("DELPHI_STUDY", raising=False)
    monkeypatch.setenv("DELPHI_STUDIES_DIR", str(tmp_path / "studies"))
    at = signed_in_app("coordinator").run()
    return at.switch_page("pages/setup.py").run()


def _read(at: AppTest, source: str) -> AppTest:
    at.text_input(key="setup_source").input(source)
    return next(b for b in at.button if b.label == "Read the tabs").click().run()


def _table(at: AppTest, *columns: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if set(columns) <= set(d.value.columns))


def test_page_reads_a_workbook_saves_the_study_and_runs_its_first_refresh(setup_page, tmp_path):
    at = _read(setup_page, str(DEMO_BOOK))
    assert not at.exception and not at.error
    found = _table(at, "what", "found").set_index("what")["found"]
    assert found["identity column"] == "Email Address" and found["Panel tab"] == "Panel"
    asked = _table(at, "round", "statements").set_index("round")["statements"]
    assert asked.to_dict() == {1: 40, 2: 19, 3: 13}  # data/demo/generate.py's three rounds
    at.selectbox(key="setup_preset").set_value("median_iqr")
    at.text_input(key="setup_slug").input("isotretinoin").run()
    at.button(key="setup_save").click().run()
    assert not at.exception and not at.error
    study, db = (tmp_path / "studies" / f"isotretinoin.{ext}" for ext in ("toml", "duckdb"))
    cfg = load_config(study)
    assert cfg.rule.name == "median_iqr" and cfg.labels == LABELS
    with store.connect(db, read_only=True) as con:
        info = store.snapshot_info(con, store.latest_snapshot_id(con))
    assert (info["n_respondents"], info["n_invited"]) == (15, 15)
    assert any("Snapshot 1 stored" in str(s.value) for s in at.success)
    command = f"DELPHI_STUDY={study} DELPHI_DB={db} python3 run.py"
    assert command in [c.value for c in at.code]


def test_page_refuses_to_replace_a_study_file_silently(setup_page, tmp_path):
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "mine.toml").write_text("# mine\n", encoding="utf-8")
    at = _read(setup_page, str(DEMO_BOOK))
    at.text_input(key="setup_slug").input("mine").run()
    assert at.button(key="setup_save").disabled
    at.checkbox(key="setup_replace").check().run()
    assert not at.button(key="setup_save").disabled


def test_page_without_google_credentials_says_how_to_give_them(setup_page, monkeypatch):
    for name in ("DELPHI_GOOGLE_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"):
        monkeypatch.delenv(name, raising=False)
    at = _read(setup_page, "https://docs.google.com/spreadsheets/d/1FakeKey_abc/edit")
    assert "Service account credentials: none configured" in at.error[0].value.replace("\\", "")
    assert "[gcp_service_account]" in at.caption[-1].value.replace("\\", "")
    assert not at.code  # nothing proposed


def test_page_shows_hostile_sheet_text_literally(setup_page, tmp_path):
    write_hostile(tmp_path / "hostile", hostile_tabs())
    at = _read(setup_page, str(tmp_path / "hostile" / "study.xlsx"))
    assert not at.exception
    shown = markdown_strings(at)
    assert any(PAYLOADS[0][:5] in text.replace("\\", "") for _, text in shown)  # it is shown
    assert [(kind, text) for kind, text in shown if markdown_links(text)] == []


def test_page_is_for_the_coordinator_only(tmp_path, monkeypatch, demo_db):
    monkeypatch.setenv("DELPHI_DB", str(demo_db))
    monkeypatch.delenv("DELPHI_STUDY", raising=False)
    at = signed_in_app("committee").run()
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/setup.py")  # app.py does not offer it: no URL reaches it


def test_page_is_not_offered_in_demo_mode(tmp_path, monkeypatch, demo_db):
    """Demo mode makes every visitor the coordinator; the set-up page reads any server file
    and writes study files, so it needs a real sign-in (found by a review: an anonymous visitor
    of a public demo could read /etc/passwd's first line and write studies)."""
    monkeypatch.setenv("DELPHI_DB", str(demo_db))
    monkeypatch.delenv("DELPHI_STUDY", raising=False)
    monkeypatch.setenv("DELPHI_STUDIES_DIR", str(tmp_path / "studies"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()  # no secrets at all, the bundled demo: demo mode
    assert any("Demo mode" in e.value for e in [*at.warning, *at.info])
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/setup.py")
    assert not (tmp_path / "studies").exists()


# --- the consensus rule's version (issue 17.5) ---------------------------------------------------

VERSION = 'v2, pre-registered 2027-01-15 ("OSF" #4)'


def test_cli_init_writes_the_rule_version_and_every_report_prints_it(tmp_path, capsys):
    import html
    import io

    import openpyxl

    from lib.reports.docx import docx_report
    from lib.reports.html import html_report
    from lib.reports.xlsx import xlsx_report
    from tests.test_docx import _open, _rows, _tables_after

    out, db = tmp_path / "study.toml", tmp_path / "study.duckdb"
    argv = ["init", str(DEMO_BOOK), "--out", str(out), "--consensus", "pct75"]
    assert main([*argv, "--rule-version", VERSION]) == 0
    assert "no version" not in capsys.readouterr().out
    cfg = load_config(out)
    assert cfg.rule.version == VERSION and cfg.rule.name == "pct75"
    refresh(cfg, db)
    data = _report_data(db, cfg)
    assert VERSION in html.unescape(html_report(data))
    book = openpyxl.load_workbook(io.BytesIO(xlsx_report(data)))
    cells = [c.value for ws in book for row in ws.iter_rows() for c in row]
    assert VERSION in cells
    doc = _open(docx_report(data))
    rule = {r[0]: r[1] for r in _rows(_tables_after(doc, "Consensus definition")[0])}
    assert rule["Version"] == VERSION


def _report_data(db: Path, cfg):
    from lib.reports.data import build_report_data
    from lib.reports.inputs import StoreFrames, report_inputs

    with store.connect(db, read_only=True) as con:
        frames = report_inputs(StoreFrames(con, store.latest_snapshot_id(con)))
    return build_report_data(frames, cfg)


def test_cli_init_with_a_rule_but_no_version_asks_for_it(tmp_path, capsys):
    out = tmp_path / "study.toml"
    assert main(["init", str(DEMO_BOOK), "--out", str(out), "--consensus", "median_iqr"]) == 0
    said = capsys.readouterr().out
    assert "check: the consensus rule has no version: add --rule-version" in said
    text = out.read_text(encoding="utf-8")
    assert 'preset = "median_iqr"' in text and '# version = "v1, pre-registered YYYY-MM-DD"' in text
    assert load_config(out).rule.version == ""  # reports print "(none given)", never the demo's


def test_cli_init_refuses_a_rule_version_without_a_rule(tmp_path, capsys):
    out = tmp_path / "study.toml"
    assert main(["init", str(DEMO_BOOK), "--out", str(out), "--rule-version", VERSION]) == 1
    assert "--consensus" in capsys.readouterr().err and not out.exists()


def _copied_demo(tmp_path: Path, source: str) -> Path:
    """The demo's study file copied for another study, its source changed, the rest kept."""
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    copy = tmp_path / "copied.toml"
    copy.write_text(
        text.replace('source = "isotretinoin_delphi.xlsx"', f"source = {json.dumps(source)}")
    )
    return copy


def test_a_copied_study_file_that_keeps_the_demos_rule_version_is_warned(tmp_path):
    from lib.config import rule_version_warning

    sheet = _copied_demo(tmp_path, "https://docs.google.com/spreadsheets/d/abc123/edit")
    warning = rule_version_warning(load_config(sheet))
    assert warning and "v1, pre-registered 2026-09-01" in warning and "bundled demo" in warning
    # the demo's own file, and a copy still reading the demo's workbook, are the demo
    assert rule_version_warning(load_config(DEMO_CONFIG)) is None
    same = _copied_demo(tmp_path, str(DEMO_BOOK))
    assert rule_version_warning(load_config(same)) is None
    # a copy with its own version is not warned
    own = sheet.read_text(encoding="utf-8").replace("2026-09-01", "2027-03-01")
    sheet.write_text(own, encoding="utf-8")
    assert rule_version_warning(load_config(sheet)) is None


def test_refresh_of_a_copied_study_file_says_the_rule_version_is_the_demos(tmp_path, capsys):
    book = tmp_path / "ours.xlsx"
    book.write_bytes(DEMO_BOOK.read_bytes())  # another study's workbook (same answers)
    study = _copied_demo(tmp_path, str(book))
    db = str(tmp_path / "ours.duckdb")
    assert main(["refresh", "--study", str(study), "--db", db]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Snapshot 1 stored")
    assert lines[-1].startswith(
        "  note: The consensus rule's version “v1, pre-registered 2026-09-01”"
    )
    assert main(["refresh", "--study", str(study), "--db", db]) == 0  # and when nothing changed
    assert "bundled demo's" in capsys.readouterr().out


def test_page_writes_the_rule_version_given(setup_page, tmp_path):
    at = _read(setup_page, str(DEMO_BOOK))
    at.selectbox(key="setup_preset").set_value("pct75").run()
    assert any("Give the rule's version" in c.value for c in at.caption)
    at.text_input(key="setup_rule_version").input(VERSION).run()
    assert not any("Give the rule's version" in c.value for c in at.caption)
    text = next(c.value for c in at.code if "[consensus]" in c.value)
    assert 'preset = "pct75"' in text
    assert load_config_text(text, tmp_path).rule.version == VERSION


def load_config_text(text: str, folder: Path):
    path = folder / "shown.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)
