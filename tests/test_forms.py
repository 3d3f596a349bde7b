"""lib.forms against the fake Google server over real HTTP (google-auth + requests): filling an
empty form, refusing a filled one, the Results tab swapped in atomically, and a clear message
with nothing half-written left unsaid for each fault (429, 500, 403, timeouts)."""

from __future__ import annotations

from typing import Any

import pytest

from lib import store
from lib.__main__ import main
from lib.analysis.rules import rule_from_config
from lib.analysis.scales import Scale
from lib.config import load_config
from lib.forms import WriteError, build_form, parse_form_id, read_form, write_form
from lib.forms.build import question_style
from lib.forms.links import form_questions
from lib.forms.results import results_rows
from lib.forms.write import write_results
from lib.sources.base import GoogleSheetError
from lib.sources.gsheets import read_sheet
from lib.sources.gsheets_auth import FORMS_WRITE_SCOPES, SCOPES, SHEETS_WRITE_SCOPES
from tests.helpers import ROOT

EDITOR_URL = "https://docs.google.com/forms/d/{}/edit"


class Sleeps(list):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def demo_frames(demo_db_master):
    """Round 3's statements and the snapshot's metrics, distribution and info (the demo)."""
    with store.connect(demo_db_master, read_only=True) as con:
        sid = store.current_snapshot_id(con)
        stmts = store.statements_for(con, sid)
        return {
            "rows": stmts[stmts["round"] == 3],
            "metrics": store.metrics_for(con, sid),
            "distribution": store.distribution_for(con, sid),
            "info": store.snapshot_info(con, sid),
            "recipients": store.feedback_recipients(con, sid),
        }


@pytest.fixture
def plan(demo_frames, demo_cfg):
    f = demo_frames
    return build_form(f["rows"], f["metrics"], f["distribution"], demo_cfg, 2)


@pytest.fixture
def api(rsa_service_account, google_session) -> dict[str, Any]:
    """Keyword arguments binding lib.forms' calls to the fake, with recorded sleeps."""
    return {
        "credentials_info": rsa_service_account,
        "session": google_session,
        "sleep": Sleeps(),
        "timeout": 0.5,
    }


# --- building ------------------------------------------------------------------------------


def test_each_statement_title_starts_with_its_id_and_comment_follows(plan, demo_frames):
    p = plan.preview
    assert p["title"].iloc[0] == "Email Address" and p["kind"].iloc[0].startswith("identity")
    assert p["title"].iloc[1] == "S04. " + demo_frames["rows"].iloc[0]["text"]
    assert p["title"].iloc[2] == "Comments on statement S04 (optional)"
    assert len(p) == 1 + 2 * 13 == len(plan.requests)


def test_description_gives_the_previous_result_in_words(plan):
    # demo round 2, S04: 2 Disagree, 2 Neither, 10 Agree, 1 Strongly agree (n = 15); % agree
    # = (10 + 1) / 15 = 73%; median of 2,2,3,3,4x10,5 is the 8th value: 4
    text = plan.preview.set_index("statement_id").loc["S04"]
    row = text[text["kind"] == "multiple choice"].iloc[0]
    assert row["description"] == (
        "Round 2 result for S04: n = 15, 73% agree, median 4. Answers: 2 Disagree, "
        "2 Neither agree nor disagree, 10 Agree, 1 Strongly agree. Wording unchanged."
    )


def test_description_of_a_revision_quotes_the_previous_wording(plan, demo_frames):
    m = demo_frames["metrics"]
    old = m[(m["round"] == 2) & (m["statement_id"] == "S07a")]["text"].iloc[0]
    desc = plan.preview.set_index("title").filter(like="S07b.", axis=0)["description"].iloc[0]
    assert desc.startswith("Round 2 result for S07a: n = 15")
    assert f"Revised from S07a; the previous wording was: “{old}”" in desc


_YES_NO_ROUND_3 = """
[[scales]]
name = "Inclusion vote"
rounds = [3]
type = "yes_no"
[scales.consensus]
threshold = 70
"""


