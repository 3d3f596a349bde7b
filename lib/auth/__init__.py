"""Sign-in without Streamlit: password hashes, the access decision, allowlists and the throttle.

:mod:`lib.auth.passwords` hashes and checks passwords; :mod:`lib.auth.access` decides, failing
closed, whether this server runs the demo, a configured sign-in or observer pages only;
:mod:`lib.auth.throttle` counts failed sign-ins per role.
"""

from lib.auth.access import (
    ACCESS_KEYS,
    AccessState,
    decide_access,
    role_for_email,
    secrets_file_exists,
)
from lib.auth.passwords import (
    PASSWORD_ROLES,
    ROLES,
    hash_password,
    password_roles,
    role_for_password,
    verify_password,
    well_formed_hash,
)
from lib.auth.throttle import (
    SignInResult,
    SignInThrottle,
    clear_lockout,
    lockout_seconds,
    throttle_path,
)

__all__ = [
    "ROLES",
    "PASSWORD_ROLES",
    "ACCESS_KEYS",
    "hash_password",
    "verify_password",
    "well_formed_hash",
    "AccessState",
    "decide_access",
    "secrets_file_exists",
    "password_roles",
    "role_for_password",
    "role_for_email",
    "SignInResult",
    "SignInThrottle",
    "throttle_path",
    "clear_lockout",
    "lockout_seconds",
]
