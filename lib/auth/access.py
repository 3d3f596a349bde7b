"""The access decision: demo, configured or observer-only, from the secrets; e-mail allowlists.

It fails closed: demo mode, with every page open, only for the bundled demo study when there is
no secrets file at all; any other configuration without a valid ``[access]`` table runs
observer-only, with problems that name what to fix (keys and tables, never a secret's value).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lib.auth.passwords import HASH_KEYS, PASSWORD_ROLES, password_roles, well_formed_hash

__all__ = [
    "ACCESS_KEYS",
    "AccessState",
    "decide_access",
    "secrets_file_exists",
    "role_for_email",
]

EMAIL_KEYS = {role: f"{role}_emails" for role in PASSWORD_ROLES}
ACCESS_KEYS = frozenset({*HASH_KEYS.values(), *EMAIL_KEYS.values(), "oidc"})
_HINT = "see .streamlit/secrets.example.toml"


@dataclass(frozen=True)
class AccessState:
    """How this server signs people in: ``demo`` (every page open), ``configured``, or
    ``observer_only`` (no sign-in possible; ``problems`` say why, for the deployer)."""

    mode: Literal["demo", "configured", "observer_only"]
    access: Mapping[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def secrets_file_exists(paths: Iterable[str | os.PathLike[str]]) -> bool:
    """True when any of Streamlit's ``secrets.files`` paths exists (a file or a folder)."""
    return any(Path(p).expanduser().exists() for p in paths)


def decide_access(
    secrets: Mapping[str, Any] | Callable[[], Mapping[str, Any]],
    *,
    secrets_file_exists: bool,
    demo_study: bool,
) -> AccessState:
    """The access state from the secrets (a mapping, or a callable that may raise on a broken
    file), whether a secrets file exists, and whether the study is the bundled demo.

    Problems name keys and tables, never a secret's value.  Demo mode only for the bundled demo
    with no secrets file and no secrets; everything else without a usable ``[access]`` is
    observer-only.
    """
    try:
        table = _plain(secrets() if callable(secrets) else secrets)
        if not isinstance(table, dict):
            raise TypeError(f"the secrets are a {type(table).__name__}, not a table")
    except Exception as exc:  # st.secrets raises both when no file exists and when it is broken
        if secrets_file_exists:
            return AccessState("observer_only", {}, [_unreadable(exc)])
        table = {}
    if not table and not secrets_file_exists and demo_study:
        return AccessState("demo")
    problems = _misplaced_keys(table)
    if "access" not in table:
        problems.append(_missing_access(table, secrets_file_exists))
        return AccessState("observer_only", {}, problems)
    access, access_problems = _validate_access(table["access"])
    problems += access_problems
    if not password_roles(access) and not _email_roles(access):
        problems.append(
            "[access] gives no role a usable sign-in, so only observer pages are "
            f"shown: set coordinator_password_hash ({_HINT})."
        )
        return AccessState("observer_only", {}, problems)
    return AccessState("configured", access, problems)


