"""The only Streamlit-aware code of lib: what pages use, re-exported so they write ``ui.metrics()``.

- :mod:`lib.ui.session`: routing and settings; :mod:`lib.ui.access`: the access state, roles
  and sign-in; :mod:`lib.ui.snapshot`: the snapshot of this run and storage errors;
- :mod:`lib.ui.loaders`: typed per-snapshot loaders (``metrics()``, ``stat(fn, ...)``,
  ``figure(builder, ...)``), cached on the database, the snapshot and the function;
- :mod:`lib.ui.widgets`: untrusted text shown literally, shared captions, tables and lists, a
  row of download buttons;
- :mod:`lib.ui.columns`: column configurations of the app's tables;
- :mod:`lib.ui.publish`, :mod:`lib.ui.refresh`: the Coordinator page's Publish, source and
  Refresh panels.
"""

from lib.ui import columns
from lib.ui.access import (
    access_banner,
    access_state,
    at_least,
    demo_mode,
    role,
    sign_in_panel,
)
from lib.ui.criteria import eligibility_counts, eligibility_panel
from lib.ui.downloads import prepared_download
from lib.ui.groups import (
    group_filter,
    group_ratings,
    group_trends,
    group_view,
    groups_rule_caption,
    statements_table,
)
from lib.ui.loaders import (
    comments,
    coordination_state,
    distribution,
    eligibility,
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
from lib.ui.publish import publish_panel
from lib.ui.refresh import problems_panel, refresh_panel, source_panel
from lib.ui.robustness import verdict_survival
from lib.ui.session import (
    RANK,
    config,
    db_path,
    google_credentials,
    mark_routed,
    require_router,
)
from lib.ui.snapshot import db_signature, resolve_snapshot, snapshot_id
from lib.ui.stopping import run_another_round
from lib.ui.widgets import (
    MANY_COMMENTS,
    agreement_table,
    comments_list,
    download_buttons,
    escape,
    feedback_preview,
    inapplicable_captions,
    metrics_table,
    plain,
    plain_title,
    problems_table,
    refresh_summary,
    report_narrative,
    require_ratings,
    rules_table,
    scale_labels,
    snapshot_caption,
    solidity_table,
    stability_table,
    trajectory_picker,
    wording_versions,
)

__all__ = [
    "columns",
    "comments",
    "coordination_state",
    "distribution",
    "eligibility",
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
    "access_banner",
    "access_state",
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
    "publish_panel",
    "problems_panel",
    "refresh_panel",
    "source_panel",
    "verdict_survival",
    "eligibility_counts",
    "eligibility_panel",
    "run_another_round",
    "group_filter",
    "group_ratings",
    "group_trends",
    "group_view",
    "groups_rule_caption",
    "statements_table",
    "MANY_COMMENTS",
    "escape",
    "inapplicable_captions",
    "plain",
    "plain_title",
    "problems_table",
    "refresh_summary",
    "require_ratings",
    "scale_labels",
    "snapshot_caption",
    "trajectory_picker",
    "wording_versions",
    "metrics_table",
    "solidity_table",
    "stability_table",
    "agreement_table",
    "rules_table",
    "comments_list",
    "download_buttons",
    "prepared_download",
    "report_narrative",
    "feedback_preview",
]