def test_previous_result_is_described_on_the_closed_rounds_scale(demo_frames, tmp_path):
    # the demo with a Yes/No vote in round 3 only: round 2's 1-5 answers keep their labels
    demo = ROOT / "data" / "demo"
    text = (demo / "study.toml").read_text(encoding="utf-8")
    text = text.replace('source = "isotretinoin_delphi.xlsx"', f'source = "{demo}/x.xlsx"')
    study = tmp_path / "study.toml"
    study.write_text(text + _YES_NO_ROUND_3, encoding="utf-8")
    cfg = load_config(study)
    assert cfg.scale_for(3, "S04").yes_no and not cfg.scale_for(2, "S04").yes_no
    f = demo_frames
    plan = build_form(f["rows"], f["metrics"], f["distribution"], cfg, 2)
    row = plan.preview[plan.preview["statement_id"] == "S04"].iloc[0]
    assert row["answers"] == "Yes / No"  # the question asks on round 3's scale
    assert row["description"].startswith(
        "Round 2 result for S04: n = 15, 73% agree, median 4. Answers: 2 Disagree, "
        "2 Neither agree nor disagree, 10 Agree, 1 Strongly agree."
    )


def _scale(labels: dict[str, int], lo: int = 1, hi: int = 9, no_opinion=()) -> Scale:
    return Scale(
        "", lo, hi, labels, tuple(no_opinion), rule_from_config({"preset": "pct75"}, lo, hi)
    )


@pytest.mark.parametrize(
    "scale,style",
    [
        (_scale({"1 - Strongly disagree": 1, "9 - Strongly agree": 9}), "scale"),
        (_scale({"Disagree": 1, "Neutral": 2, "Agree": 3}, 1, 3), "choice"),
        (_scale({"1": 1, "9": 9}, no_opinion=["Unable to judge"]), "choice"),
        (_scale({}, 1, 12), "choice"),  # Forms' linear scale stops at 10
    ],
)
def test_question_style_follows_the_scale(scale, style):
    assert question_style(scale) == style


def test_parse_form_id_refuses_the_panelists_address():
    assert parse_form_id(EDITOR_URL.format("1AbCdEfGhIjKl")) == "1AbCdEfGhIjKl"
    with pytest.raises(WriteError, match="editor's address"):
        parse_form_id("https://docs.google.com/forms/d/e/1FAIpQLSe123/viewform")


# --- writing a form ------------------------------------------------------------------------


@pytest.mark.parametrize("style", ["choice", "grid", "scale"])
def test_write_fills_the_empty_form_with_ids_it_assigned(
    fake_sheets, api, demo_frames, demo_cfg, style
):
    f = demo_frames
    plan = build_form(f["rows"], f["metrics"], f["distribution"], demo_cfg, 2, style=style)
    form_id = fake_sheets.add_form()
    done = write_form(EDITOR_URL.format(form_id), plan, **api)
    items = fake_sheets.forms[form_id]["items"]
    assert len(items) == len(plan.requests) and done.form["items"] == items
    asked = [q for q in form_questions(done.form) if q.statement_id]
    assert sorted(q.statement_id for q in asked) == sorted(f["rows"]["statement_id"])
    assert len({q.entry for q in asked}) == 13  # one question id per statement
    kinds = {("questionGroupItem" in i) for i in items[1:] if "Comments" not in i["title"]}
    assert kinds == {style == "grid"}
    assert fake_sheets.count("token") == 1 and fake_sheets.count("forms.batchUpdate") == 1
    assert fake_sheets.scopes == [" ".join(FORMS_WRITE_SCOPES)]


def test_second_write_on_a_filled_form_is_refused(fake_sheets, api, plan):
    form_id = fake_sheets.add_form()
    write_form(form_id, plan, **api)
    with pytest.raises(WriteError, match="already has 27 item") as info:
        write_form(form_id, plan, **api)
    assert info.value.kind == "not_empty" and "nothing was written" in str(info.value)
    assert len(fake_sheets.forms[form_id]["items"]) == 27
    assert fake_sheets.count("forms.batchUpdate") == 1


def test_form_not_shared_as_editor_says_how_to_share_it(
    fake_sheets, api, plan, rsa_service_account
):
    form_id = fake_sheets.add_form(editor=False)
    with pytest.raises(WriteError) as info:
        write_form(form_id, plan, **api)
    email = rsa_service_account["client_email"]
    assert info.value.kind == "permission"
    assert f"share the form with {email} as Editor" in str(info.value)
    assert "Nothing was written to the form." in str(info.value)
    assert "items" not in fake_sheets.forms[form_id]


def test_quota_429_is_retried_and_the_form_written_once(fake_sheets, api, plan):
    form_id = fake_sheets.add_form()
    fake_sheets.fault("429", times=2, endpoint="forms.batchUpdate")
    write_form(form_id, plan, **api)
    assert len(api["sleep"]) == 2 and fake_sheets.count("forms.batchUpdate") == 3
    assert len(fake_sheets.forms[form_id]["items"]) == 27


