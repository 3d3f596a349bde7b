"""Column configurations of the app's tables, one per table, named for what it shows."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lib.next_round import ACTIONS
from lib.textsafe import escape_markdown

__all__ = [
    "ROUND",
    "ROUNDS",
    "WRAPPED_ROW_HEIGHT",
    "STATUS_TABLE",
    "STATUS_TABLE_GROUPS",
    "METRICS_SHOWN",
    "METRICS",
    "SOLIDITY",
    "SOLIDITY_ORDER",
    "STABILITY",
    "STABILITY_ORDER",
    "AGREEMENT_INDEX",
    "CONCORDANCE_SUMMARY",
    "DISCORDANT",
    "PARTICIPATION",
    "ATTRITION",
    "CHANGES",
    "PROBLEMS",
    "HISTORY",
    "PUBLICATION",
    "REFRESH_LOG",
    "NONRESPONDERS",
    "COMMENTS",
    "rules",
    "NEXT_ROUND_PLAN",
    "new_statements",
]

_NUM = st.column_config.NumberColumn
_TEXT = st.column_config.TextColumn
_WHEN = st.column_config.DatetimeColumn

ROUND = _NUM("Round", format="%d")

# Overview
ROUNDS: dict[str, Any] = {
    "round": ROUND,
    "response_rate": st.column_config.ProgressColumn(
        "Response rate", format="%.0f%%", min_value=0, max_value=100
    ),
    "invited": "Invited",
    "responded": "Responded",
    "statements": "Rated",
    "in": "Consensus in",
    "out": "Consensus out",
    "none": "No consensus",
}
# Rows tall enough for the wording to wrap onto three lines (Streamlit wraps text only in rows
# taller than 4rem = 64 px).
WRAPPED_ROW_HEIGHT = 68
STATUS_TABLE: dict[str, Any] = {
    # ID, status and % agree come first: in view on a phone.  The ID is pinned (it stays when
    # the table scrolls sideways); pinned columns are drawn faded, so the status is not.
    "statement_id": _TEXT("ID", pinned=True),
    "status": _TEXT("Status", width=132),
    "pct_agree": _NUM("% agree", format="%.0f", width=70, help="% of valid ratings that agree"),
    "round": ROUND,
    "domain": "Domain",
    "text": _TEXT("Statement", width=420),
    "scale": _TEXT("Scale", help="A Yes/No question's % agree is its share of Yes"),
    "n": _NUM("n", help="Valid ratings"),
    "median": _NUM("Median", format="%.1f"),
    "iqr": _NUM("IQR", format="%.2f", help="Interquartile range (Q3 − Q1), in scale points"),
    "group_n": _NUM("n (group)", help="Valid ratings in the group picked"),
    "group_pct_agree": _NUM("% agree (group)", format="%.0f"),
    "group_status": _TEXT("Status (group)", help="The same rule, within the group picked"),
    "every_group": _TEXT(
        "Consensus in every group",
        help="✓: every group that rated the statement reached consensus in; ✗: at least one "
        "did not; –: no group rated it. Observers: groups under the minimum size are pooled.",
    ),
}

STATUS_TABLE_GROUPS: dict[str, Any] = {  # with a group's columns: a narrower wording column
    **STATUS_TABLE,
    "text": _TEXT("Statement", width=300),
}

# Statements
METRICS_SHOWN = [
    "round",
    "statement_id",
    "n",
    "n_no_opinion",
    "n_missing",
    "pct_agree",
    "pct_neutral",
    "pct_disagree",
    "median",
    "q1",
    "q3",
    "iqr",
    "mean",
    "sd",
    "status",
]
METRICS: dict[str, Any] = {
    "round": ROUND,
    "statement_id": "ID",
    "n": _NUM("Valid ratings", help="Ratings on the scale: no opinion and blanks left out"),
    "n_no_opinion": _NUM("No opinion", help="Answers of “no opinion” / “unable to score”"),
    "n_missing": _NUM("Blank", help="Panelists who answered the round but left this one blank"),
    "pct_agree": _NUM("% agree", format="%.1f", help="% of valid ratings in the agree range"),
    "pct_neutral": _NUM("% neutral", format="%.1f", help="% of valid ratings in the middle"),
    "pct_disagree": _NUM("% disagree", format="%.1f", help="% in the disagree range"),
    "median": _NUM("Median", format="%.1f", help="Scale points"),
    "q1": _NUM("Q1", format="%.2f", help="First quartile, scale points (R type 7)"),
    "q3": _NUM("Q3", format="%.2f", help="Third quartile, scale points (R type 7)"),
    "iqr": _NUM("IQR", format="%.2f", help="Interquartile range Q3 − Q1, scale points"),
    "mean": _NUM("Mean", format="%.2f", help="Scale points"),
    "sd": _NUM("SD", format="%.2f", help="Standard deviation, scale points"),
    "status": "Status",
}
SOLIDITY_ORDER = [
    "round",
    "statement_id",
    "n_agree",
    "denominator",
    "pct_agree",
    "ci_low",
    "ci_high",
    "cutoff",
    "status",
    "votes_to_flip",
    "flip_to",
    "note",
]
SOLIDITY: dict[str, Any] = {
    "round": ROUND,
    "statement_id": "ID",
    "n_agree": "Agree",
    "denominator": "Of",
    "pct_agree": _NUM("% agree", format="%.0f"),
    "ci_low": _NUM("95% CI from", format="%.0f"),
    "ci_high": _NUM("95% CI to", format="%.0f"),
    "cutoff": "Votes needed",
    "status": "Status",
    "votes_to_flip": "Votes to flip",
    "flip_to": "Would become",
    "note": "Note",
}
STABILITY_ORDER = [
    "round",
    "statement_id",
    "prev_statement_id",
    "verdict",
    "n_paired",
    "pct_changed",
    "mean_change",
    "cv_change_pct",
    "wilcoxon_p",
    "mcnemar_p",
    "n_to_agree",
    "n_from_agree",
    "cv_prev",
    "cv",
    "note",
]
STABILITY: dict[str, Any] = {
    "round": ROUND,
    "statement_id": "ID",
    "prev_statement_id": "Compared with",
    "n_paired": "Rated both",
    "pct_changed": _NUM("% changed", format="%.0f"),
    "mean_change": _NUM("Δ mean", format="%+.2f"),
    "cv_prev": _NUM("CV before", format="%.2f"),
    "cv": _NUM("CV after", format="%.2f"),
    "cv_change_pct": _NUM("Δ CV %", format="%+.0f"),
    "wilcoxon_p": "Wilcoxon p",
    "n_to_agree": "→ agree",
    "n_from_agree": "agree →",
    "mcnemar_p": _TEXT(
        "McNemar p (exact)",
        help="Exact binomial p on the panelists who crossed into or out of agreement (not "
        "R's mcnemar.test, which is χ² with continuity correction)",
    ),
    "verdict": "Verdict",
    "note": "Note",
}
COMMENTS: dict[str, Any] = {"round": ROUND, "comment": _TEXT("Comment", width="large")}


def rules(names: dict[str, str], text: bool = False) -> dict[str, Any]:
    """Each statement's status under every consensus rule (``names``: column -> the rule's
    label); with ``text``, the statement's wording too."""
    return {
        "round": ROUND,
        "statement_id": "ID",
        **({"text": "Statement"} if text else {}),
        **names,
    }


