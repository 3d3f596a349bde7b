"""Per stakeholder group (issue 14): which groups this role sees, the Overview's group filter
and statements table, the Statements page's ratings per group, the Trends page's Groups tab.

Observers see the study's ``[groups]`` attribute only, with groups under
``privacy.min_group_size`` pooled (``lib.analysis.stakeholders``, the one pooling rule); the
committee and the coordinator may pick any panel attribute and see every group.  The frame
helpers here are pure (frames in, frames out) and tested without a page.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from lib.analysis import stakeholders, summary
from lib.analysis.groups import BLANK, other_label, pooling_rule
from lib.charts.base import STATUS_LABELS, STATUS_MARKED, STATUS_TEXT_COLORS
from lib.charts.groups import (
    PANEL,
    group_answers,
    group_heatmap,
    group_likert_chart,
    group_trajectory_chart,
    with_panel,
)
from lib.charts.results import round_scales
from lib.ui import columns
from lib.ui.access import at_least
from lib.ui.loaders import figure, metrics, panel, ratings, stat, statements
from lib.ui.session import config
from lib.ui.widgets import escape, scale_labels

__all__ = [
    "NO_GROUPS",
    "CONCORDANCE_ORDER",
    "GroupView",
    "groups_rule_caption",
    "group_view",
    "group_filter",
    "statements_table",
    "group_ratings",
    "group_trends",
    "group_columns",
    "status_styled",
    "every_group_marks",
    "panel_cells",
    "group_cells",
    "concordance_summary",
    "discordant",
]

NO_GROUPS = "No groups"
CONCORDANCE_ORDER = [
    "consensus in every group",
    "panel only",
    "discordant",
    "some groups",
    "no consensus",
]
_KEYS = ["round", "statement_id"]
_CELL = ["round", "statement_id", "group", "n", "n_agree", "pct_agree", "status"]


class GroupView(NamedTuple):
    """The groups a page shows: the attribute (None: no groups), their metrics per (round,
    statement, group) as this role may see them, their labels in order, and the pooling size
    (None: every group, for the committee)."""

    attribute: str | None
    metrics: pd.DataFrame | None
    groups: list[str]
    min_size: int | None

    @property
    def shown(self) -> bool:
        """Two groups or more to compare."""
        return self.attribute is not None and len(self.groups) >= 2


def groups_rule_caption() -> str:
    """The consensus rule in sentences and, under ``[groups]``, the study-level choice."""
    cfg = config()
    text = " ".join(cfg.scale_map.rule_sentences())
    if cfg.groups is not None:
        said = cfg.groups.describe()
        text += f" {said[0].upper()}{said[1:]}."
    return escape(text)


def group_view(key: str) -> GroupView:
    """The groups shown: the committee picks a panel attribute ("Groups by", the study's
    ``[groups]`` attribute first); observers get the study's attribute, small groups pooled."""
    cfg = config()
    stored = {a.casefold(): a for a in panel()["attribute"].astype(str).unique()}
    configured = cfg.groups.attribute.casefold() if cfg.groups else ""
    attribute = stored.get(configured)
    size = None if at_least("committee") else cfg.min_group_size
    if size is None and stored:
        others = sorted(a for k, a in stored.items() if k != configured)
        picked = st.selectbox(
            "Groups by",
            [attribute or NO_GROUPS, *others],
            key=key,
            help="A panel attribute whose groups are compared (committee only: observers see "
            "the study's stakeholder groups, small ones pooled).",
        )
        attribute = None if picked == NO_GROUPS else picked
    if attribute is None:
        return GroupView(None, None, [], size)
    by_group = stat(stakeholders.by_group, attribute, cfg.scale_map, size)
    labels = by_group.loc[by_group["n"] > 0, "group"].unique()
    last = {BLANK, other_label(size) if size else BLANK}  # listed after the named groups
    groups = sorted((str(g) for g in labels), key=lambda g: (g in last, g.casefold()))
    return GroupView(attribute, by_group, groups, size)


def _not_shown(view: GroupView) -> None:
    """Why no group is compared: none configured, or fewer than two groups to show."""
    if view.attribute is None and view.min_size is None:
        st.caption("No groups: pick a panel attribute under “Groups by”, if the panel has any.")
    elif view.attribute is None:
        st.caption("The study names no stakeholder groups ([groups] in the study file).")
    else:
        st.caption(
            f"Fewer than two groups of “{escape(view.attribute)}” can be shown"
            + (f": {escape(pooling_rule(view.min_size))}" if view.min_size else ".")
        )


