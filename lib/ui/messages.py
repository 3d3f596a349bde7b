"""Error text as one session may read it: escaped for markdown, server paths for the coordinator.

An error can quote the sheet (tab names, headers: untrusted) and name server files (the
database, the configuration, a key file).  Every message that shows one goes through
:func:`error_detail`; only the coordinator reads the paths, everyone else their last part.
"""

from __future__ import annotations

import os

from lib.study_db import DEFAULT_DB, default_db
from lib.textsafe import escape_markdown, hide_paths

__all__ = ["error_detail", "server_paths"]

# Environment variables that name server files (see the README, "Running it for a real study").
_PATH_ENVS = (
    "DELPHI_DB",
    "DELPHI_STUDY",
    "DELPHI_GOOGLE_CREDENTIALS",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


def server_paths() -> list[str]:
    """The server files this process is configured with (relative paths included)."""
    own = default_db(os.environ.get("DELPHI_STUDY"))  # the study's database without DELPHI_DB
    configured = (os.environ[e] for e in _PATH_ENVS if os.environ.get(e))
    return [str(DEFAULT_DB), str(own), *configured]


def error_detail(exc: object, *, coordinator: bool) -> str:
    """``exc``'s text for any markdown element: escaped; with server paths for the coordinator
    only (others see ``…/`` and the file's name)."""
    text = str(exc)
    return escape_markdown(text if coordinator else hide_paths(text, server_paths()))
