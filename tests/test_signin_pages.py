"""AppTest: sign-in fails closed, and the throttle cannot be turned against the coordinator.

Issue 12 item 1: a secrets.toml with a syntax error, an empty ``[access]``, ``[Access]`` or the
hash keys at the top level turned the app into demo mode, where an anonymous visitor had the
Coordinator page with every panelist's identity.  Item 6: one global counter, so five wrong
committee guesses locked the coordinator out, and a committee sign-in reset the coordinator's
failures.  The secrets here are real files in ``tmp_path`` read through Streamlit's
``secrets.files`` option, as a deployed server reads them.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import streamlit.config as st_config
from streamlit.runtime.secrets import secrets_singleton
from streamlit.testing.v1 import AppTest

from lib.auth import SignInThrottle, hash_password, throttle_path
from lib.config import DEMO_CONFIG, load_config
from lib.sources import read_workbook
from tests.test_privacy import EMAIL, rendered_text

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
COORDINATOR_PAGE = "pages/coordinator.py"
BOSS, TEAM = hash_password("boss", iterations=1000), hash_password("team", iterations=1000)
LABELS = {"committee": "Steering committee", "coordinator": "Coordinator"}
BOTH = f'[access]\ncoordinator_password_hash = "{BOSS}"\ncommittee_password_hash = "{TEAM}"\n'


@pytest.fixture(autouse=True)
def app_py_on_every_run(monkeypatch):
    """Run app.py (router, banner, sidebar) on every rerun, as the live server does: AppTest
    1.67 re-executes only the page after the first run (see bench/pages.py)."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False  # as st.navigation leaves it

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def secrets_file(tmp_path, monkeypatch):
    """The only secrets file Streamlit reads this test (``secrets.files``), not yet written."""
    path = tmp_path / "dot-streamlit" / "secrets.toml"
    path.parent.mkdir()
    before = st_config.get_option("secrets.files")
    st_config.set_option("secrets.files", [str(path)])
    monkeypatch.setattr(secrets_singleton, "_file_watchers_installed", True)  # no poll thread
    secrets_singleton._reset()
    yield path
    secrets_singleton._reset()  # forget the parsed file (and any variable it exported)
    st_config.set_option("secrets.files", before)


@pytest.fixture
def other_study(tmp_path, demo_db, monkeypatch) -> Path:
    """A study that is not the bundled demo (the demo's answers, its own study.toml)."""
    cfg = load_config()
    toml = tmp_path / "study.toml"
    text = DEMO_CONFIG.read_text(encoding="utf-8")
    toml.write_text(text.replace('"isotretinoin_delphi.xlsx"', f'"{cfg.source}"'), "utf-8")
    monkeypatch.setenv("DELPHI_STUDY", str(toml))
    monkeypatch.setenv("DELPHI_DB", str(demo_db))
    return toml


@pytest.fixture
def demo_study(demo_db, monkeypatch) -> None:
    monkeypatch.delenv("DELPHI_STUDY", raising=False)
    monkeypatch.setenv("DELPHI_DB", str(demo_db))


@pytest.fixture(scope="module")
def identities() -> set[str]:
    """Every panelist's e-mail address and name in the demo workbook."""
    panel = read_workbook(load_config().source).tabs["Panel"]
    return {str(c).strip() for row in panel[1:] for c in row[:2] if str(c).strip()}


def _new() -> AppTest:
    return AppTest.from_file(APP, default_timeout=60)


def _offered(at: AppTest, page: str) -> bool:
    try:
        at.switch_page(page)
    except ValueError:  # not in this run's st.navigation
        return False
    return True


def _plain(markdown: str) -> str:
    return markdown.replace("\\", "")


def _banner(at: AppTest) -> str:
    return "\n".join(_plain(w.value) for w in at.warning)


# --- item 1: fail closed ---------------------------------------------------------------------

