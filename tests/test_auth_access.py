"""lib.auth.decide_access: demo only for the bundled demo without secrets; otherwise fail closed.

Every case here turned the app into demo mode (every page open, identities included) before
issue 12: the old ``auth.access_config`` mapped any error or an absent ``[access]`` to ``{}``.
"""

from __future__ import annotations

import pytest
import streamlit.runtime.secrets as st_secrets

from lib.auth import decide_access, hash_password, role_for_email
from lib.auth import secrets_file_exists as file_exists

GOOD = hash_password("boss", iterations=1000)
TEAM = hash_password("team", iterations=1000)
PLAINTEXT = "hunter2-plaintext"  # a password pasted where its hash belongs


def _decide(secrets, *, file=True, demo=True):
    return decide_access(secrets, secrets_file_exists=file, demo_study=demo)


def _broken():
    raise st_secrets.StreamlitSecretNotFoundError(
        "Error parsing secrets file at /srv/app/.streamlit/secrets.toml: "
        "Found invalid character 'q' (at line 3, column 7)"
    )


BROKEN = {
    "unreadable file": (_broken, "could not be read"),
    "empty [access]": ({"access": {}}, "[access] is empty"),
    "[Access] capitalised": ({"Access": {"coordinator_password_hash": GOOD}}, "[Access]"),
    "hash at top level": (
        {"coordinator_password_hash": GOOD},
        "coordinator_password_hash is at the top level",
    ),
    "hash under another table": (
        {"auth": {"cookie_secret": "x", "coordinator_password_hash": GOOD}},
        "coordinator_password_hash is inside [auth]",
    ),
    "no [access] at all": (
        {"gcp_service_account": {"type": "service_account"}},
        "no [access] table",
    ),
    "plaintext instead of a hash": (
        {"access": {"coordinator_password_hash": PLAINTEXT}},
        "coordinator_password_hash is not a pbkdf2_sha256 hash",
    ),
    "only unknown keys": ({"access": {"password": PLAINTEXT}}, "Unknown key password"),
    "emails as one string": (
        {"access": {"oidc": True, "coordinator_emails": "a@uni.example"}},
        "coordinator_emails must be a list",
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_broken_secrets_run_observer_only_with_a_named_problem(case):
    secrets, problem = BROKEN[case]
    state = _decide(secrets)
    assert state.mode == "observer_only" and not state.access
    assert any(problem in p for p in state.problems), state.problems


@pytest.mark.parametrize("case", BROKEN)
def test_problems_never_repeat_a_secret_value_or_a_path(case):
    text = " ".join(_decide(BROKEN[case][0]).problems)
    for value in (GOOD, PLAINTEXT, "a@uni.example", "/srv/app", "'q'"):
        assert value not in text


def test_unreadable_file_names_the_position_of_the_syntax_error():
    assert "line 3, column 7" in _decide(_broken).problems[0]


def test_demo_only_for_the_demo_study_without_a_secrets_file():
    assert _decide(_broken, file=False, demo=True).mode == "demo"
    assert _decide({}, file=False, demo=True).mode == "demo"
    assert _decide({}, file=True, demo=True).mode == "observer_only"
    assert _decide(_broken, file=True, demo=True).mode == "observer_only"
    assert _decide(_broken, file=False, demo=False).mode == "observer_only"


def test_own_study_without_secrets_says_sign_in_is_not_configured():
    state = _decide(_broken, file=False, demo=False)
    assert state.problems and "No secrets file" in state.problems[0]


def test_secrets_given_without_a_file_are_used_even_for_the_demo():
    state = _decide({"access": {"coordinator_password_hash": GOOD}}, file=False, demo=True)
    assert state.mode == "configured" and state.access["coordinator_password_hash"] == GOOD


def test_valid_access_is_configured_without_problems():
    state = _decide(
        {"access": {"coordinator_password_hash": GOOD, "committee_password_hash": TEAM}}
    )
    assert (state.mode, state.problems) == ("configured", [])


def test_unknown_keys_are_reported_by_name_and_valid_roles_still_work():
    state = _decide({"access": {"coordinator_password_hash": GOOD, "comittee_emails": ["a@b.c"]}})
    assert state.mode == "configured" and "coordinator_password_hash" in state.access
    assert "comittee_emails" not in state.access
    assert any(
        "comittee_emails" in p and "did you mean committee_emails" in p for p in state.problems
    )


def test_a_role_with_a_broken_key_of_its_own_gets_no_sign_in():
    state = _decide(
        {
            "access": {
                "coordinator_password_hash": PLAINTEXT,
                "oidc": True,
                "coordinator_emails": ["boss@uni.example"],
                "committee_password_hash": TEAM,
            }
        }
    )
    assert state.mode == "configured"
    assert not {"coordinator_emails", "coordinator_password_hash"} & set(state.access)
    assert state.access["committee_password_hash"] == TEAM


def test_oidc_must_be_a_boolean():
    state = _decide(
        {
            "access": {
                "oidc": "false",
                "committee_emails": ["a@uni.example"],
                "committee_password_hash": TEAM,
            }
        }
    )
    assert not state.access.get("oidc")
    assert any("oidc must be true or false" in p for p in state.problems)


def test_callable_secrets_are_read_once_by_calling_them():
    state = _decide(lambda: {"access": {"committee_password_hash": TEAM}})
    assert state.mode == "configured"


# --- with Streamlit's own secrets object reading a real file --------------------------------


@pytest.fixture
def secrets_at(monkeypatch, tmp_path):
    """Point Streamlit's ``secrets.files`` at ``tmp_path/secrets.toml``; return that path."""
    path = tmp_path / "secrets.toml"
    real = st_secrets.config.get_option
    monkeypatch.setattr(
        st_secrets.config,
        "get_option",
        lambda key: [str(path)] if key == "secrets.files" else real(key),
    )
    return path


def test_streamlit_secrets_with_a_syntax_error_are_observer_only(secrets_at):
    secrets_at.write_text(f'[access]\ncoordinator_password_hash = "{GOOD}\n', encoding="utf-8")
    state = _decide(st_secrets.Secrets(), file=file_exists([secrets_at]))
    assert state.mode == "observer_only" and "could not be read" in state.problems[0]
    assert str(secrets_at.parent) not in state.problems[0]


def test_streamlit_secrets_without_a_file_are_demo_for_the_demo_study(secrets_at):
    assert _decide(st_secrets.Secrets(), file=file_exists([secrets_at])).mode == "demo"


# --- OIDC ------------------------------------------------------------------------------------

ALLOW = {"oidc": True, "coordinator_emails": ["Boss@Uni.example"]}


@pytest.mark.parametrize(
    "claims",
    [
        {"email": "boss@uni.example"},
        {"email": "boss@uni.example", "email_verified": False},
        {"email": "boss@uni.example", "email_verified": "false"},
        {"email": "boss@uni.example", "email_verified": None},
    ],
)
def test_unverified_oidc_email_is_rejected(claims):
    assert role_for_email({"is_logged_in": True, **claims}, ALLOW) is None


def test_verified_oidc_email_gets_its_role():
    user = {"is_logged_in": True, "email": "boss@uni.example", "email_verified": True}
    assert role_for_email(user, ALLOW) == "coordinator"


def test_a_bare_email_string_is_not_trusted():
    assert role_for_email("boss@uni.example", ALLOW) is None
