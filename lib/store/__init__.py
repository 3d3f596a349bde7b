"""DuckDB: schema, immutable snapshots, and the named queries the pages and reports use.

Each refresh writes one snapshot, with the metrics ``lib.pipeline`` computed for it, in one
transaction; nothing is ever updated in place, so readers never see half a snapshot and every
earlier snapshot stays queryable.  Storage only: this package computes nothing and imports no
other stage.  Identities live only in ``identity_map``; every other table holds pseudonyms (P01,
P02, … by first appearance).

Modules: ``database`` (the schema, connections, a damaged file), ``snapshots`` (writing one),
``queries`` (named reads of a snapshot), ``settings`` (publications, settings, the study the
file holds, refresh log).
Callers use ``from lib import store`` and the names below.
"""

from __future__ import annotations

from lib.store.database import (
    SCHEMA,
    StoreCorrupt,
    StoreError,
    check_readable,
    connect,
    move_aside,
)
from lib.store.queries import (
    changes_between,
    comments_for,
    current_snapshot_id,
    distribution_for,
    eligibility_for,
    feedback_recipients,
    latest_snapshot_id,
    list_snapshots,
    metrics_for,
    nonresponders,
    panel_attributes,
    panelist_comments_for,
    problems_for,
    ratings_for,
    respondent_differences,
    respondents_for,
    response_rates,
    snapshot_hash,
    snapshot_info,
    snapshot_sources,
    statements_for,
)
from lib.store.settings import (
    HISTORY_UNKNOWN,
    STUDY,
    add_publication,
    log_refresh,
    publications,
    published_snapshot_id,
    record_study,
    refresh_log,
    set_setting,
    setting,
    study_record,
)
from lib.store.snapshots import (
    content_hash,
    legacy_content_hash,
    same_content,
    write_snapshot,
)

__all__ = [
    "HISTORY_UNKNOWN",
    "SCHEMA",
    "StoreError",
    "StoreCorrupt",
    "connect",
    "check_readable",
    "move_aside",
    "content_hash",
    "legacy_content_hash",
    "same_content",
    "write_snapshot",
    "latest_snapshot_id",
    "current_snapshot_id",
    "snapshot_hash",
    "snapshot_info",
    "list_snapshots",
    "snapshot_sources",
    "statements_for",
    "metrics_for",
    "distribution_for",
    "comments_for",
    "panelist_comments_for",
    "response_rates",
    "problems_for",
    "ratings_for",
    "panel_attributes",
    "eligibility_for",
    "nonresponders",
    "published_snapshot_id",
    "publications",
    "add_publication",
    "log_refresh",
    "refresh_log",
    "changes_between",
    "set_setting",
    "setting",
    "STUDY",
    "study_record",
    "record_study",
    "respondents_for",
    "respondent_differences",
    "feedback_recipients",
]