BROKEN = {
    "syntax error": (
        f'[access]\ncoordinator_password_hash = "{BOSS}\n',
        "The secrets file could not be read (a TOML syntax error at line 2",
    ),
    "empty [access]": ("[access]\n", "[access] is empty"),
    "[Access]": (
        f'[Access]\ncoordinator_password_hash = "{BOSS}"\n',
        "a [Access] table but no [access]",
    ),
    "top-level keys": (
        f'coordinator_password_hash = "{BOSS}"\ncommittee_password_hash = "{TEAM}"\n',
        "coordinator_password_hash is at the top level",
    ),
    "keys under another table": (
        f'[gcp_service_account]\ntype = "service_account"\ncoordinator_password_hash = "{BOSS}"\n',
        "coordinator_password_hash is inside [gcp_service_account]",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_a_broken_secrets_file_shows_observer_pages_only(
    case, secrets_file, other_study, identities
):
    text, problem = BROKEN[case]
    secrets_file.write_text(text, encoding="utf-8")
    at = _new().run()
    assert not at.exception
    assert problem in _banner(at) and "Only observer pages are shown" in _banner(at)
    assert "Demo mode" not in _banner(at)
    assert not _offered(at, COORDINATOR_PAGE) and not _offered(at, "pages/next_round.py")
    assert not at.get("popover"), "no sign-in offered when sign-in is off"
    for page in ("pages/overview.py", "pages/statements.py", "pages/panel.py"):
        at.switch_page(page).run()
        shown = rendered_text(at)
        assert not at.exception and not EMAIL.search(shown), page
        assert not [i for i in identities if i in shown], page


def test_the_demo_study_with_a_broken_secrets_file_is_not_demo_mode_either(
    secrets_file, demo_study
):
    secrets_file.write_text("[access]\n", encoding="utf-8")
    at = _new().run()
    assert not at.exception and "Demo mode" not in _banner(at)
    assert "[access] is empty" in _banner(at) and not _offered(at, COORDINATOR_PAGE)


def test_another_study_without_a_secrets_file_is_observer_only(secrets_file, other_study):
    at = _new().run()
    assert not at.exception and "No secrets file" in _banner(at)
    assert not _offered(at, COORDINATOR_PAGE)


def test_a_session_role_does_not_survive_sign_in_being_off(secrets_file, other_study):
    secrets_file.write_text("[access]\n", encoding="utf-8")
    at = _new()
    at.session_state["role"] = "coordinator"  # e.g. signed in before the file was broken
    at.run()
    assert not _offered(at, COORDINATOR_PAGE)


def test_the_demo_study_without_secrets_is_still_demo_mode(secrets_file, demo_study):
    at = _new().run()
    assert not at.exception and "Demo mode" in at.warning[0].value
    assert _offered(at, COORDINATOR_PAGE)


def test_the_demo_study_file_on_another_studys_database_is_not_demo_mode(
    secrets_file, tmp_path, monkeypatch, tiny_raw
):
    """A host that forgot DELPHI_STUDY while DELPHI_DB holds a real study (here the tiny study,
    refreshed from its own source) must not open every page: the data decides too."""
    from lib.pipeline import refresh
    from tests.helpers import tiny_config

    db = tmp_path / "real.duckdb"
    refresh(tiny_config(statements_tab=""), db, raw=tiny_raw)
    monkeypatch.delenv("DELPHI_STUDY", raising=False)
    monkeypatch.setenv("DELPHI_DB", str(db))
    at = _new().run()
    assert not at.exception and "Demo mode" not in _banner(at)
    assert not _offered(at, COORDINATOR_PAGE)


def test_a_valid_access_table_offers_sign_in_without_a_banner(secrets_file, other_study):
    secrets_file.write_text(BOTH, encoding="utf-8")
    at = _new().run()
    assert not at.exception and not at.warning and not _offered(at, COORDINATOR_PAGE)
    assert at.get("popover")  # the sign-in popover (none when sign-in is off)
    assert _signed_in(_sign_in(at, "coordinator", "boss")) == "coordinator"


def test_problems_are_shown_as_plain_text(secrets_file, other_study):
    secrets_file.write_text(BOTH + '__bold__ = "x"\n', encoding="utf-8")
    at = _new().run()
    body = next(w.value for w in at.warning if "bold" in w.value)
    assert r"\_\_bold\_\_" in body  # escaped: no markdown from the secrets file
    assert "Unknown key __bold__ in [access]" in _plain(body)
    at = _sign_in(at, "coordinator", "boss")  # an unknown key is reported, not fatal
    assert _signed_in(at) == "coordinator"


@pytest.mark.parametrize("verified,offered", [(False, False), ("false", False), (True, True)])
def test_organisation_sign_in_needs_a_verified_email(secrets_file, other_study, verified, offered):
    secrets_file.write_text(
        f'[access]\noidc = true\ncoordinator_password_hash = "{BOSS}"\n'
        'coordinator_emails = ["boss@uni.example"]\n',
        encoding="utf-8",
    )
    at = _new()
    at.user = {"is_logged_in": True, "email": "Boss@Uni.example", "email_verified": verified}
    at.run()
    assert not at.exception and _offered(at, COORDINATOR_PAGE) is offered


# --- item 6: the throttle, per role ----------------------------------------------------------


def _sign_in(at: AppTest, role: str, password: str) -> AppTest:
    """Submit the sidebar form as ``role`` (the choice exists when two roles have passwords)."""
    if at.get("radio"):
        at.radio(key="sign_in_role").set_value(LABELS[role])
    at.text_input(key="password").input(password)
    return at.button(key="FormSubmitter:sign_in-Sign in").click().run()


def _attempt(role: str, password: str) -> AppTest:
    """One attempt from a fresh session (as an outsider would make them)."""
    return _sign_in(_new().run(), role, password)


def _signed_in(at: AppTest) -> str | None:
    return at.session_state["role"] if "role" in at.session_state else None


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


WAIT = r"try again in (1 min|[1-5]?[0-9] s)\."  # what is left of a one-minute pause


def _matches(texts: list[str], pattern: str) -> bool:
    return len(texts) == 1 and re.fullmatch(pattern, texts[0]) is not None


def test_the_form_asks_which_role_and_clears_the_password(secrets_file, other_study):
    secrets_file.write_text(BOTH, encoding="utf-8")
    at = _new().run()
    assert at.radio(key="sign_in_role").options == ["Steering committee", "Coordinator"]
    at = _sign_in(at, "coordinator", "guess")
    assert _errors(at) == ["That password is not right."]
    assert at.text_input(key="password").value == ""  # not left in the browser
    assert at.radio(key="sign_in_role").value == "Coordinator"  # the choice stays
    assert not _errors(at.run())  # said once, not on every later rerun


def test_wrong_committee_passwords_do_not_lock_out_the_coordinator(secrets_file, other_study):
    secrets_file.write_text(BOTH, encoding="utf-8")
    for _ in range(6):
        assert _signed_in(_attempt("committee", "guess")) is None
    assert _signed_in(_attempt("coordinator", "boss")) == "coordinator"
    refused = _attempt("committee", "team")  # the committee's own password, while paused
    assert _signed_in(refused) is None
    assert _matches(_errors(refused), f"Too many wrong passwords for steering committee: {WAIT}")


def test_a_committee_sign_in_does_not_reset_the_coordinators_failures(secrets_file, other_study):
    secrets_file.write_text(BOTH, encoding="utf-8")
    for _ in range(4):
        _attempt("coordinator", "guess")
    assert _signed_in(_attempt("committee", "team")) == "committee"
    fifth = _attempt("coordinator", "guess")
    assert _errors(fifth) == ["That password is not right. Try again in 1 min."]
    assert _signed_in(_attempt("coordinator", "boss")) is None


def test_a_paused_role_shows_the_time_left_and_the_other_role_signs_in(
    secrets_file, other_study, demo_db
):
    secrets_file.write_text(BOTH, encoding="utf-8")
    other_server = SignInThrottle(throttle_path(demo_db))  # another process on the same database
    access = {"coordinator_password_hash": BOSS, "committee_password_hash": TEAM}
    for _ in range(5):  # the fifth failure in a row pauses the role for a minute
        other_server.attempt("guess", access, role="coordinator")
    at = _new().run()
    paused = [c.value for c in at.caption if "paused" in c.value]
    assert _matches(
        paused, f"Sign-in as coordinator is paused after repeated wrong passwords: {WAIT}"
    )
    refused = _sign_in(at, "coordinator", "boss")
    assert _signed_in(refused) is None
    assert _matches(_errors(refused), f"Too many wrong passwords for coordinator: {WAIT}")
    assert _signed_in(_attempt("committee", "team")) == "committee"


def test_unlock_lets_the_coordinator_in_again(secrets_file, other_study, demo_db):
    from lib.auth import clear_lockout

    secrets_file.write_text(BOTH, encoding="utf-8")
    for _ in range(5):
        _attempt("coordinator", "guess")
    assert _signed_in(_attempt("coordinator", "boss")) is None
    assert clear_lockout(demo_db, "coordinator") == ["coordinator"]
    assert _signed_in(_attempt("coordinator", "boss")) == "coordinator"


def test_an_empty_password_is_not_counted(secrets_file, other_study, demo_db):
    secrets_file.write_text(BOTH, encoding="utf-8")
    assert _errors(_attempt("coordinator", "")) == ["Enter the password."]
    assert not throttle_path(demo_db).exists()


def test_with_one_password_role_there_is_no_choice(secrets_file, other_study):
    secrets_file.write_text(f'[access]\ncommittee_password_hash = "{TEAM}"\n', encoding="utf-8")
    at = _new().run()
    assert not at.get("radio")
    assert _signed_in(_sign_in(at, "committee", "team")) == "committee"


def test_copy_of_demo_elsewhere_is_not_the_demo(tmp_path, secrets_file, demo_db, monkeypatch):
    """Demo mode is tied to the bundled file, not to its contents."""
    copy = tmp_path / "demo-copy"
    shutil.copytree(DEMO_CONFIG.parent, copy)
    monkeypatch.setenv("DELPHI_STUDY", str(copy / "study.toml"))
    monkeypatch.setenv("DELPHI_DB", str(demo_db))
    at = _new().run()
    assert not at.exception and "Demo mode" not in _banner(at)
    assert not _offered(at, COORDINATOR_PAGE)


def test_changing_a_roles_hash_ends_sessions_signed_in_with_it(secrets_file, other_study):
    """The deployer revokes the coordinator by changing (or removing) its hash: sessions that
    signed in with the old one lose the role on their next rerun."""
    secrets_file.write_text(BOTH, encoding="utf-8")
    at = _sign_in(_new().run(), "coordinator", "boss")
    assert _signed_in(at) == "coordinator" and _offered(at, COORDINATOR_PAGE)
    rotated = hash_password("new boss", iterations=1000)
    secrets_file.write_text(BOTH.replace(BOSS, rotated), encoding="utf-8")
    secrets_singleton._reset()  # the live server's file watcher does this on a change
    at.switch_page("pages/overview.py").run()
    assert not _offered(at, COORDINATOR_PAGE)


def test_signing_out_forgets_what_the_session_held(secrets_file, other_study):
    secrets_file.write_text(BOTH, encoding="utf-8")
    at = _sign_in(_new().run(), "coordinator", "boss")
    assert _signed_in(at) == "coordinator"
    # what coordinator pages keep in a session: pre-filled links (identity and ratings inside)
    at.session_state["form_links"] = ((1, 3), {"P01": "https://forms.example/?entry.1=a%40b"})
    at.button(key="sign_out").click().run()
    assert _signed_in(at) is None and "form_links" not in at.session_state