def _plain(value: Any) -> Any:
    """Nested mappings as plain dicts (reading every key makes st.secrets parse its file)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(value[k]) for k in value}
    return value


def _unreadable(exc: Exception) -> str:
    # tomllib's messages can quote a character of the file; only the position is repeated here.
    where = re.search(r"\(at (line \d+, column \d+|end of document)\)", str(exc))
    detail = f" (a TOML syntax error at {where.group(1)})" if where else ""
    return (
        f"The secrets file could not be read{detail}, so sign-in is off and only observer "
        f"pages are shown. Fix .streamlit/secrets.toml ({_HINT})."
    )


def _key(name: str) -> str:
    """A key as the deployer wrote it, safe to show: at most 40 plain characters."""
    return re.sub(r"[^A-Za-z0-9_.-]", "?", name)[:40]


def _missing_access(table: Mapping[str, Any], file_exists: bool) -> str:
    near = [k for k in table if k != "access" and k.casefold() == "access"]
    if near:
        return (
            f"The secrets have a [{_key(near[0])}] table but no [access]: table names are "
            "case-sensitive, so sign-in is off and only observer pages are shown. Rename it "
            "to [access]."
        )
    if not table and not file_exists:
        return (
            "No secrets file: sign-in is not configured, so only observer pages are shown. "
            f"Create .streamlit/secrets.toml with an [access] table ({_HINT})."
        )
    return (
        "The secrets have no [access] table, so sign-in is off and only observer pages are "
        f"shown ({_HINT})."
    )


def _misplaced_keys(table: Mapping[str, Any]) -> list[str]:
    """Access keys written at the top level, or under another table (after its header)."""
    out = [
        f"{_key(k)} is at the top level of the secrets; it is ignored there and belongs "
        "under [access]."
        for k in table
        if k in ACCESS_KEYS
    ]
    for name, sub in table.items():
        if name.casefold() != "access" and isinstance(sub, Mapping):
            out += [
                f"{_key(k)} is inside [{_key(name)}] (keys below a [table] header belong to "
                "that table); it is ignored there and belongs under [access]."
                for k in sub
                if k in ACCESS_KEYS
            ]
    return out


def _validate_access(table: Any) -> tuple[dict[str, Any], list[str]]:
    """The usable keys of ``[access]`` and the problems of the others (each dropped)."""
    if not isinstance(table, Mapping):
        return {}, ["access must be a table ([access]), not a single value."]
    if not table:
        return {}, [
            "[access] is empty, so sign-in is off and only observer pages are shown: set "
            f"coordinator_password_hash ({_HINT})."
        ]
    access: dict[str, Any] = {}
    problems = [_unknown_key(k) for k in table if k not in ACCESS_KEYS]
    for role in PASSWORD_ROLES:
        role_problems = _role_problems(table, role)
        problems += role_problems
        if not role_problems:  # fail closed: a role with any broken key of its own gets none
            access |= {k: table[k] for k in (HASH_KEYS[role], EMAIL_KEYS[role]) if k in table}
    problems += _oidc_problems(table, access)
    return access, problems


def _role_problems(table: Mapping[str, Any], role: str) -> list[str]:
    hash_key, email_key = HASH_KEYS[role], EMAIL_KEYS[role]
    out = []
    if hash_key in table and not well_formed_hash(table[hash_key]):
        out.append(
            f"{hash_key} is not a pbkdf2_sha256 hash (make one with 'python -m lib hash-password')"
        )
    if email_key in table and not _email_list(table[email_key]):
        out.append(f"{email_key} must be a list of e-mail addresses")
    return [f"{p}, so every sign-in as {role} is off." for p in out]


def _unknown_key(key: str) -> str:
    near = difflib.get_close_matches(key.casefold(), sorted(ACCESS_KEYS), n=1)
    hint = f" (did you mean {near[0]}?)" if near else ""
    return (
        f"Unknown key {_key(key)} in [access] is ignored{hint}; known keys: "
        f"{', '.join(sorted(ACCESS_KEYS))}."
    )


def _email_list(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(
        isinstance(e, str) and "@" in e.strip() for e in value
    )


def _oidc_problems(table: Mapping[str, Any], access: dict[str, Any]) -> list[str]:
    """Sets ``access["oidc"]`` only for a true boolean; reports the half-configured cases."""
    oidc = table.get("oidc", False)
    if not isinstance(oidc, bool):
        return ["oidc must be true or false, so sign-in with an organisation account is off."]
    access["oidc"] = oidc
    if oidc and not _email_roles(access):
        return [
            "oidc = true but no coordinator_emails or committee_emails list: nobody can "
            "sign in with an organisation account."
        ]
    if not oidc and _email_roles(access):
        return [
            "E-mail allowlists are set but oidc is not true, so the organisation sign-in "
            "button is hidden."
        ]
    return []


def _email_roles(access: Mapping[str, Any]) -> list[str]:
    return [role for role, key in EMAIL_KEYS.items() if access.get(key)]


def role_for_email(user: Mapping[str, Any], access: Mapping[str, Any]) -> str | None:
    """The role of a signed-in OIDC user (``st.user``'s claims) on the allowlists, else None.

    Only an e-mail the identity provider marks as verified (``email_verified`` true) counts:
    with an unverified claim anyone could register the coordinator's address at a provider.
    """
    if not isinstance(user, Mapping) or user.get("is_logged_in") is False:
        return None
    verified = user.get("email_verified")
    if not (verified is True or str(verified).strip().casefold() == "true"):
        return None
    email = user.get("email")
    if not isinstance(email, str) or not email.strip():
        return None
    e = email.strip().casefold()
    for role in PASSWORD_ROLES:
        allowed = access.get(EMAIL_KEYS[role])
        if isinstance(allowed, list | tuple) and e in {str(x).strip().casefold() for x in allowed}:
            return role
    return None
