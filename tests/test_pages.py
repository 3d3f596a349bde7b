"""AppTest: the entry point, navigation by role, Overview and Statements with every filter.

Note: in Streamlit 1.67 AppTest runs app.py (the st.navigation router) only on the first run;
later runs re-execute just the current page.  So a role is set in session state before the
first run, and each role scenario gets its own AppTest.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from lib.auth import hash_password

APP = str(Path(__file__).resolve().parent.parent / "app.py")
ROOT = Path(APP).parent


def _observer(at: AppTest) -> AppTest:
    at.secrets["access"] = {"coordinator_password_hash": hash_password("boss", iterations=1000)}
    return at


def _texts(at: AppTest) -> str:
    parts = [e.value for e in [*at.title, *at.markdown, *at.caption, *at.subheader]]
    return "\n".join(str(p) for p in parts)


def _pick(at: AppTest, statement_id: str) -> None:
    box = at.selectbox(key="st_statement")
    box.select(next(o for o in box.options if o.startswith(f"{statement_id} — "))).run()


def test_overview_renders_in_demo_mode_with_banner(app):
    at = app.run()
    assert not at.exception
    assert "Demo mode" in at.warning[0].value
    assert "isotretinoin" in at.title[0].value
    assert [m.label for m in at.metric] == ["Panel", "Rounds", "Statements", "Consensus reached"]
    assert at.metric[0].value == "15 experts" and at.metric[1].value == "3"


def test_overview_round_filter_shows_that_round(app):
    at = app.run()
    at.selectbox(key="ov_round").select("Round 2").run()
    table = at.dataframe[1].value
    assert not at.exception and set(table["round"]) == {2} and len(table) == 19


def test_overview_domain_and_status_filters(app):
    at = app.run()
    at.multiselect(key="ov_domain").select("Dosing").run()
    at.button_group(key="ov_status").set_value(["Consensus in"]).run()
    table = at.dataframe[1].value
    assert not at.exception and len(table) > 0
    # the status as a marked label (● in, ■ out, ○ none), as the charts mark it
    assert set(table["domain"]) == {"Dosing"} and set(table["status"]) == {"● Consensus in"}


def test_statements_page_shows_every_version_of_a_revised_statement(app):
    at = app.run()
    at.switch_page("pages/statements.py").run()
    _pick(at, "S07b")
    assert not at.exception
    metrics = at.dataframe[0].value
    assert metrics["statement_id"].tolist() == ["S07", "S07a", "S07b"]


def test_statements_domain_filter_limits_the_choice(app):
    at = app.run()
    at.switch_page("pages/statements.py").run()
    at.selectbox(key="st_domain").select("Monitoring").run()
    options = at.selectbox(key="st_statement").options
    assert not at.exception and options and all(o.startswith("S") for o in options)
    assert len(options) < 20


def test_observer_has_no_banner_and_no_coordinator_page(app):
    at = _observer(app).run()
    assert not at.exception and not [w for w in at.warning if "Demo mode" in w.value]
    assert (ROOT / "pages" / "coordinator.py").exists()
    with pytest.raises(ValueError):
        at.switch_page("pages/coordinator.py")


def test_observer_sees_no_comments_on_statements(app):
    at = _observer(app).run()
    at.switch_page("pages/statements.py").run()
    assert "steering committee only" in _texts(at)
    assert not at.text  # comments are rendered with st.text; none for observers


@pytest.mark.parametrize("password,role", [("team", "committee"), ("wrong", None)])
def test_password_sign_in_grants_the_committee_role(app, password, role):
    app.secrets["access"] = {"committee_password_hash": hash_password("team", iterations=1000)}
    at = app.run()
    at.text_input(key="password").input(password)
    at.button(key="FormSubmitter:sign_in-Sign in").click().run()
    assert at.session_state["role"] == role if role else "role" not in at.session_state
    if role is None:
        assert at.session_state["sign_in_error"] == "That password is not right."


def test_many_comments_are_listed_in_a_table(app, monkeypatch):
    from lib.ui import widgets

    monkeypatch.setattr(widgets, "MANY_COMMENTS", 1)
    _observer(app).session_state["role"] = "committee"
    at = app.run()
    at.switch_page("pages/statements.py").run()
    _pick(at, "S05")
    # AppTest does not expose dataframe keys: the table with a comment column
    table = next(d.value for d in at.dataframe if "comment" in d.value.columns)
    assert not at.exception and not at.text and len(table) > 1
    assert set(table.columns) == {"round", "comment"}


def test_committee_sees_comments(app):
    _observer(app).session_state["role"] = "committee"
    at = app.run()
    at.switch_page("pages/statements.py").run()
    _pick(at, "S05")
    assert not at.exception and "steering committee only" not in _texts(at)
    assert at.text, "S05 has comments in the demo"
