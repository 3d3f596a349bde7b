"""What the documents are built from: a snapshot's stored frames, and where they come from.

``report_inputs`` and ``feedback_inputs`` take any ``SnapshotFrames``: an object whose methods
return this snapshot's ``lib.store`` queries under the names of ``lib.ui``'s typed loaders.
Pages pass ``lib.ui`` itself (cached per snapshot); the command line and tests pass
``StoreFrames(con, snapshot_id)``, which only runs the store queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from lib import store

__all__ = [
    "ReportInputs",
    "FeedbackInputs",
    "SnapshotFrames",
    "StoreFrames",
    "report_inputs",
    "feedback_inputs",
]


@dataclass(frozen=True)
class ReportInputs:
    """A snapshot's stored frames the consensus report is built from (``lib.store`` queries)."""

    info: dict[str, Any]  # snapshot_info
    statements: pd.DataFrame  # statements_for
    metrics: pd.DataFrame  # metrics_for
    ratings: pd.DataFrame  # ratings_for, every round (pseudonyms only)
    distribution: pd.DataFrame  # distribution_for
    respondents: pd.DataFrame  # respondents_for
    response_rates: pd.DataFrame  # response_rates
    panel_attributes: pd.DataFrame  # panel_attributes
    comments: pd.DataFrame | None  # comments_for; None: not shown to this audience
    # every stakeholder group (the committee's report); False: groups under
    # privacy.min_group_size pooled, as observers see them
    all_groups: bool = False
    # eligibility_for without the values as written (coordinator only): each panelist
    # (pseudonym) against each criterion, for the counts; None: the source has no such query
    eligibility: pd.DataFrame | None = None


@dataclass(frozen=True)
class FeedbackInputs:
    """A snapshot's stored frames the feedback after a round is built from."""

    info: dict[str, Any]  # snapshot_info
    metrics: pd.DataFrame  # metrics_for
    distribution: pd.DataFrame  # distribution_for
    comments: pd.DataFrame  # comments_for
    ratings: pd.DataFrame  # ratings_for (rounds other than the feedback's are ignored)
    recipients: pd.DataFrame  # feedback_recipients: everyone to write to
    respondents: pd.DataFrame  # respondents_for
    panel_attributes: pd.DataFrame  # panel_attributes: each panelist's stakeholder group
    # statements_for: for the stability between rounds a "stop when stable" rule judges by;
    # None: not read (the feedback then never says a round was the last unless max_rounds does)
    statements: pd.DataFrame | None = None


class SnapshotFrames(Protocol):
    """One snapshot's stored frames, by the names of ``lib.ui``'s loaders."""

    def info(self) -> dict[str, Any]: ...
    def statements(self) -> pd.DataFrame: ...
    def metrics(self) -> pd.DataFrame: ...
    def ratings(self) -> pd.DataFrame: ...
    def distribution(self) -> pd.DataFrame: ...
    def respondents(self) -> pd.DataFrame: ...
    def rates(self) -> pd.DataFrame: ...
    def panel(self) -> pd.DataFrame: ...
    def comments(self) -> pd.DataFrame: ...
    def recipients(self) -> pd.DataFrame: ...
    def eligibility(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class StoreFrames:
    """``SnapshotFrames`` read from an open ``lib.store`` connection, query by query."""

    con: Any
    snapshot_id: int

    def info(self) -> dict[str, Any]:
        """store.snapshot_info"""
        return store.snapshot_info(self.con, self.snapshot_id)

    def statements(self) -> pd.DataFrame:
        """store.statements_for"""
        return store.statements_for(self.con, self.snapshot_id)

    def metrics(self) -> pd.DataFrame:
        """store.metrics_for"""
        return store.metrics_for(self.con, self.snapshot_id)

    def ratings(self) -> pd.DataFrame:
        """store.ratings_for, every round"""
        return store.ratings_for(self.con, self.snapshot_id)

    def distribution(self) -> pd.DataFrame:
        """store.distribution_for"""
        return store.distribution_for(self.con, self.snapshot_id)

    def respondents(self) -> pd.DataFrame:
        """store.respondents_for"""
        return store.respondents_for(self.con, self.snapshot_id)

    def rates(self) -> pd.DataFrame:
        """store.response_rates"""
        return store.response_rates(self.con, self.snapshot_id)

    def panel(self) -> pd.DataFrame:
        """store.panel_attributes"""
        return store.panel_attributes(self.con, self.snapshot_id)

    def comments(self) -> pd.DataFrame:
        """store.comments_for"""
        return store.comments_for(self.con, self.snapshot_id)

    def recipients(self) -> pd.DataFrame:
        """store.feedback_recipients (identities: coordinator only)"""
        return store.feedback_recipients(self.con, self.snapshot_id)

    def eligibility(self) -> pd.DataFrame:
        """store.eligibility_for"""
        return store.eligibility_for(self.con, self.snapshot_id)


def report_inputs(
    source: SnapshotFrames, *, include_comments: bool = True, all_groups: bool = False
) -> ReportInputs:
    """The consensus report's frames: comments left out when ``include_comments`` is false,
    stakeholder groups under ``privacy.min_group_size`` pooled unless ``all_groups`` (the
    committee's report; fail closed: pooled unless asked)."""
    return ReportInputs(
        info=source.info(),
        statements=source.statements(),
        metrics=source.metrics(),
        ratings=source.ratings(),
        distribution=source.distribution(),
        respondents=source.respondents(),
        response_rates=source.rates(),
        panel_attributes=source.panel(),
        comments=source.comments() if include_comments else None,
        all_groups=all_groups,
        eligibility=_eligibility(source),
    )


def _eligibility(source: SnapshotFrames) -> pd.DataFrame | None:
    """Each panelist's result per criterion, for counts: the value as written is left out
    (it is the coordinator's alone, and a report is made to be passed on)."""
    read = getattr(source, "eligibility", None)  # a source from before the criteria
    if read is None:
        return None
    return read().drop(columns=["value"], errors="ignore")


def feedback_inputs(source: SnapshotFrames) -> FeedbackInputs:
    """The frames the feedback after any round of the snapshot is built from."""
    return FeedbackInputs(
        info=source.info(),
        metrics=source.metrics(),
        distribution=source.distribution(),
        comments=source.comments(),
        ratings=source.ratings(),
        recipients=source.recipients(),
        respondents=source.respondents(),
        panel_attributes=source.panel(),
        statements=source.statements(),
    )
