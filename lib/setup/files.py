"""Where a new study's file and database go, writing the file without overwriting one, and the
command that serves it."""

from __future__ import annotations

import os
import re
import shlex
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lib.sources import RawSource, SourceError, is_google_sheet, read_source

__all__ = [
    "CREDENTIALS_HINT",
    "StudyPaths",
    "read_tabs",
    "serve_command",
    "slugify",
    "studies_dir",
    "study_paths",
    "write_study",
]

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS_HINT = (
    "The app reads a Google Sheet as a service account: put its key in the "
    "`[gcp_service_account]` table of `.streamlit/secrets.toml` (or set "
    "`DELPHI_GOOGLE_CREDENTIALS` to the key file), and share the sheet with its e-mail address "
    "as Viewer. See the README, 'Running it for a real study'."
)
_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,59}")


@dataclass(frozen=True)
class StudyPaths:
    """A study's configuration file and its own database."""

    study: Path
    db: Path


def read_tabs(source: str, google: dict[str, Any] | None = None) -> RawSource:
    """Every tab of a workbook path or a Google Sheet (URL or key), read once; ``google``
    (credentials) goes to the Sheets reader."""
    s = source.strip()
    if not s:
        raise SourceError("Paste the Google Sheet's address, or the path of a workbook here.")
    return read_source(s, None, **(google or {})) if is_google_sheet(s) else read_source(s)


def studies_dir() -> Path:
    """Where the set-up page keeps study files and databases: ``$DELPHI_STUDIES_DIR``, else
    data/studies."""
    return Path(os.environ.get("DELPHI_STUDIES_DIR") or ROOT / "data" / "studies")


def slugify(text: str) -> str:
    """A file name from a title: ASCII letters and digits joined by dashes, at most 60.

    >>> slugify("Low-dose isotretinoin: a Delphi (2026)"), slugify("Évaluation à 9 points")
    ('low-dose-isotretinoin-a-delphi-2026', 'evaluation-a-9-points')
    """
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    slug = "-".join(re.findall(r"[a-z0-9]+", plain))[:60].strip("-")
    return slug or "study"


def study_paths(slug: str, folder: Path | None = None) -> StudyPaths:
    """``<folder>/<slug>.toml`` and ``<folder>/<slug>.duckdb``; a slug is letters, digits,
    ``-`` and ``_`` only, so it names a file in that folder and nowhere else."""
    if not _SLUG.fullmatch(slug):
        raise ValueError(
            f"{slug[:60]!r} is not a file name for a study: use lower-case letters, digits, "
            "'-' and '_' (at most 60)"
        )
    base = folder or studies_dir()
    return StudyPaths(base / f"{slug}.toml", base / f"{slug}.duckdb")


def write_study(text: str, path: str | Path, force: bool = False) -> Path:
    """Write a study file; an existing one is replaced only with ``force``."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    try:
        with p.open("w" if force else "x", encoding="utf-8") as f:
            f.write(text)
    except FileExistsError:
        raise ValueError(f"{p} already exists: choose another file, or replace it") from None
    return p


def serve_command(paths: StudyPaths) -> str:
    """The shell command that serves the study (paths relative to the app's folder if inside)."""

    def shown(p: Path) -> str:
        p = p.resolve()
        return shlex.quote(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p))

    return f"DELPHI_STUDY={shown(paths.study)} DELPHI_DB={shown(paths.db)} python3 run.py"
