"""The only Streamlit-aware code of lib: what pages use, re-exported so they write ``ui.metrics()``.

- :mod:`lib.ui.session`: routing, settings, roles and sign-in, the snapshot of this run;
- :mod:`lib.ui.loaders`: typed per-snapshot loaders (``metrics()``, ``stat(fn, ...)``,
  ``figure(builder, ...)``), cached on the database, the snapshot and the function;
- :mod:`lib.ui.widgets`: untrusted text shown literally, shared captions and tables;
- :mod:`lib.ui.columns`: column configurations of the app's tables.
"""

from lib.ui import columns
from lib.ui.loaders import (
    comments,
    coordination_state,
    distribution,
    figure,
    info,
    metrics,
    nonresponders,
    panel,
    problems,
    rates,
    ratings,
    recipients,
    respondents,
    stat,
    statements,
)
from lib.ui.session import (
    RANK,
    at_least,
    config,
    db_path,
    db_signature,
    demo_mode,
    google_credentials,
    mark_routed,
    require_router,
    resolve_snapshot,
    role,
    sign_in_panel,
    snapshot_id,
)
from lib.ui.widgets import (
    MANY_COMMENTS,
    escape,
    inapplicable_captions,
    plain,
    plain_title,
    problems_table,
    refresh_summary,
    scale_labels,
    snapshot_caption,
)

__all__ = [
    "columns",
    "comments",
    "coordination_state",
    "distribution",
    "figure",
    "info",
    "metrics",
    "nonresponders",
    "panel",
    "problems",
    "rates",
    "ratings",
    "recipients",
    "respondents",
    "stat",
    "statements",
    "RANK",
    "at_least",
    "config",
    "db_path",
    "db_signature",
    "demo_mode",
    "google_credentials",
    "mark_routed",
    "require_router",
    "resolve_snapshot",
    "role",
    "sign_in_panel",
    "snapshot_id",
    "MANY_COMMENTS",
    "escape",
    "inapplicable_captions",
    "plain",
    "plain_title",
    "problems_table",
    "refresh_summary",
    "scale_labels",
    "snapshot_caption",
]
