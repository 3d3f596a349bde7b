"""The Overview's "Run another round?": the pre-registered stopping rule's decision after the
last round rated, its reasons, a conflict with the stability verdicts, and the rule itself.

Everyone sees the counts; the steering committee and the coordinator also see which statements
are still open (statement IDs, never a panelist)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from lib.analysis import stability, stopping
from lib.textsafe import escape_markdown
from lib.ui.access import at_least
from lib.ui.loaders import stat
from lib.ui.session import config

__all__ = ["run_another_round"]

_ICONS = {"stop": ":material/flag:", "continue": ":material/replay:", "no rule": ":material/help:"}
_CLASSES = ("still moving", "stable", "not assessable")


def run_another_round(metrics: pd.DataFrame) -> None:
    """The "Run another round?" block, for the metrics the page shows (each statement's latest
    version after the last round rated, the whole panel's status)."""
    cfg = config()
    pairs = stat(stability.stability, cfg.rule.agree, cfg.scale_map)
    v = stopping.verdict(metrics, pairs, cfg.stopping)
    st.subheader("Run another round?")
    st.info(f"**{escape_markdown(v.headline)}**", icon=_ICONS[v.decision])
    if v.conflict:
        # a badge, not st.warning: the page's warnings are the access banners
        badge = ":orange-badge[:material/warning: The rule and the stability verdicts disagree]"
        st.markdown(f"{badge} **{escape_markdown(v.conflict)}**")
    st.markdown("\n".join(f"- {escape_markdown(r)}" for r in v.reasons))
    if at_least("committee") and v.n_open:
        _open_ids(stopping.open_statements(metrics, pairs, v.last_round))
    if cfg.stopping is not None:
        st.caption(f"Pre-registered stopping rule: {escape_markdown(v.rule)}")
    with st.expander("How these are counted"):
        st.caption(escape_markdown(stopping.STOPPING_NOTE))
        st.caption(escape_markdown(stability.STABILITY_RULE))


def _open_ids(opened: pd.DataFrame) -> None:
    """The open statements' IDs by what they count as (committee only: observers get counts)."""
    parts = []
    for kind in _CLASSES:
        ids = opened.loc[opened["counted_as"] == kind, "statement_id"]
        if len(ids):
            parts.append(f"{kind}: {escape_markdown(', '.join(ids))}")
    st.caption("Open statements — " + " · ".join(parts))