# Trends
AGREEMENT_INDEX: dict[str, Any] = {
    "round": ROUND,
    "domain": "Domain",
    "w": _NUM("Kendall's W", format="%.3f"),
    "strength": _TEXT("W: agreement", help="Schmidt (1997): 0.1 very weak … 0.9 unusually strong"),
    "covers": _TEXT(
        "W covers",
        help="Complete cases: the panelists who rated every statement, of those who rated",
    ),
    "alpha": _NUM("Krippendorff's α", format="%.3f", help="Uses every rating, of everyone"),
    "n_ratings": "Ratings (α)",
    "chi2": _NUM("χ² (W)", format="%.1f"),
    "df": "df",
    "p": "p (W)",
    "n_statements": "Statements (W)",
    "n_panelists": None,
    "panelists_dropped": None,
    "statements_dropped": None,
    "note": _TEXT("Note", width="large"),
}

CONCORDANCE_SUMMARY: dict[str, Any] = {
    "concordance": "Between groups",
    "statements": "Statements",
    "gap_mean": _NUM("Mean gap", format="%.0f", help="Points of % agree between the groups"),
    "gap_max": _NUM("Largest gap", format="%.0f", help="Points of % agree between the groups"),
}
DISCORDANT: dict[str, Any] = {
    "statement_id": "ID",
    "round": ROUND,
    "text": _TEXT("Statement", width="medium"),
    "gap": _NUM("Gap", format="%.0f", help="Points of % agree between the groups"),
    "lowest_group": "Agrees least",
    "highest_group": "Agrees most",
    "pct_agree_panel": _NUM("% agree (panel)", format="%.0f"),
    "status_panel": "Status (panel)",
}

