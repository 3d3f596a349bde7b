"""Password hashes and the roles a password can open.

Passwords are never stored: secrets hold ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` made by
``python -m lib hash-password``.  PBKDF2-HMAC-SHA256 with 600,000 iterations follows OWASP's
Password Storage Cheat Sheet (2023).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ROLES",
    "PASSWORD_ROLES",
    "HASH_KEYS",
    "hash_password",
    "verify_password",
    "well_formed_hash",
    "password_roles",
    "role_for_password",
]

ROLES = ("observer", "committee", "coordinator")
PASSWORD_ROLES = ("coordinator", "committee")  # highest first: a shared password gets the higher
HASH_KEYS = {role: f"{role}_password_hash" for role in PASSWORD_ROLES}
_ITERATIONS = 600_000
_MAX_ITERATIONS = 10_000_000  # a hash beyond this would make each sign-in take minutes


def hash_password(password: str, salt: bytes | None = None, iterations: int = _ITERATIONS) -> str:
    """A salted PBKDF2 hash string for the secrets file."""
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    b64 = base64.b64encode
    return f"pbkdf2_sha256${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def _parse_hash(encoded: Any) -> tuple[int, bytes, bytes] | None:
    """(iterations, salt, digest) of a well-formed pbkdf2_sha256 string, else None."""
    if not isinstance(encoded, str) or encoded.count("$") != 3:
        return None
    scheme, iterations, salt, digest = encoded.split("$")
    try:
        parsed = (
            int(iterations),
            base64.b64decode(salt, validate=True),
            base64.b64decode(digest, validate=True),
        )
    except (ValueError, binascii.Error):
        return None
    ok = scheme == "pbkdf2_sha256" and 1 <= parsed[0] <= _MAX_ITERATIONS and len(parsed[2]) == 32
    return parsed if ok and parsed[1] else None


def well_formed_hash(encoded: Any) -> bool:
    """True when ``encoded`` is a pbkdf2_sha256 string as :func:`hash_password` makes."""
    return _parse_hash(encoded) is not None


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded``; compared in constant time."""
    parsed = _parse_hash(encoded)
    if parsed is None:
        return False
    iterations, salt, expected = parsed
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(digest, expected)


def password_roles(access: Mapping[str, Any]) -> tuple[str, ...]:
    """The roles that have a password hash in ``access``, highest first."""
    return tuple(role for role in PASSWORD_ROLES if access.get(HASH_KEYS[role]))


def role_for_password(password: str, access: Mapping[str, Any]) -> str | None:
    """The highest role whose configured hash matches ``password``, else None (unthrottled)."""
    for role in password_roles(access):
        if verify_password(password, str(access[HASH_KEYS[role]])):
            return role
    return None
