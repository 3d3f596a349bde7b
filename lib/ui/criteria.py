"""The panel against its pre-registered eligibility criteria: counts on the Panel page for
everyone, which verdicts would change without the panelists not eligible for the steering
committee and the coordinator, and who meets which criterion on the Coordinator page."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from lib.analysis import eligibility
from lib.charts.base import STATUS_LABELS
from lib.textsafe import escape_markdown
from lib.ui.access import at_least
from lib.ui.loaders import info, recipients, stat
from lib.ui.session import config
from lib.ui.snapshot import snapshot_id

__all__ = ["eligibility_counts", "eligibility_panel"]

_NUM = st.column_config.NumberColumn
_TEXT = st.column_config.TextColumn

COUNTS: dict[str, Any] = {
    "criterion": _NUM("#", format="%d", width="small"),
    "wording": _TEXT("Criterion (as pre-registered)", width="large"),
    "attribute": "Panel column",
    "test": "Test",
    "n_met": _NUM("Meet it", format="%d"),
    "n_not_met": _NUM("Do not", format="%d"),
    "n_missing": _NUM("Missing", format="%d", help="No value (or no readable number)"),
}
CHANGES: dict[str, Any] = {
    "round": _NUM("Round", format="%d"),
    "statement_id": "ID",
    "n_all": _NUM("Rated (all)", format="%d"),
    "status_all": "Status, every rating",
    "n_eligible": _NUM("Rated (eligible)", format="%d"),
    "status_eligible": "Status, eligible panelists only",
}
_OWN: dict[str, Any] = {
    "panelist": "Pseudonym",
    "identity": "Identity",
    "name": "Name",
    "eligible": st.column_config.CheckboxColumn("Eligible"),
}
_TAIL: dict[str, Any] = {
    "n_ratings": _NUM("Ratings kept", format="%d"),
    "ratings_flag": _TEXT("Flag", width="medium"),
}


def _none_checked() -> bool:
    """True (with a caption) when this snapshot checked no criterion."""
    counts = stat(eligibility.counts, int(info()["n_invited"]))
    if not counts.empty:
        return False
    why = (
        "This snapshot was stored before the study file's criteria were checked: refresh."
        if config().eligibility
        else "The study file pre-registers no eligibility criteria ([[eligibility]])."
    )
    st.caption(why)
    return True


def eligibility_counts() -> None:
    """The Panel page's section: invited, eligible and why not, per criterion (counts only);
    for the committee and the coordinator, which verdicts would change without the panelists
    not eligible (counts and statuses, no pseudonyms)."""
    if _none_checked():
        return
    n_invited = int(info()["n_invited"])
    counts = stat(eligibility.counts, n_invited)
    st.markdown(escape_markdown(eligibility.summary_sentence(counts, n_invited)) + ".")
    st.dataframe(
        counts, hide_index=True, key="pa_eligibility", column_config=COUNTS, column_order=[*COUNTS]
    )
    st.caption(eligibility.ELIGIBILITY_RULE)
    if not at_least("committee"):
        st.caption("Which verdicts would change without them is shown to the steering committee.")
        return
    st.markdown("**Without the panelists who are not eligible**")
    scales = config().scale_map
    sens = stat(eligibility.sensitivity, scales)
    st.markdown(escape_markdown(stat(eligibility.sensitivity_sentence, sens)))
    changed = sens[sens["changes"]]
    if changed.empty:
        st.caption("No verdict changes without them.")
    else:
        st.dataframe(
            _labelled(changed),
            hide_index=True,
            key="pa_eligibility_changes",
            column_config=CHANGES,
            column_order=[*CHANGES],
        )
    st.caption(eligibility.SENSITIVITY_RULE)


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    """Statuses by their labels."""
    return frame.assign(
        **{c: frame[c].map(STATUS_LABELS) for c in ("status_all", "status_eligible")}
    )


def eligibility_panel() -> None:
    """The Coordinator page's table: each panelist (identity, name) against each criterion,
    the value as written, and the ratings kept and flagged when they are not eligible."""
    if not at_least("coordinator") or _none_checked():  # identities: the coordinator's only
        return
    n_invited = int(info()["n_invited"])
    counts = stat(eligibility.counts, n_invited)
    table = stat(eligibility.panelist_table)
    who = recipients()[["panelist", "identity", "name"]]
    table = who.merge(table, on="panelist", how="right")
    criteria = [c for c in table.columns if c not in _OWN and c not in _TAIL]
    st.caption(
        f"Snapshot {snapshot_id()}: "
        + escape_markdown(eligibility.summary_sentence(counts, n_invited))
        + ". Ratings of panelists who are not eligible are kept in every result and flagged "
        "here; the Panel page shows the committee which verdicts would change without them."
    )
    st.dataframe(
        table,
        hide_index=True,
        key="co_eligibility",
        column_config={**_OWN, **_TAIL},
        column_order=[*_OWN, *criteria, *_TAIL],
    )
