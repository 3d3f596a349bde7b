"""Set-up from the sheet: a study file proposed from a source's own tabs.

:func:`propose` reads a :class:`~lib.sources.base.RawSource` (read once, by
``lib.sources.read_source``) and recognises its round tabs (``tabs``), identity and timestamp
columns (``people``), statements and how they are identified (``questions``, through the
ingest's own column classification), answer labels with proposed scores, no-opinion answers
and Yes/No rounds (``answers``, ``vocabulary``); :func:`proposal_toml` writes the commented
study file (``study_file``); :func:`check` runs the ingest with it, storing nothing
(``check``); ``files`` says where a new study's file and database go.  No Streamlit here: the
command line (``python -m lib init``) and the "Set up a study" page both call these.
"""

from __future__ import annotations

from lib.setup.check import Check, FirstRefresh, check, config_of, first_refresh, summary
from lib.setup.edits import (
    FIXED,
    RULE_CHOICES,
    findings_frame,
    found_tables,
    identity_index,
    labels_frame,
    questions_frame,
    rounds_frame,
    rounds_from,
    with_labels,
)
from lib.setup.files import (
    CREDENTIALS_HINT,
    StudyPaths,
    read_tabs,
    serve_command,
    slugify,
    studies_dir,
    study_paths,
    write_study,
)
from lib.setup.proposal import Proposal, ScaleDraft, propose
from lib.setup.study_file import proposal_toml

__all__ = [
    "CREDENTIALS_HINT",
    "FIXED",
    "RULE_CHOICES",
    "Check",
    "FirstRefresh",
    "Proposal",
    "ScaleDraft",
    "StudyPaths",
    "check",
    "config_of",
    "findings_frame",
    "first_refresh",
    "found_tables",
    "identity_index",
    "labels_frame",
    "propose",
    "proposal_toml",
    "questions_frame",
    "read_tabs",
    "rounds_frame",
    "rounds_from",
    "serve_command",
    "slugify",
    "studies_dir",
    "study_paths",
    "summary",
    "with_labels",
    "write_study",
]
