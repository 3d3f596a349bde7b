"""Sign-in without Streamlit: salted password hashes, constant-time checks, throttling, roles.

Passwords are never stored: secrets hold ``pbkdf2_sha256$<iterations>$<salt>$<hash>`` made by
``python -m lib hash-password``.  PBKDF2-HMAC-SHA256 with 600,000 iterations follows OWASP's
Password Storage Cheat Sheet (2023).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["ROLES", "hash_password", "verify_password", "Throttle", "access_config",
           "role_for_password", "role_for_email"]

ROLES = ("observer", "committee", "coordinator")
_ITERATIONS = 600_000


def hash_password(password: str, salt: bytes | None = None, iterations: int = _ITERATIONS) -> str:
    """A salted PBKDF2 hash string for the secrets file."""
    salt = salt or os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    b64 = base64.b64encode
    return f"pbkdf2_sha256${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded``; compared in constant time."""
    try:
        scheme, iterations, salt, expected = encoded.split("$")
        if scheme != "pbkdf2_sha256":
            return False
        digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"),
                                     base64.b64decode(salt), int(iterations))
        return hmac.compare_digest(digest, base64.b64decode(expected))
    except (ValueError, TypeError):
        return False


class Throttle:
    """Lock sign-in out for ``lockout`` seconds after ``limit`` failures (shared by sessions)."""

    def __init__(self, limit: int = 5, lockout: float = 60.0, clock=time.monotonic) -> None:
        self.limit, self.lockout, self.clock = limit, lockout, clock
        self._failures: list[float] = []
        self._until = 0.0
        self._lock = threading.Lock()

    def wait_seconds(self) -> float:
        """Seconds until sign-in is allowed again (0 when it is)."""
        with self._lock:
            return max(0.0, self._until - self.clock())

    def record(self, ok: bool) -> None:
        """Count one attempt."""
        with self._lock:
            now = self.clock()
            if ok:
                self._failures.clear()
                return
            self._failures = [t for t in self._failures if now - t < self.lockout] + [now]
            if len(self._failures) >= self.limit:
                self._until, self._failures = now + self.lockout, []


def access_config(secrets: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[access]`` table of the secrets (empty when sign-in is not configured)."""
    try:
        table = secrets.get("access", {}) or {}
    except Exception:  # st.secrets raises when there is no secrets file at all
        return {}
    return {k: table[k] for k in table}


def role_for_password(password: str, access: Mapping[str, Any]) -> str | None:
    """The highest role whose configured hash matches ``password``, else None."""
    for role in ("coordinator", "committee"):
        encoded = access.get(f"{role}_password_hash")
        if encoded and verify_password(password, str(encoded)):
            return role
    return None


def role_for_email(email: str | None, access: Mapping[str, Any]) -> str | None:
    """The role an OIDC-verified email has on the allowlists, else None."""
    if not email:
        return None
    e = email.strip().casefold()
    for role in ("coordinator", "committee"):
        if e in {str(x).strip().casefold() for x in access.get(f"{role}_emails", [])}:
            return role
    return None
