"""Service-account credentials for the Google Sheets reader: found, validated, never shown.

The key comes as a dict or JSON text, a key file, or the file named by
``$DELPHI_GOOGLE_CREDENTIALS`` (or ``$GOOGLE_APPLICATION_CREDENTIALS``).  The private key never
appears in a message, log line or repr: errors name the problem, not the value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from google.oauth2 import service_account

from lib.sources.base import GoogleSheetError

__all__ = [
    "CREDENTIALS_ENVS",
    "FORMS_WRITE_SCOPES",
    "SCOPES",
    "SHEETS_WRITE_SCOPES",
    "credentials",
    "credentials_error",
    "load_credentials_info",
    "service_account_email",
]

SCOPES = ("https://www.googleapis.com/auth/spreadsheets.readonly",)
# The write path (lib.forms) asks for these only when the coordinator writes a form or the
# Results tab; a refresh never does.
FORMS_WRITE_SCOPES = ("https://www.googleapis.com/auth/forms.body",)
SHEETS_WRITE_SCOPES = ("https://www.googleapis.com/auth/spreadsheets",)
CREDENTIALS_ENVS = ("DELPHI_GOOGLE_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS")


def credentials_error(problem: str) -> GoogleSheetError:
    """A credentials error whose text names the problem (never the key itself)."""
    return GoogleSheetError(f"Service account credentials: {problem}", "credentials")


def _read_info(
    credentials_info: Mapping[str, Any] | str | None, credentials_file: str | os.PathLike | None
) -> Any:
    """The raw credentials object: given, read from ``credentials_file`` or the env vars."""
    if credentials_info is not None:
        if not isinstance(credentials_info, str):
            return credentials_info
        text, origin = credentials_info, "the credentials text"
    else:
        path = credentials_file or next(
            (os.environ[e] for e in CREDENTIALS_ENVS if os.environ.get(e)), None
        )
        if not path:
            raise credentials_error(
                "none configured: pass the service account JSON key, or set "
                f"{CREDENTIALS_ENVS[0]} to the path of the key file"
            )
        try:
            text, origin = Path(path).read_text(encoding="utf-8"), f"key file {path}"
        except OSError:
            raise credentials_error(f"key file {path} not found or not readable") from None
    try:
        return json.loads(text)
    except ValueError:
        pass
    raise credentials_error(f"{origin} is not valid JSON (download the key again as JSON)")


def _check_info(info: Any) -> dict[str, Any]:
    """Validate the service-account fields; returns a copy with the key's newlines fixed."""
    if not isinstance(info, Mapping):
        raise credentials_error("expected a JSON object (the service account key file)")
    info = dict(info)
    kind = info.get("type")
    if kind != "service_account":
        shown = repr(kind) if isinstance(kind, str) and len(kind) <= 40 else "something else"
        raise credentials_error(f"type must be 'service_account' (got {shown})")
    email = info.get("client_email")
    if not isinstance(email, str) or "@" not in email:
        raise credentials_error("field 'client_email' is missing or not an e-mail address")
    key = info.get("private_key")
    if not isinstance(key, str) or "-----BEGIN" not in key or "PRIVATE KEY-----" not in key:
        raise credentials_error("field 'private_key' is missing or not a PEM private key")
    if "\\n" in key and "\n" not in key:  # pasted with literal \n (e.g. from secrets.toml)
        info["private_key"] = key.replace("\\n", "\n")
    uri = info.get("token_uri")
    if not isinstance(uri, str) or not uri.startswith(("https://", "http://")):
        raise credentials_error("field 'token_uri' is missing or not a URL")
    return info


def load_credentials_info(
    credentials_info: Mapping[str, Any] | str | None = None,
    credentials_file: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Validated service-account info from a dict/JSON text, a key file or the env vars."""
    return _check_info(_read_info(credentials_info, credentials_file))


def service_account_email(
    credentials_info: Mapping[str, Any] | str | None = None,
    credentials_file: str | os.PathLike | None = None,
) -> str:
    """The ``client_email`` to share the sheet with (as Viewer)."""
    return load_credentials_info(credentials_info, credentials_file)["client_email"]


def credentials(
    info: dict[str, Any], scopes: tuple[str, ...] = SCOPES
) -> service_account.Credentials:
    """google-auth credentials with ``scopes`` (default: the read-only Sheets scope)."""
    try:
        creds = service_account.Credentials.from_service_account_info(info, scopes=list(scopes))
    except Exception:  # key parsing raises ValueError/TypeError/UnsupportedAlgorithm
        creds = None  # raised outside the except block: no exception context carries the key
    if creds is None:
        raise credentials_error("field 'private_key' is missing or not a PEM private key")
    return creds