def _pooled(view: GroupView) -> str:
    """The pooling rule, as a sentence to append, where a group shown is the pool."""
    pooled = view.min_size is not None and other_label(view.min_size) in view.groups
    return f" {escape(pooling_rule(view.min_size))}" if pooled else ""


# --- Overview ------------------------------------------------------------------------------------


def group_filter(view: GroupView, key: str) -> str | None:
    """The Overview's group picker: the whole panel, or one group shown next to it."""
    if not view.shown:
        return None
    picked = st.selectbox("Group", [PANEL, *view.groups], key=key)
    return None if picked == PANEL else picked


def statements_table(table: pd.DataFrame, view: GroupView, group: str | None, key: str) -> None:
    """The Overview's statements (``summary.status_table``'s frame) with, when groups are
    shown, whether each reached consensus in every group, and the picked group's n, % agree
    and status next to the panel's."""
    shown = table.assign(status=table["status"].map(STATUS_MARKED))
    if view.shown:
        shown = shown.merge(every_group_marks(_verdicts(view)), on=_KEYS, how="left")
        shown["every_group"] = shown["every_group"].fillna("–")
    if group is not None:
        shown = group_columns(shown, view.metrics, group)
    config = columns.STATUS_TABLE_GROUPS if view.shown else columns.STATUS_TABLE
    st.dataframe(
        status_styled(shown),
        hide_index=True,
        key=key,
        column_config=config,
        column_order=_order(shown),
        row_height=columns.WRAPPED_ROW_HEIGHT,  # the wording wraps onto three lines
        height=min(len(shown), 10) * columns.WRAPPED_ROW_HEIGHT + 40,  # ten rows, then scroll
    )
    if group is not None:
        st.caption(
            f"n, % agree and status (group): “{escape(group)}” ({escape(view.attribute)}), "
            "by the same rule as the panel." + _pooled(view)
        )


def _order(table: pd.DataFrame) -> list[str]:
    """ID, status and % agree first (pinned: in view on a phone), then the group's columns
    and the every-group mark, then the wording and the rest."""
    first = ["statement_id", "status", "pct_agree"]
    added = ["group_n", "group_pct_agree", "group_status", "every_group"]
    rest = [c for c in table.columns if c not in first and c not in added]
    return [*first, *(c for c in added if c in table), *rest]


def status_styled(table: pd.DataFrame) -> Any:
    """``table`` with its status columns (``status``, ``group_status``: labels as
    ``STATUS_MARKED`` writes them) in their status colour, as a pandas Styler."""
    colour = {STATUS_MARKED[k]: f"color: {c}" for k, c in STATUS_TEXT_COLORS.items()}
    colour |= {STATUS_LABELS[k]: f"color: {c}" for k, c in STATUS_TEXT_COLORS.items()}
    cols = [c for c in ("status", "group_status") if c in table]
    return table.style.map(lambda v: colour.get(v, ""), subset=cols)


def _verdicts(view: GroupView) -> pd.DataFrame:
    """Per (round, statement): ``every_group_in`` over the true groups for the committee, and
    for observers where the published status already says it (``[groups] consensus =
    "every_group"`` on this attribute); otherwise over the groups observers see (pooled), so
    the column tells nothing of a group under the minimum."""
    cfg = config()
    g = cfg.groups
    own = g is not None and g.attribute.casefold() == str(view.attribute).casefold()
    if view.min_size is None or (own and g.consensus == "every_group"):
        return stat(stakeholders.verdict_table, view.attribute, cfg.scale_map)
    return stakeholders.study_status(metrics(), view.metrics)


def every_group_marks(verdicts: pd.DataFrame) -> pd.DataFrame:
    """``every_group``: ✓ when every group that rated the statement reached consensus in, ✗
    when one did not, – when no group rated it (``study_status``'s frame in).

    >>> v = pd.DataFrame({"round": 1, "statement_id": ["S1", "S2", "S3"],
    ...                   "n_groups": [2, 2, 0], "every_group_in": [True, False, False]})
    >>> every_group_marks(v)["every_group"].tolist()
    ['✓', '✗', '–']
    """
    marks = np.where(verdicts["n_groups"] == 0, "–", np.where(verdicts["every_group_in"], "✓", "✗"))
    return verdicts[_KEYS].assign(every_group=marks)


