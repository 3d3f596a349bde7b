"""One study, one database: what identifies a study, which study a database holds, and the
database a study uses when ``DELPHI_DB`` is not set.

A study is identified by its **source**, never by its title or by where its files are:

- a Google Sheet by its key: the address as copied from the browser and the bare key are the
  same study (``https://docs.google.com/spreadsheets/d/<key>/edit``);
- a workbook by its file name, case ignored: moving the study's folder, or reaching the workbook
  through another relative path, keeps it the same study.

Editing the title keeps the database (messages use the newest one).  Pointing the study file
at another sheet, or at a workbook of another name, makes it another study, and a database
holding the first one is refused: opening it would show one study's panel under the other's
name, or add one study's snapshots to the other's history.  Two studies whose workbooks have the
same file name are not told apart: give each workbook its own name (or each study its own
``DELPHI_DB``).  A database records its study (``settings.study``) with each refresh; one made
before the record belongs to the study of its latest snapshot.

The bundled demos (``DEMOS``: the isotretinoin study and the acne core outcome set) each have
their own study file, workbook and default database; only a demo's own file (not a copy) reading
its own workbook is that demo (demo mode: ``lib.ui.access``).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from lib import store
from lib.config import DEMO_CONFIG
from lib.sources import is_google_sheet

__all__ = [
    "DEFAULT_DB",
    "DEMOS",
    "STUDIES",
    "BundledDemo",
    "Mismatch",
    "bundled_demo",
    "default_db",
    "is_demo_source",
    "is_demo_study",
    "mismatch",
    "remember",
    "source_label",
    "study_key",
]

_DATA = Path(__file__).resolve().parent.parent / "data"
DEFAULT_DB = _DATA / "delphi.duckdb"  # the first bundled demo's
STUDIES = _DATA / "studies"  # every other study's: <study file name>.duckdb


@dataclass(frozen=True)
class BundledDemo:
    """A demo study shipped in ``data/``: its own study file (a copy elsewhere is another
    study), the only source its database may hold, and its database when ``DELPHI_DB`` is not
    set."""

    study: Path
    workbook: Path
    db: Path


_COS = _DATA / "demo-cos"
DEMOS = (  # the first is the study served when DELPHI_STUDY is not set
    BundledDemo(DEMO_CONFIG, DEMO_CONFIG.parent / "isotretinoin_delphi.xlsx", DEFAULT_DB),
    BundledDemo(_COS / "study.toml", _COS / "acne_cos_delphi.xlsx", _DATA / "demo-cos.duckdb"),
)


def bundled_demo(study: str | Path | None) -> BundledDemo | None:
    """The bundled demo whose own study file ``study`` is (None, no study set: the first
    demo), or None for any other file, a copy of a demo's included.

    >>> bundled_demo(None) is DEMOS[0]
    True
    >>> bundled_demo(DEMOS[1].study).workbook.name
    'acne_cos_delphi.xlsx'
    >>> bundled_demo("/srv/copy/demo-cos/study.toml") is None  # a copy is another study
    True
    """
    if study is None:
        return DEMOS[0]
    return _demo_of(str(study), os.getcwd())  # a relative path: from where the app runs


@functools.lru_cache(maxsize=16)
def _demo_of(study: str, cwd: str) -> BundledDemo | None:
    path = Path(cwd, study).resolve()
    return next((d for d in DEMOS if d.study.resolve() == path), None)


def is_demo_study(study: str | Path | None) -> bool:
    """Whether ``study`` (a study file; None when none is set) is a bundled demo's own file;
    a copy of it elsewhere is another study."""
    return bundled_demo(study) is not None


def is_demo_source(study: str | Path | None, source: str) -> bool:
    """Whether ``source`` is the own workbook of the bundled demo whose study file is ``study``
    (a demo's study file pointed at another source, or a sheet, is a real study).

    >>> is_demo_source(None, str(DEMOS[0].workbook))
    True
    >>> is_demo_source(None, str(DEMOS[1].workbook))  # the other demo's workbook
    False
    """
    demo = bundled_demo(study)
    if demo is None or not source or is_google_sheet(source):
        return False
    return Path(source).resolve() == demo.workbook.resolve()


def default_db(study: str | Path | None) -> Path:
    """The database of ``study`` when ``DELPHI_DB`` is not set: a bundled demo's own
    (``data/delphi.duckdb``, ``data/demo-cos.duckdb``), ``data/studies/<study file
    name>.duckdb`` for any other.

    In the app's data folder rather than beside the study file, which may be read-only or in a
    repository (the file holds the identity map).  The app and the command line both use this.

    >>> default_db(None) == DEFAULT_DB
    True
    >>> default_db("/srv/delphi/my-study.toml").relative_to(STUDIES).as_posix()
    'my-study.duckdb'
    """
    demo = bundled_demo(study or None)
    if demo is not None:
        return demo.db
    return STUDIES / f"{Path(str(study)).stem}.duckdb"


def study_key(source: str) -> str:
    """What identifies the study reading ``source``: ``sheet:<key>`` or ``workbook:<name>``.

    >>> study_key("https://docs.google.com/spreadsheets/d/1AbC_x-9/edit#gid=0")
    'sheet:1AbC_x-9'
    >>> study_key("1AbC_x-9") == study_key("https://docs.google.com/spreadsheets/d/1AbC_x-9/")
    True
    >>> study_key("/srv/a/Responses.xlsx") == study_key("other/folder/responses.xlsx")
    True
    """
    s = (source or "").strip()
    if not s:
        return ""
    if is_google_sheet(s):
        from lib.sources.gsheets import GoogleSheetError, parse_sheet_key  # gspread: lazily

        try:
            return f"sheet:{parse_sheet_key(s)}"
        except GoogleSheetError:
            return f"sheet:{s}"
    return f"workbook:{Path(s).name.casefold()}"


def source_label(source: str, *, detail: bool = True) -> str:
    """A source as messages name it: ``Google Sheet <key>`` (``a Google Sheet`` without
    ``detail``), ``workbook <file name>``, or ``no source``."""
    key = study_key(source)
    if not key:
        return "no source"
    kind, _, name = key.partition(":")
    if kind == "sheet":
        return f"Google Sheet {name}" if detail else "a Google Sheet"
    return f"workbook {Path(source.strip()).name}"


_ENV = ("DELPHI_DB", "DELPHI_STUDY")


def _title(title: str | None) -> str:
    """A title on one line, quoted (messages are one line)."""
    words = " ".join(str(title or "").split())
    return f'"{words}"' if words else "an untitled study"


@dataclass(frozen=True)
class Mismatch:
    """A database that holds another study than the configured one."""

    db: str
    held_source: str
    held_title: str
    source: str
    title: str
    own_db: str | None  # the configured study's default database, if it is another file

    def message(self, *, detail: bool = True, cli: bool = False) -> str:
        """One line naming both studies and what to set.  ``detail``: sheet keys (for the
        coordinator and the command line); ``cli``: the options too."""
        held = f"{_title(self.held_title)} ({source_label(self.held_source, detail=detail)})"
        wanted = f"{_title(self.title)} ({source_label(self.source, detail=detail)})"
        db_opt, study_opt = ("--db or DELPHI_DB", "--study or DELPHI_STUDY") if cli else _ENV
        own = (
            f"its default, {self.own_db}, is used when DELPHI_DB is not set"
            if self.own_db
            else "a file of its own"
        )
        return (
            f"the database {self.db} holds the study {held}, not {wanted}, so it is not "
            f"opened. To work on {_title(self.title)}, set {db_opt} to its own database "
            f"({own}); to work on {_title(self.held_title)}, set {study_opt} to its study file."
        )


def mismatch(
    con: duckdb.DuckDBPyConnection,
    source: str,
    title: str,
    *,
    db: str | Path,
    study: str | Path | None = None,
) -> Mismatch | None:
    """How the database ``db`` (open as ``con``) holds another study than the one reading
    ``source`` (``study``: its file, for the advice), or None when it holds this one or none."""
    held = store.study_record(con)
    if held is None or study_key(held["source"]) == study_key(source):  # (no source: both)
        return None
    own = default_db(study) if study else None
    own_db = str(own) if own and own.resolve() != Path(db).resolve() else None
    return Mismatch(str(db), held["source"], held.get("title") or "", source, title, own_db)


def remember(con: duckdb.DuckDBPyConnection, source: str, title: str) -> None:
    """Record the study this database holds (a new title, or the address in another form,
    replaces the old record); a refresh calls it once ``mismatch`` found nothing."""
    if store.study_record(con) != {"source": source, "title": title}:
        store.record_study(con, source, title)