# Panel
PARTICIPATION: dict[str, Any] = {
    "round": ROUND,
    "invited": "Invited",
    "responded": "Responded",
    "response_rate": _NUM("Response %", format="%.0f"),
    "new": "New",
    "retained": _TEXT("Retained", help="Responded in this round and the one before"),
    "lost": _TEXT("Lost", help="Responded in the round before, not in this one"),
    "attrition_pct": _TEXT("Attrition %", help="Lost, as a % of the round before's respondents"),
}
ATTRITION: dict[str, Any] = {
    "group": "Round-1 ratings of",
    "n_panelists": "Panelists",
    "n_ratings": "Ratings",
    "mean_rating": _NUM("Mean rating", format="%.2f"),
    "pct_agree": _NUM("% agree", format="%.0f"),
}

# Coordinator
CHANGES: dict[str, Any] = {
    "round": ROUND,
    "new_responses": "New",
    "changed_responses": "Changed",
    "removed_responses": "Removed",
    "respondents": "Respondents",
}
PROBLEMS: dict[str, Any] = {
    "tab": "Tab",
    "row": _NUM("Row", format="%d"),
    "column": "Column",
    "header": "Question",
    "kind": "Problem",
    "message": _TEXT("Details", width="large"),
}
HISTORY: dict[str, Any] = {
    "snapshot_id": _NUM("Snapshot", format="%d"),
    "created_at": _WHEN("Stored", format="D MMM YYYY HH:mm"),
    "source": "Source",
    "n_rounds": "Rounds",
    "n_respondents": "Respondents",
    "n_statements": "Statements",
    "n_ratings": "Ratings",
    "n_problems": "Problems",
    "duration_s": _NUM("Seconds", format="%.1f"),
    "published": "Published",
}
PUBLICATION: dict[str, Any] = {
    "round": ROUND,
    "respondents": "Respondents",
    "added": "Added",
    "changed": "Changed",
    "removed": "Removed",
    "verdict": _TEXT("Publication", width="medium"),
}
REFRESH_LOG: dict[str, Any] = {
    "attempted_at": _WHEN("When", format="D MMM YYYY HH:mm:ss"),
    "source": "Source",
    "outcome": "Outcome",
    "snapshot_id": _NUM("Snapshot", format="%d"),
    "message": _TEXT("Message", width="large"),
    "duration_s": _NUM("Seconds", format="%.1f"),
}
NONRESPONDERS: dict[str, Any] = {
    "round": ROUND,
    "panelist": "Pseudonym",
    "identity": "Identity",
    "name": "Name",
}

# Next round
NEXT_ROUND_PLAN: dict[str, Any] = {
    "action": st.column_config.SelectboxColumn(
        "Action", options=list(ACTIONS), required=True, width="small"
    ),
    "statement_id": "ID",
    "text": _TEXT("Wording", width="large"),
    "revised_text": _TEXT("Revised wording", width="large"),
    "new_id": _TEXT("New ID", help="Used when the action is revise"),
    "note": _TEXT("Note (why)"),
    "pct_agree": _NUM("% agree", format="%.0f"),
    "median": _NUM("Median", format="%.1f"),
    "iqr": _NUM("IQR", format="%.2f"),
    "comments": _TEXT("Comments", width="large"),
    "domain": "Domain",
}


def new_statements(next_id: str, domains: list[str]) -> dict[str, Any]:
    """The table of new statements: ``next_id`` is the id an empty one gets (shown escaped in
    the help text), ``domains`` those a statement may be in."""
    return {
        "statement_id": _TEXT(
            "ID", help=f"Leave empty for the next free one ({escape_markdown(next_id)})"
        ),
        "domain": st.column_config.SelectboxColumn("Domain", options=domains),
        "text": _TEXT("Wording", width="large"),
    }