def test_server_500_gives_up_and_says_the_form_may_need_checking(fake_sheets, api, plan):
    form_id = fake_sheets.add_form()
    fake_sheets.fault("500", times=None, endpoint="forms.batchUpdate")
    with pytest.raises(WriteError) as info:
        write_form(form_id, plan, **api)
    text = str(info.value)
    assert "Google Forms is not responding (HTTP 500) after 5 tries" in text
    assert "may or may not have been filled" in text and info.value.left == "unknown"
    assert "items" not in fake_sheets.forms[form_id]


def test_timeout_reading_the_form_is_a_clear_message(fake_sheets, api, plan):
    form_id = fake_sheets.add_form()
    fake_sheets.fault("slow", times=None, endpoint="forms.get", delay=1.0)
    with pytest.raises(GoogleSheetError) as info:
        read_form(form_id, **{**api, "max_tries": 2})
    assert "Google Forms did not answer within 0.5 s (form) after 2 tries" in str(info.value)
    assert fake_sheets.count("forms.batchUpdate") == 0


@pytest.mark.parametrize("kind", ["not_json", "truncated"])
def test_a_malformed_token_answer_is_a_clear_message_as_on_the_read_path(
    fake_sheets, api, plan, results, kind
):
    form_id = fake_sheets.add_form()
    fake_sheets.sheet_editor = True
    fake_sheets.fault(kind, times=2, endpoint="token")
    with pytest.raises(GoogleSheetError) as form:
        write_form(form_id, plan, **api)
    with pytest.raises(WriteError) as sheet:
        write_results(fake_sheets.sheet_url, results, **api)
    assert form.value.kind == sheet.value.kind == "bad_response"
    assert str(form.value).startswith("Unexpected response from Google Forms (token request)")
    assert "Nothing was changed in the spreadsheet." in str(sheet.value)
    assert "items" not in fake_sheets.forms[form_id] and "Results" not in fake_sheets.tabs


def test_a_connection_reset_is_retried_and_the_form_written_once(fake_sheets, api, plan):
    form_id = fake_sheets.add_form()
    fake_sheets.fault("reset", times=1, endpoint="forms.batchUpdate")
    done = write_form(form_id, plan, **api)
    assert len(done.form["items"]) == 27 and fake_sheets.count("forms.batchUpdate") == 2


def test_a_retry_after_a_write_that_got_through_adds_nothing_twice(fake_sheets, api, plan):
    form_id = fake_sheets.add_form()
    fake_sheets.fault("lost", times=1, endpoint="forms.batchUpdate")  # written, answer lost
    with pytest.raises(WriteError) as info:
        write_form(form_id, plan, **api)
    assert info.value.kind == "conflict"
    assert "an earlier try may have got through" in str(info.value)
    assert len(fake_sheets.forms[form_id]["items"]) == 27  # not 54


def test_write_control_refuses_a_form_changed_since_it_was_read(fake_sheets, plan, api):
    from lib.forms.client import FORMS_API, GoogleApi

    form_id = fake_sheets.add_form()
    with GoogleApi(FORMS_WRITE_SCOPES, "Google Forms", **api) as g:
        body = {"requests": plan.requests, "writeControl": {"requiredRevisionId": "00000000"}}
        with pytest.raises(WriteError, match="changed since the required revision"):
            g.call("POST", f"{FORMS_API}/{form_id}:batchUpdate", "form update", body=body)
    assert "items" not in fake_sheets.forms[form_id]


# --- the Results tab -----------------------------------------------------------------------


@pytest.fixture
def results(demo_frames):
    return results_rows(demo_frames["metrics"], demo_frames["info"])


def _tab(fake, title: str) -> list[list[Any]]:
    return fake.tabs[title]


def test_results_tab_is_written_and_replaced_atomically(fake_sheets, api, results):
    fake_sheets.sheet_editor = True
    before = list(fake_sheets.tabs)
    done = write_results(fake_sheets.sheet_url, results, **api)
    assert list(fake_sheets.tabs) == [*before, "Results"]
    assert _tab(fake_sheets, "Results") == results and done.cells == sum(map(len, results))
    first_id = fake_sheets.sheet_id("Results")
    write_results(fake_sheets.sheet_url, results[:8], **api)
    assert list(fake_sheets.tabs) == [*before, "Results"]  # replaced, not added
    assert (
        _tab(fake_sheets, "Results") == results[:8] and fake_sheets.sheet_id("Results") != first_id
    )
    # token, metadata, add tab, values, swap: one values.batchUpdate per write
    assert done.requests == 5 and fake_sheets.count("values.batchUpdate") == 2
    assert fake_sheets.scopes == [" ".join(SHEETS_WRITE_SCOPES)] * 2