def group_columns(table: pd.DataFrame, by_group: pd.DataFrame, group: str) -> pd.DataFrame:
    """``table`` (one row per round and statement) with ``group``'s n, % agree and status
    (``group_n``, ``group_pct_agree``, ``group_status`` as a label); blank where the group
    did not rate the statement."""
    mine = by_group.loc[by_group["group"] == group, [*_KEYS, "n", "pct_agree", "status"]]
    mine = mine.rename(
        columns={"n": "group_n", "pct_agree": "group_pct_agree", "status": "group_status"}
    )
    mine = mine.assign(group_status=mine["group_status"].map(STATUS_MARKED))
    return table.merge(mine, on=_KEYS, how="left")


# --- Statements ----------------------------------------------------------------------------------


def group_ratings(family: pd.DataFrame, key: str) -> None:
    """The Statements page's section: one version's ratings per group, a diverging bar each
    with its n, beside the whole panel's (``family``: the statement's versions, one per
    round)."""
    st.subheader("Ratings per group")
    rounds = {f"Round {r}": int(r) for r in sorted(family["round"].unique())}
    last = list(rounds)[-1]
    with st.container(horizontal=True, vertical_alignment="bottom"):
        view = group_view(f"{key}_by")
        if view.shown and len(rounds) > 1:
            last = st.segmented_control("Round", list(rounds), default=last, key=f"{key}_round")
            last = last or list(rounds)[-1]
    if not view.shown:
        return _not_shown(view)
    rnd = rounds[last]
    version = family[family["round"] == rnd].iloc[[0]]
    of_round = ratings()
    answers = group_answers(
        of_round[of_round["round"] == rnd],
        panel(),
        view.attribute,
        view.min_size,
        version["statement_id"].tolist(),
    )
    order = {g: i for i, g in enumerate([PANEL, *view.groups])}
    answers = with_panel(answers).sort_values("group", key=lambda s: s.map(order), kind="stable")
    scale = round_scales(config().scale_map, version)[rnd]
    title = f"{version['statement_id'].iloc[0]} · round {rnd} · per group ({view.attribute})"
    fig = figure(
        group_likert_chart, answers[["group", "answer", "count"]], scale_labels(), title, scale
    )
    st.plotly_chart(fig, key=f"{key}_chart")
    st.caption(
        "n: valid ratings in each group; bars are % of them, on the same scale as above."
        + _pooled(view)
    )


# --- Trends --------------------------------------------------------------------------------------


def group_trends(m: pd.DataFrame, families: pd.DataFrame, key: str) -> None:
    """The Trends page's Groups tab: a statement × group heatmap of % agree in one round (or
    each statement's last), how the groups' verdicts agree, and one statement's agreement per
    group across rounds."""
    cfg = config()
    with st.container(horizontal=True, vertical_alignment="bottom"):
        view = group_view(f"{key}_by")
        shown = {"Each statement's final version": "latest"}
        shown |= {f"Round {r}": int(r) for r in sorted(m["round"].unique())}
        choice = shown[st.selectbox("Round", list(shown), key=f"{key}_round")]
    if not view.shown:
        return _not_shown(view)
    conc = stat(stakeholders.concordance_table, view.attribute, cfg.scale_map, view.min_size)
    rows = summary.status_table(m, choice)[[*_KEYS, "text"]]
    cells = pd.concat([panel_cells(rows, m, conc), group_cells(rows, view.metrics)])
    title = f"% agree per statement and group ({view.attribute})"
    fig = figure(group_heatmap, cells, [PANEL, *view.groups], title)
    st.plotly_chart(fig, key=f"{key}_heatmap")
    st.caption(
        "Numbers are % agreement of valid ratings; a marker shows the rule's verdict within "
        "that group (the whole panel's own verdict in its column)." + _pooled(view)
    )
    st.subheader("Do the groups agree?")
    chosen = rows.merge(conc, on=_KEYS)
    st.dataframe(
        concordance_summary(chosen),
        hide_index=True,
        key=f"{key}_summary",
        column_config=columns.CONCORDANCE_SUMMARY,
    )
    split = discordant(chosen)
    if split.empty:
        st.caption("No discordant statement.")
    else:
        st.dataframe(split, hide_index=True, key=f"{key}_split", column_config=columns.DISCORDANT)
    st.caption(escape(stakeholders.CONCORDANCE_RULE))
    _trajectories(m, families, view, conc, key)


