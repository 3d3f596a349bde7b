"""Shared widgets: untrusted text shown literally, the snapshot caption, the scale's labels."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from lib.coordination import stored_message
from lib.pipeline import RefreshBusy, RefreshResult
from lib.textsafe import escape_markdown
from lib.ui import columns
from lib.ui.loaders import info
from lib.ui.session import config

__all__ = [
    "MANY_COMMENTS",
    "plain",
    "escape",
    "plain_title",
    "snapshot_caption",
    "scale_labels",
    "inapplicable_captions",
    "problems_table",
    "refresh_summary",
]

MANY_COMMENTS = 20  # a statement with more comments lists them in a table, not line by line


def plain(text: Any) -> None:
    """Show untrusted text literally (no markdown, HTML or images)."""
    st.markdown(escape_markdown(text))


def escape(text: Any) -> str:
    """Escape untrusted text for any Streamlit element that renders markdown."""
    return escape_markdown(text)


def plain_title(text: Any) -> None:
    """A page title from untrusted text."""
    st.title(escape_markdown(text))


def snapshot_caption() -> None:
    """A caption naming the snapshot and the rule the page was computed from."""
    i = info()
    rule = i["rule"]
    st.caption(
        f"Snapshot {i['snapshot_id']} of {i['created_at']:%d %b %Y %H:%M} UTC · "
        f"rule: {escape_markdown(rule['label'])} {escape_markdown(rule.get('version', ''))}"
    )


def scale_labels() -> dict[int, str]:
    """Score -> label for the study's scale (numbers where no label is configured)."""
    cfg = config()
    names = {v: k for k, v in cfg.labels.items()}
    return {s: names.get(s, str(s)) for s in range(cfg.scale_min, cfg.scale_max + 1)}


def inapplicable_captions(counts: pd.DataFrame) -> None:
    """One caption per consensus rule that does not apply to the study's scale, saying why."""
    for row in counts[~counts["applicable"]].itertuples():
        st.caption(f"{escape_markdown(row.label)}: {escape_markdown(row.note)}.")


def problems_table(problems: pd.DataFrame, key: str) -> None:
    """The validation report: one row per problem, named by tab, row and column."""
    if problems.empty:
        st.caption("No validation problems.")
        return
    st.markdown(f"**Validation problems** ({len(problems)}): these cells were left out.")
    st.dataframe(
        problems[["tab", "row", "column", "header", "kind", "message"]],
        hide_index=True,
        key=key,
        column_config=columns.PROBLEMS,
    )


def refresh_summary(last: dict[str, Any], current: int | None, steps: dict[str, str]) -> None:
    """What the last refresh of this session did (``last["result"]``) or why it failed
    (``last["error"]``); ``current`` is the snapshot the committee sees, ``steps`` names steps."""
    if "error" in last:
        exc = last["error"]
        if isinstance(exc, RefreshBusy):
            st.warning(exc.reason, icon=":material/hourglass_top:")
        else:
            st.error(
                f"**{steps.get(exc.step, exc.step)}** failed: {escape_markdown(exc.reason)}",
                icon=":material/error:",
            )
        st.info(
            f"Nothing was changed: snapshot {current} is still current."
            if current
            else "Nothing was stored; there is no snapshot yet.",
            icon=":material/shield:",
        )
        return
    _refresh_result(last["result"], current, steps)


def _refresh_result(res: RefreshResult, current: int | None, steps: dict[str, str]) -> None:
    st.caption(" · ".join(f"{steps.get(k, k)} {v:.2f} s" for k, v in res.timings.items()))
    if res.outcome == "no_change":
        st.info(
            f"No change: the source matches snapshot {res.snapshot_id}, so nothing new was "
            f"stored ({res.seconds:.1f} s).",
            icon=":material/check_circle:",
        )
        return
    st.success(
        stored_message(res.snapshot_id, res.seconds, res.counts), icon=":material/check_circle:"
    )
    if current != res.snapshot_id:
        st.warning(
            f"The committee view is pinned to snapshot {current}: unpin it below to "
            "show the new data.",
            icon=":material/push_pin:",
        )
    since = f"since snapshot {res.previous_id}" if res.previous_id else "(first snapshot)"
    st.markdown(f"**Responses per round** {since}")
    st.dataframe(res.changes, hide_index=True, key="co_changes", column_config=columns.CHANGES)
    moved = res.changes[["new_responses", "changed_responses", "removed_responses"]]
    if res.previous_id and not moved.to_numpy().any():
        st.caption(
            "No response was added, changed or removed: something else changed (a "
            "statement text, the Panel tab, an answer edited by hand in the sheet, or the "
            "study configuration)."
        )
    problems_table(res.problems, "co_problems")