def test_results_hold_aggregates_only(results, demo_frames):
    people = demo_frames["recipients"]
    secrets = set(people["identity"]) | set(people["name"].dropna()) | set(people["panelist"])
    cells = {str(c) for row in results for c in row}
    assert not cells & secrets
    assert results[5][:5] == ["Round", "ID", "Domain", "Statement", "n (valid ratings)"]
    assert len(results) == 6 + len(demo_frames["metrics"])


def test_results_on_a_sheet_shared_as_viewer_say_editor_is_needed(
    fake_sheets, api, results, rsa_service_account
):
    before = dict(fake_sheets.tabs)
    with pytest.raises(WriteError) as info:
        write_results(fake_sheets.sheet_url, results, **api)
    email = rsa_service_account["client_email"]
    assert f"share the spreadsheet with {email} as Editor" in str(info.value)
    assert "Nothing was changed in the spreadsheet." in str(info.value)
    assert fake_sheets.tabs == before


def test_results_values_failure_removes_the_new_tab(fake_sheets, api, results):
    fake_sheets.sheet_editor = True
    write_results(fake_sheets.sheet_url, results[:7], **api)
    fake_sheets.fault("500", times=None, endpoint="values.batchUpdate")
    with pytest.raises(WriteError) as info:
        write_results(fake_sheets.sheet_url, results, **api)
    assert "Nothing was changed in the spreadsheet." in str(info.value) and not info.value.left
    assert "Results (being written)" not in fake_sheets.tabs
    assert _tab(fake_sheets, "Results") == results[:7]


def test_results_swap_failure_says_which_tab_is_left(fake_sheets, api, results):
    fake_sheets.sheet_editor = True
    write_results(fake_sheets.sheet_url, results[:7], **api)
    fake_sheets.fault("403", times=None, endpoint="sheets.batchUpdate", after=1)
    with pytest.raises(WriteError) as info:
        write_results(fake_sheets.sheet_url, results, **api)
    assert "The 'Results' tab is unchanged" in str(info.value)
    assert info.value.left == "Results (being written)"
    assert _tab(fake_sheets, "Results") == results[:7]
    assert _tab(fake_sheets, "Results (being written)") == results
    fake_sheets.clear_faults()
    write_results(fake_sheets.sheet_url, results, **api)  # the next write clears it away
    assert "Results (being written)" not in fake_sheets.tabs
    assert _tab(fake_sheets, "Results") == results


def test_refresh_still_asks_for_the_read_only_scope(
    fake_sheets, rsa_service_account, google_session
):
    read_sheet(fake_sheets.sheet_url, credentials_info=rsa_service_account, session=google_session)
    assert fake_sheets.scopes == [" ".join(SCOPES)]
    assert SCOPES == ("https://www.googleapis.com/auth/spreadsheets.readonly",)


# A write whose answer is lost was carried out: its retry is refused ("No grid with id", "already
# exists"), and the tab list read again tells what the spreadsheet now holds.


def test_results_swap_whose_answer_was_lost_counts_as_done(fake_sheets, api, results):
    fake_sheets.sheet_editor = True
    write_results(fake_sheets.sheet_url, results[:7], **api)
    # the 2nd sheets.batchUpdate of the next write is the swap: done, its answer lost
    fake_sheets.fault("lost", times=1, endpoint="sheets.batchUpdate", after=1)
    write_results(fake_sheets.sheet_url, results, **api)
    assert _tab(fake_sheets, "Results") == results
    assert "Results (being written)" not in fake_sheets.tabs


def test_results_new_tab_whose_answer_was_lost_is_used_not_left(fake_sheets, api, results):
    fake_sheets.sheet_editor = True
    before = list(fake_sheets.tabs)
    fake_sheets.fault("lost", times=1, endpoint="sheets.batchUpdate")  # the addSheet
    write_results(fake_sheets.sheet_url, results, **api)
    assert list(fake_sheets.tabs) == [*before, "Results"]
    assert _tab(fake_sheets, "Results") == results


