"""lib.auth: password hashes and allowlists (the throttle: tests/test_auth_throttle.py)."""

from __future__ import annotations

from lib.auth import hash_password, role_for_email, role_for_password, verify_password


def test_hash_round_trips_and_is_salted():
    a, b = hash_password("s3cret", iterations=1000), hash_password("s3cret", iterations=1000)
    assert a != b and verify_password("s3cret", a) and verify_password("s3cret", b)
    assert not verify_password("S3cret", a)
    assert "s3cret" not in a


def test_malformed_hash_never_matches():
    assert not verify_password("x", "plaintext-password")
    assert not verify_password("x", "md5$1$YQ==$YQ==")


def test_roles_by_password_prefer_coordinator():
    access = {
        "coordinator_password_hash": hash_password("boss", iterations=1000),
        "committee_password_hash": hash_password("team", iterations=1000),
    }
    assert role_for_password("boss", access) == "coordinator"
    assert role_for_password("team", access) == "committee"
    assert role_for_password("guess", access) is None


def test_email_allowlist_is_case_insensitive():
    access = {"committee_emails": ["Chair@Uni.example"]}
    assert (
        role_for_email({"email": " chair@uni.example", "email_verified": True}, access)
        == "committee"
    )
    assert role_for_email({"email": "other@uni.example", "email_verified": True}, access) is None
