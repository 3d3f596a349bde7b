"""Shared widgets: untrusted text shown literally, the snapshot caption, the scale's labels, the
tables and lists several pages show, a row of download buttons."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from lib import wording
from lib.analysis import format_p, summary
from lib.charts.base import STATUS_LABELS
from lib.coordination import stored_message
from lib.pipeline import RefreshBusy, RefreshResult
from lib.textsafe import escape_markdown
from lib.ui import columns
from lib.ui.loaders import info, metrics
from lib.ui.session import config

if TYPE_CHECKING:  # lib.reports is imported where a document is shown: it brings Jinja2
    from lib.reports.data import FeedbackData, ReportData
    from lib.reports.feedback import StatementPart

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
    "require_ratings",
    "trajectory_picker",
    "wording_versions",
    "metrics_table",
    "solidity_table",
    "stability_table",
    "agreement_table",
    "rules_table",
    "comments_list",
    "download_buttons",
    "report_narrative",
    "feedback_preview",
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


def require_ratings() -> None:
    """Stop the page with a sentence saying why when no round of this snapshot has an answer."""
    if metrics().empty:
        st.info(
            "No ratings yet: no round of this snapshot has an answer (a round just opened "
            "has its questions but no responses). Results appear here once a refresh finds "
            "the first responses.",
            icon=":material/hourglass_empty:",
        )
        st.stop()


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
    (``last["error"]``); ``current`` is the latest snapshot, ``steps`` names steps."""
    if "error" in last:
        exc = last["error"]
        if isinstance(exc, RefreshBusy):
            st.warning(escape_markdown(exc.reason), icon=":material/hourglass_top:")
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
    _refresh_result(last["result"], steps)