def test_results_clean_up_whose_answer_was_lost_says_nothing_changed(fake_sheets, api, results):
    fake_sheets.sheet_editor = True
    write_results(fake_sheets.sheet_url, results[:7], **api)
    fake_sheets.fault("500", times=None, endpoint="values.batchUpdate")
    fake_sheets.fault("lost", times=1, endpoint="sheets.batchUpdate", after=1)  # the clean-up
    with pytest.raises(WriteError) as info:
        write_results(fake_sheets.sheet_url, results, **api)
    assert "Nothing was changed in the spreadsheet." in str(info.value) and not info.value.left
    assert "Results (being written)" not in fake_sheets.tabs
    assert _tab(fake_sheets, "Results") == results[:7]


def test_results_swap_refused_ends_googles_message_before_ours(fake_sheets, api, results):
    fake_sheets.sheet_editor = True
    fake_sheets.fault("400", times=None, endpoint="sheets.batchUpdate", after=1)
    with pytest.raises(WriteError) as info:
        write_results(fake_sheets.sheet_url, results, **api)
    assert str(info.value) == (
        "Google Sheets refused the tab swap (HTTP 400): Injected fault: HTTP 400. The 'Results' "
        "tab is unchanged; the new results are in the tab 'Results (being written)' (the next "
        "write replaces it, or delete it)."
    )
    assert info.value.left == "Results (being written)"


def test_results_swap_that_cannot_be_checked_says_so(fake_sheets, api, results):
    fake_sheets.sheet_editor = True
    fake_sheets.fault("500", times=None, endpoint="sheets.batchUpdate", after=1)
    fake_sheets.fault("500", times=None, endpoint="metadata", after=1)  # the re-read fails too
    with pytest.raises(WriteError) as info:
        write_results(fake_sheets.sheet_url, results, **{**api, "max_tries": 2})
    assert "could not be checked" in str(info.value) and info.value.left == "unknown"
    assert _tab(fake_sheets, "Results (being written)") == results


# Google's addSheet makes a 1000 x 26 grid, and values.batchUpdate does not grow it ("Range
# ('Lighthouse Results'!A1001) exceeds grid limits. Max rows: 1000, max columns: 121",
# cloudfour/lighthouse-parade#151): the new tab asks for a grid that fits the rows.


@pytest.mark.parametrize("n_rows,n_cols", [(1200, 10), (8, 30)])
def test_results_beyond_googles_default_grid_are_written(fake_sheets, api, n_rows, n_cols):
    fake_sheets.sheet_editor = True
    rows = [[f"r{i}c{j}" for j in range(n_cols)] for i in range(n_rows)]
    write_results(fake_sheets.sheet_url, rows, **api)
    assert _tab(fake_sheets, "Results") == rows
    assert fake_sheets.grid("Results") == (n_rows, n_cols)


def test_fake_refuses_values_beyond_the_default_grid_as_google(fake_sheets, api):
    from lib.forms.client import SHEETS_API, GoogleApi

    fake_sheets.sheet_editor = True
    url = f"{SHEETS_API}/{fake_sheets.key}"
    with GoogleApi(SHEETS_WRITE_SCOPES, "Google Sheets", **api) as g:
        add = {"requests": [{"addSheet": {"properties": {"title": "Big"}}}]}
        g.call("POST", f"{url}:batchUpdate", "new tab", body=add)
        values = [[i] for i in range(1001)]
        data = {"valueInputOption": "RAW", "data": [{"range": "'Big'!A1", "values": values}]}
        with pytest.raises(WriteError, match=r"'Big'!A1001\) exceeds grid limits. Max rows: 1000"):
            g.call("POST", f"{url}/values:batchUpdate", "values", body=data)
    assert fake_sheets.tabs["Big"] == []


@pytest.mark.parametrize("command", [["forms", "links", "--out", "links.csv"], ["results"]])
def test_commands_refuse_another_studys_database(command, demo_db, tmp_path, capsys):
    # a study file for another sheet, pointed at the demo's database: refused before any request
    text = (ROOT / "data" / "demo" / "study.toml").read_text(encoding="utf-8")
    other = tmp_path / "other.toml"
    other.write_text(
        text.replace('source = "isotretinoin_delphi.xlsx"', 'source = "1AbCdEfGhIjKlMnOp"'),
        encoding="utf-8",
    )
    form = ["--form", "https://docs.google.com/forms/d/abc/edit"] if command[0] == "forms" else []
    out = ["--out", str(tmp_path / "links.csv")] if command[0] == "forms" else []
    args = [*command[:2], *form, *out] if command[0] == "forms" else command
    assert main([*args, "--study", str(other), "--db", str(demo_db)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the database") and "(Google Sheet 1AbCdEfGhIjKlMnOp)" in err
