"""Results per stakeholder group in the documents: the study's ``[groups]`` as the snapshot was
computed with it, each group's metrics and verdict beside the whole panel's, and the group
each panelist's feedback shows.

Every number comes from :mod:`lib.analysis.stakeholders` on the store's ratings and panel
attributes.  A document for an audience that may not see small groups (observers, and every
panelist's feedback) pools them with :func:`lib.analysis.groups.pool_small_groups`, the one
pooling rule, per round; the study-level status is the stored one (computed on the true
groups), the same in every document.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from lib.analysis import stakeholders
from lib.analysis.consensus import METRIC_COLUMNS, study_metrics
from lib.analysis.groups import BLANK, pool_small_groups
from lib.analysis.scales import ScaleMap
from lib.config import GroupsConfig, StudyConfig, config_from_dict

__all__ = [
    "ALL",
    "BY_GROUP_COLUMNS",
    "FeedbackGroups",
    "GroupResults",
    "by_group_rows",
    "feedback_groups",
    "group_noun",
    "group_results",
    "snapshot_groups",
]

ALL = "All"  # the whole panel's row among the groups
# The by-group export: a statement's group rows, the plain export's metrics, the study verdict.
BY_GROUP_COLUMNS = [
    "round",
    "statement_id",
    "group",
    "domain",
    "text",
    "n_panelists",
    *METRIC_COLUMNS,
    "status_study",
]
_KEYS = ["round", "statement_id"]


@dataclass(frozen=True)
class GroupResults:
    """The report's results per group: the study-level choice and the groups' rows."""

    choice: GroupsConfig  # the snapshot's [groups]: its attribute and study-level choice
    now: GroupsConfig | None  # the study configuration's [groups] today
    min_group_size: int  # privacy.min_group_size: feedback always pools groups under it
    pooled: bool  # groups under min_group_size pooled here (observers); False: every group
    rows: pd.DataFrame  # by_group_rows: "All", then each group shown
    concordance: pd.DataFrame  # per (round, statement): stakeholders.concordance of those groups

    @property
    def min_size(self) -> int | None:
        """The size under which this document pools groups (None: it shows every group)."""
        return self.min_group_size if self.pooled else None

    @property
    def labels(self) -> list[str]:
        """The groups shown, in order (the whole panel's row not included)."""
        return sorted(set(self.rows["group"]) - {ALL}, key=_order)


@dataclass(frozen=True)
class FeedbackGroups:
    """What the feedback after one round shows of each panelist's group."""

    attribute: str
    min_size: int
    own: dict[str, str]  # panelist -> their group (a panelist with none is not listed)
    shown: dict[str, str]  # group -> the group whose result its members see (itself or pooled)
    sizes: dict[str, int]  # group -> its respondents in the round
    metrics: pd.DataFrame  # per (statement_id, group shown): this round's metrics

    def result(self, statement_id: str, group: str) -> Any | None:
        """The metrics row of ``group`` shown for ``statement_id`` (None when not shown)."""
        m = self.metrics
        rows = m[(m["statement_id"] == statement_id) & (m["group"] == group)]
        return None if rows.empty else next(rows.itertuples())


def _order(group: str) -> tuple[int, str]:
    """Groups by name, the pooled and blank rows last."""
    return (int(group.startswith("Other (") or group == BLANK), group)


def group_noun(attribute: str) -> str:
    """A group of ``attribute`` in words: 'Country group', and 'Stakeholder group' itself.

    >>> group_noun("Country"), group_noun("Stakeholder group")
    ('Country group', 'Stakeholder group')
    """
    return attribute if attribute.casefold().endswith("group") else f"{attribute} group"


def snapshot_groups(info: dict[str, Any], cfg: StudyConfig) -> GroupsConfig | None:
    """The ``[groups]`` a snapshot's statuses were computed with: its stored configuration's
    (today's, if the stored one cannot be read)."""
    try:
        return config_from_dict(info.get("config") or {}).groups
    except (ValueError, TypeError, AttributeError):  # an old or partial stored configuration
        return cfg.groups


def by_group_rows(
    metrics: pd.DataFrame,
    ratings: pd.DataFrame,
    attributes: pd.DataFrame,
    attribute: str,
    scales: ScaleMap,
    min_size: int | None = None,
) -> pd.DataFrame:
    """One row per (round, statement, group): the whole panel (``All``) first, then each
    group (pooled under ``min_size`` unless None), with the metrics of ``study_metrics``,
    ``status`` (the rule's verdict within that group; for ``All`` the panel's own),
    ``n_panelists`` (respondents of the group in the round) and ``status_study`` (the stored
    status: the study's verdict under its ``[groups]`` choice)."""
    panel = study_metrics(ratings, scales)
    respondents = ratings.groupby("round")["panelist"].nunique()
    panel.insert(2, "group", ALL)
    panel.insert(3, "n_panelists", panel["round"].map(respondents).astype(int))
    groups = stakeholders.by_group(ratings, attributes, attribute, scales, min_size)
    rows = pd.concat([panel, groups[panel.columns]], ignore_index=True)
    study = metrics[[*_KEYS, "domain", "text", "status"]].rename(columns={"status": "status_study"})
    rows = rows.merge(study, on=_KEYS, how="left")
    rank = rows["group"].map(lambda g: (0, "") if g == ALL else (1, *_order(g)))
    return (
        rows.assign(_rank=rank)
        .sort_values([*_KEYS, "_rank"], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def group_results(
    choice: GroupsConfig,
    now: GroupsConfig | None,
    metrics: pd.DataFrame,
    ratings: pd.DataFrame,
    attributes: pd.DataFrame,
    scales: ScaleMap,
    min_group_size: int,
    pooled: bool = True,
) -> GroupResults:
    """The report's results per group of ``choice.attribute``: groups under
    ``min_group_size`` pooled unless ``pooled`` is false (the committee's report)."""
    least = min_group_size if pooled else None
    rows = by_group_rows(metrics, ratings, attributes, choice.attribute, scales, least)
    panel = rows[rows["group"] == ALL]
    conc = stakeholders.concordance(panel, rows[rows["group"] != ALL], scales)
    return GroupResults(choice, now, min_group_size, pooled, rows, conc)


def feedback_groups(
    ratings: pd.DataFrame,
    attributes: pd.DataFrame,
    attribute: str,
    scales: ScaleMap,
    min_size: int,
) -> FeedbackGroups:
    """Each panelist's group and the result they see after the round of ``ratings``: their
    group's, or, when it had fewer than ``min_size`` respondents, the pooled group's (a
    panelist of a group of two would otherwise learn the other's rating)."""
    groups = stakeholders.panel_groups(attributes, attribute)
    own = {p: g for p, g in groups.items() if g != BLANK}
    # the respondents per group, as stakeholders.pooled_group_metrics counts them
    answered = ratings.drop_duplicates("panelist")["panelist"]
    sizes = answered.map(groups).fillna(BLANK).value_counts()
    shown = pool_small_groups(sizes, min_size)
    metrics = stakeholders.pooled_group_metrics(ratings, groups, scales, min_size)
    counts = {str(g): int(n) for g, n in sizes.items()}
    return FeedbackGroups(attribute, min_size, own, shown, counts, metrics)