def _refresh_result(res: RefreshResult, steps: dict[str, str]) -> None:
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
    st.info(
        f"Snapshot {res.snapshot_id} is not published: observers, and the committee unless "
        "they pick it, see it once you publish it below.",
        icon=":material/visibility_off:",
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


# --- tables and lists of statements --------------------------------------------------------------


def trajectory_picker(metrics: pd.DataFrame, families: pd.DataFrame) -> tuple[pd.Series, bool]:
    """The Trends page's choice of trajectories: a domain's statements or chosen ones (up to 8;
    at first four that were revised), and whether to keep only those rated more than once.
    Returns the family ids picked (``lib.analysis.flow.families``'s) and that choice."""
    with st.container(horizontal=True, vertical_alignment="bottom"):
        mode = st.segmented_control(
            "Show", ["Domain", "Statements"], default="Domain", key="tr_mode"
        )
        if mode == "Statements":
            labels, revised = summary.family_options(families)
            chosen = st.multiselect(
                "Statements", labels, default=revised[:4], max_selections=8, key="tr_statements"
            )
            picked = summary.families_labelled(families, chosen)
        else:
            domains = sorted(metrics["domain"].dropna().unique())
            domain = st.selectbox("Domain", domains, key="tr_domain")
            picked = summary.families_in_domain(families, metrics, domain)
        repeated = st.toggle("Only statements rated more than once", value=True, key="tr_repeated")
    return picked, repeated


def wording_versions(history: pd.DataFrame) -> None:
    """Each version of a statement in a box (round, id, domain, what it was revised from and how
    it changed) with its wording or the words changed; ``summary.wording_history``'s frame in."""
    for row in history.itertuples():
        with st.container(border=True):
            st.caption(
                f"Round {row.round} · {escape_markdown(row.statement_id)} · "
                f"{escape_markdown(row.domain)}"
                + (f" · revised from {escape_markdown(row.revised)}" if row.revised else "")
                + (f" · {row.change}" if row.change else "")
            )
            if row.before is None:
                plain(row.text)
            elif row.change != "unchanged":
                st.markdown(wording.diff_markdown(row.before, row.text))
    if len(history["text"].unique()) > 1:
        st.caption(
            "Changes from the previous round's wording: :red[~~removed~~] words struck "
            "through, :blue[**added**] words in bold."
        )


def metrics_table(metrics: pd.DataFrame, key: str) -> None:
    """The metrics and status of each (round, statement), statuses by their labels."""
    st.dataframe(
        metrics.assign(status=metrics["status"].map(STATUS_LABELS))[columns.METRICS_SHOWN],
        hide_index=True,
        key=key,
        column_config=columns.METRICS,
    )


def solidity_table(solid: pd.DataFrame, key: str) -> None:
    """How solid each result is (``solidity.solidity``'s frame), statuses by their labels."""
    st.dataframe(
        solid.assign(
            status=solid["status"].map(STATUS_LABELS), flip_to=solid["flip_to"].map(STATUS_LABELS)
        ),
        hide_index=True,
        key=key,
        column_order=columns.SOLIDITY_ORDER,
        column_config=columns.SOLIDITY,
    )


def stability_table(stab: pd.DataFrame, key: str) -> None:
    """Stability between rounds (``stability.stability``'s frame), p-values as text."""
    st.dataframe(
        stab.assign(
            wilcoxon_p=stab["wilcoxon_p"].map(format_p), mcnemar_p=stab["mcnemar_p"].map(format_p)
        ),
        hide_index=True,
        key=key,
        column_order=columns.STABILITY_ORDER,
        column_config=columns.STABILITY,
    )


def agreement_table(table: pd.DataFrame, key: str) -> None:
    """Kendall's W (and Krippendorff's alpha) per round or domain, p-values as text."""
    st.dataframe(
        table.assign(p=table["p"].map(format_p)),
        hide_index=True,
        key=key,
        column_config=columns.AGREEMENT_INDEX,
        column_order=[c for c in columns.AGREEMENT_INDEX if c in table],
    )


def rules_table(
    per: pd.DataFrame, counts: pd.DataFrame, key: str, texts: dict[str, str] | None = None
) -> None:
    """Each statement's status under every consensus rule (``sensitivity_by_statement``'s
    frame, its rules named by ``sensitivity_counts``'s labels); with ``texts`` (id -> wording)
    a column of wordings last."""
    names = {r: lab for r, lab in zip(counts["rule"], counts["label"], strict=True) if r in per}
    shown = per if texts is None else per.assign(text=per["statement_id"].map(texts))
    st.dataframe(
        shown.replace(STATUS_LABELS),
        hide_index=True,
        key=key,
        column_order=["round", "statement_id", *names, *([] if texts is None else ["text"])],
        column_config=columns.rules(names, text=texts is not None),
    )


def comments_list(comments: pd.DataFrame, key: str) -> None:
    """A statement's comments, one line each, or past ``MANY_COMMENTS`` a table."""
    if comments.empty:
        st.caption("No comments on this statement.")
    elif len(comments) > MANY_COMMENTS:  # a table scrolls and searches; 200 lines would not
        st.caption(f"{len(comments)} comments: search them with the table's search icon.")
        st.dataframe(
            comments[["round", "comment"]],
            hide_index=True,
            key=key,
            column_config=columns.COMMENTS,
        )
    else:
        for row in comments.itertuples():
            st.text(f"Round {row.round}: {row.comment}")


# --- downloads ---------------------------------------------------------------------------------

# label, build(of), file name suffix, mime type, widget key, icon (a Material Symbols name)
Download = tuple[str, Callable[[Any], Any] | None, str, str, str, str]


def download_buttons(
    of: Any,
    stem: str,
    files: list[Download],
    help_texts: dict[str, str] | None = None,
    *,
    primary: bool = True,
    disabled: bool = False,
) -> None:
    """A row of download buttons, each file built on click by ``build(of)`` and named ``stem``
    + suffix; a file whose build is None is not offered.  The first button is primary (unless
    ``primary`` is False); ``help_texts`` maps a widget key to its help."""
    with st.container(horizontal=True):
        for i, (label, build, suffix, mime, key, icon) in enumerate(files):
            if build is None:
                continue
            st.download_button(
                label,
                partial(build, of),
                stem + suffix,
                mime,
                key=key,
                type="primary" if primary and i == 0 else "secondary",
                on_click="ignore",
                icon=f":material/{icon}:",
                help=(help_texts or {}).get(key),
                disabled=disabled,
            )


# --- documents ---------------------------------------------------------------------------------


def report_narrative(data: ReportData, editable: bool, key: str) -> ReportData:
    """The report's drafted methods-and-results text: with ``editable`` (the committee) a text
    area, and the report returned with its text, which the downloads carry; else read-only."""
    if not editable:
        with st.expander("Methods and results (draft)"):
            st.text(data.narrative)
        return data
    from lib.reports.data import with_narrative

    help_ = (
        "Drafted from the data with the numbers filled in. Edit it here; the downloads "
        "below carry your text."
    )
    text = st.text_area("Methods and results", data.narrative, 280, key=key, help=help_)
    return with_narrative(data, text)


def feedback_preview(fd: FeedbackData, parts: dict[str, StatementPart], key: str) -> None:
    """One panelist's feedback document, picked by pseudonym, in a frame."""
    from lib.reports.feedback import feedback_data_url

    with st.expander("Preview a panelist's document", icon=":material/visibility:"):
        who = st.selectbox("Panelist", fd.panelists, key=key, width=260)
        # A data: URL has an opaque origin: the preview cannot reach the app even in theory.
        st.iframe(feedback_data_url(fd, who, parts), height=600, alt=f"Feedback document of {who}")
