"""The Statements page's "Would the verdict survive?": the robust / fragile mark with its
reasons, the attrition what-ifs, how many changed their rating and, for the steering committee
and the coordinator only, who did (pseudonyms) with the comment they gave."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from lib.analysis import robustness
from lib.charts.base import STATUS_LABELS
from lib.textsafe import escape_markdown
from lib.ui.access import at_least
from lib.ui.loaders import stat
from lib.ui.session import config

__all__ = ["verdict_survival"]

_NUM = st.column_config.NumberColumn
_TEXT = st.column_config.TextColumn
_ROUND = _NUM("Round", format="%d")
_RATING = "%d"

ATTRITION: dict[str, Any] = {
    "round": _ROUND,
    "statement_id": "ID",
    "status": "Status",
    "n": _NUM("Rated", width="small"),
    "n_dropped": _NUM("Dropped out", help="Rated an earlier version, did not respond"),
    "n_skipped": _NUM("Skipped", width="small", help="Rated an earlier version, left this blank"),
    "n_carried": "Last ratings kept",
    "status_carried": "Status with them",
    "worst_case": _TEXT("Worst case", width="large"),
    "status_worst": "Status then",
    "note": "Note",
}
COUNTS: dict[str, Any] = {
    "round": _ROUND,
    "statement_id": "ID",
    "prev_statement_id": "Compared with",
    "n_paired": _NUM("Rated both", format="%d"),
    "n_moved": _NUM("Moved", format="%d"),
    "n_crossed": _NUM("Crossed a boundary", format="%d"),
    "into_agree": _NUM("Into agree", format="%d"),
    "out_of_agree": _NUM("Out of agree", format="%d"),
    "into_disagree": _NUM("Into disagree", format="%d"),
    "out_of_disagree": _NUM("Out of disagree", format="%d"),
    "note": "Note",
}
CHANGES: dict[str, Any] = {
    "round": _ROUND,
    "statement_id": "ID",
    "prev_statement_id": "From",
    "panelist": "Panelist",
    "rating_before": _NUM("Before", format=_RATING),
    "rating": _NUM("After", format=_RATING),
    "crossing": _TEXT("Crossed", width="medium"),
    # not "comment": the page's comment list is the table with that column
    "their_comment": _TEXT("Their comment this round", width="large"),
}


def verdict_survival(ids: set[str], solid: pd.DataFrame, per: pd.DataFrame, key: str) -> None:
    """The section for the versions ``ids`` of one statement: ``solid`` and ``per`` are the
    page's ``solidity_by_scale`` and ``sensitivity_by_scale`` frames.  Observers get the
    attrition what-ifs with the last ratings of fewer than ``privacy.min_group_size`` panelists
    left out, and no per-panelist row."""
    cfg = config()
    committee = at_least("committee")
    hide = 1 if committee else cfg.min_group_size
    family = tuple(sorted(ids))  # every what-if is per version: the family's rows suffice
    attr = stat(robustness.attrition, cfg.scale_map, hide, only=family)
    solid, per = (f[f["statement_id"].isin(ids)] for f in (solid, per))
    mine = stat(robustness.marks, solid, attr, per, cfg.scale_map)
    for row in mine[mine["last_rated"]].itertuples():
        _mark(row)
    for row in mine[~mine["last_rated"]].itertuples():
        st.markdown(
            f"Round {row.round} · {escape_markdown(row.statement_id)} · "
            f"{STATUS_LABELS.get(row.status, row.status)}: **{row.mark}**: "
            f"{escape_markdown(row.reasons)}."
        )
    st.caption(robustness.MARK_RULE)

    st.markdown("**Had the missing panelists answered**")
    st.dataframe(
        _labelled(attr),
        hide_index=True,
        key=f"{key}_attrition",
        column_config=ATTRITION,
        column_order=list(ATTRITION),
    )
    st.caption(robustness.ATTRITION_RULE)

    st.markdown("**Rating changes between rounds**")
    counts = stat(robustness.change_counts, cfg.scale_map, only=family)
    if counts.empty:
        st.caption("Rated in one round only: nothing to compare.")
        return
    st.dataframe(
        counts,
        hide_index=True,
        key=f"{key}_counts",
        column_config=COUNTS,
        column_order=list(COUNTS),
    )
    if committee:
        _changes_table(family, key)
    else:
        st.caption("Who changed their rating, and what they wrote, is shown to the committee only.")
    st.caption(robustness.CHANGES_RULE)


def _mark(row: Any) -> None:
    """The mark of a statement's last version rated, with its reasons."""
    text = (
        f"**{row.mark.capitalize()}** · {escape_markdown(row.statement_id)}, round {row.round}, "
        f"{STATUS_LABELS.get(row.status, row.status).lower()}: {escape_markdown(row.reasons)}."
    )
    if row.mark == "robust":
        st.success(text, icon=":material/verified:")
    else:
        st.warning(text, icon=":material/warning:")


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Statuses by their labels."""
    cols = [c for c in ("status", "status_carried", "status_worst") if c in frame]
    return frame.assign(**{c: frame[c].map(STATUS_LABELS) for c in cols})


def _changes_table(family: tuple[str, ...], key: str) -> None:
    """Who moved, from which rating to which, and their comment (pseudonyms: committee only)."""
    changes = stat(robustness.rating_changes_with_comments, config().scale_map, only=family)
    mine = changes.rename(columns={"comment": "their_comment"})
    if mine.empty:
        st.caption("Nobody changed their rating.")
        return
    st.dataframe(
        mine,
        hide_index=True,
        key=f"{key}_changes",
        column_config=CHANGES,
        column_order=list(CHANGES),
    )