def _trajectories(
    m: pd.DataFrame, families: pd.DataFrame, view: GroupView, conc: pd.DataFrame, key: str
) -> None:
    st.subheader("Agreement per group across rounds")
    labels = summary.statement_labels(summary.latest_per_statement(m))
    rated = m.merge(families[["statement_id", "family"]], on="statement_id", how="left")
    repeated = rated.groupby(rated["family"].fillna(rated["statement_id"]))["round"].transform(
        "nunique"
    )
    again = set(rated.loc[repeated > 1, "statement_id"])  # at first, one rated more than once
    first = next((i for i, s in enumerate(labels.values()) if s in again), 0)
    sid = labels[st.selectbox("Statement", list(labels), index=first, key=f"{key}_statement")]
    ids = set(summary.lineage(statements(), sid, families)["statement_id"])
    mine = m[m["statement_id"].isin(ids)]
    rows = pd.concat([panel_cells(mine, m, conc), group_cells(mine, view.metrics)])
    order = {g: i for i, g in enumerate([PANEL, *view.groups])}
    rows = rows.sort_values(
        ["group", "round"], key=lambda s: s.map(order) if s.name == "group" else s
    )
    threshold = config().rule.threshold
    fig = figure(group_trajectory_chart, rows[_CELL], threshold, f"Agreement per group: {sid}")
    st.plotly_chart(fig, key=f"{key}_trajectory")
    st.caption(
        "One line per group (a revised statement continues its original's line); the whole "
        "panel dashed. Markers: the rule's verdict within the group."
    )


def panel_cells(rows: pd.DataFrame, m: pd.DataFrame, conc: pd.DataFrame) -> pd.DataFrame:
    """The whole panel's cells (group :data:`PANEL`) for ``rows`` (round, statement_id,
    text?): n, % agree from the metrics, and the panel's own verdict (``status_panel``: the
    stored status may be the study's verdict under ``[groups]``)."""
    own = conc[[*_KEYS, "status_panel"]]
    keep = [*_KEYS, "n", "n_agree", "pct_agree", "status"]
    out = rows[[*_KEYS, *(["text"] if "text" in rows else [])]].merge(m[keep], on=_KEYS)
    out = out.merge(own, on=_KEYS, how="left")
    out["status"] = out["status_panel"].fillna(out["status"])
    return out.drop(columns="status_panel").assign(group=PANEL)


def group_cells(rows: pd.DataFrame, by_group: pd.DataFrame) -> pd.DataFrame:
    """Each group's cells for ``rows`` (round, statement_id, text?), from ``by_group``."""
    keep = [*_KEYS, *(["text"] if "text" in rows else [])]
    return rows[keep].merge(by_group[_CELL], on=_KEYS)


def concordance_summary(chosen: pd.DataFrame) -> pd.DataFrame:
    """Statements per kind of concordance (``CONCORDANCE_ORDER``), with the mean and largest
    gap in % agree between groups (``concordance_table``'s rows in).

    >>> c = pd.DataFrame({"statement_id": ["S1", "S2", "S3"], "gap": [10.0, 50.0, 30.0],
    ...                   "concordance": ["discordant", "discordant", "panel only"]})
    >>> concordance_summary(c)[["statements", "gap_max"]].iloc[1:3].to_dict("list")
    {'statements': [1, 2], 'gap_max': [30.0, 50.0]}
    """
    per = chosen.groupby("concordance").agg(
        statements=("statement_id", "size"), gap_mean=("gap", "mean"), gap_max=("gap", "max")
    )
    per = per.reindex(CONCORDANCE_ORDER)
    per["statements"] = per["statements"].fillna(0).astype(int)
    out = per.reset_index().rename(columns={"index": "concordance"})
    return out.assign(concordance=out["concordance"].str.capitalize())


def discordant(chosen: pd.DataFrame) -> pd.DataFrame:
    """The discordant statements, largest gap first, with the groups that agree least and
    most and the whole panel's % agree and own verdict."""
    keep = [
        "statement_id",
        "round",
        "text",
        "gap",
        "lowest_group",
        "highest_group",
        "pct_agree_panel",
        "status_panel",
    ]
    out = chosen.loc[chosen["concordance"] == "discordant", keep]
    out = out.sort_values(["gap", "statement_id"], ascending=[False, True], ignore_index=True)
    return out.assign(status_panel=out["status_panel"].map(STATUS_LABELS))
