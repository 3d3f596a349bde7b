"""Consensus per stakeholder group: each group's metrics and verdict, the study-level verdict
under ``[groups] consensus``, and how the groups' verdicts agree (concordance).

Frames in, frames out.  The ratings frame has one row per respondent × statement of a round
(``round``, ``statement_id``, ``rating``, ``no_opinion`` and the respondent's key in column
``by``: ``panelist`` in the store, ``identity`` during a refresh); ``groups`` maps that key to
the respondent's group.  Each group's metrics are :func:`lib.analysis.consensus.study_metrics`
of its own ratings, on each statement's own scale, so the rule means the same in a group as in
the panel.  Observers see groups pooled by :func:`lib.analysis.groups.pool_small_groups`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lib.analysis.consensus import study_metrics
from lib.analysis.groups import BLANK, pool_small_groups
from lib.analysis.scales import ScaleMap

__all__ = [
    "CONCORDANCE_RULE",
    "FAR_POINTS",
    "VERDICT_RULES",
    "by_group",
    "concordance",
    "concordance_table",
    "verdict_table",
    "group_metrics",
    "panel_groups",
    "pooled_group_metrics",
    "study_status",
]

# "Far from consensus": this many points of % agree below the rule's threshold (50% agree for a
# rule without a threshold, such as median and IQR).
FAR_POINTS = 25.0
CONCORDANCE_RULE = (
    "Consensus in every group: every group that rated the statement reached the same consensus "
    "(in, or out). Discordant: one group reached consensus in while another reached consensus "
    f"out or stayed far from it (% agree at least {FAR_POINTS:g} points below the rule's "
    "threshold; below 50% for a rule without one), or the mirror image. Panel only: the whole "
    "panel reached consensus but not every group did. Some groups: no consensus in the panel, "
    "but in at least one group. The gap is the difference in % agree between the group that "
    "agrees most and the one that agrees least. Panelists with no group are not a group."
)
VERDICT_RULES = {
    "panel": "the rule holds in the whole panel",
    "every_group": "the rule holds within every group that rated the statement",
    "majority": "the rule holds within a majority of the groups that rated the statement",
}
_KEYS = ["round", "statement_id"]


def panel_groups(attributes: pd.DataFrame, attribute: str, by: str = "panelist") -> pd.Series:
    """Each panelist's group: their value of ``attribute`` (case-insensitive name) on the Panel
    tab, ``(blank)`` when the cell is empty.  ``attributes`` is long (``by``, attribute, value).

    >>> a = pd.DataFrame({"panelist": ["P1", "P2", "P3"], "attribute": "Group",
    ...                   "value": ["Patient", "Clinician", " "]})
    >>> panel_groups(a, "group").to_dict()
    {'P1': 'Patient', 'P2': 'Clinician', 'P3': '(blank)'}
    """
    rows = attributes[attributes["attribute"].astype(str).str.casefold() == attribute.casefold()]
    rows = rows.drop_duplicates(by)
    values = rows["value"].astype("string").str.strip().fillna("")
    return pd.Series(
        np.where(values == "", BLANK, values), index=rows[by].to_numpy(), dtype=object
    ).rename("group")


def _labelled(ratings: pd.DataFrame, groups: pd.Series, by: str) -> pd.DataFrame:
    """The ratings with each respondent's ``group`` (``(blank)`` for one not on the Panel tab)."""
    return ratings.assign(group=ratings[by].map(groups).fillna(BLANK).astype(str))


def group_metrics(
    ratings: pd.DataFrame, groups: pd.Series, scales: ScaleMap, by: str = "panelist"
) -> pd.DataFrame:
    """Metrics and the rule's verdict per (round, statement, group), every group shown.

    ``n_panelists`` is the group's respondents in that round (``n`` those who rated the
    statement).  For the committee and the coordinator: groups of any size.
    """
    return _metrics(_labelled(ratings, groups, by), scales, by)


def pooled_group_metrics(
    ratings: pd.DataFrame,
    groups: pd.Series,
    scales: ScaleMap,
    min_size: int,
    by: str = "panelist",
) -> pd.DataFrame:
    """:func:`group_metrics` as observers see it: in each round, groups with fewer than
    ``min_size`` respondents are pooled (``Other (groups under N)``), and none is shown when the
    round has fewer than ``min_size`` respondents with a group at all."""
    lab = _labelled(ratings, groups, by)
    parts = []
    for _, part in lab.groupby("round", sort=True):
        sizes = part.drop_duplicates(by).groupby("group")[by].size()
        shown = pool_small_groups(sizes, min_size)
        part = part[part["group"].isin(list(shown))]
        parts.append(part.assign(group=part["group"].map(shown)))
    if not parts:
        return _metrics(lab, scales, by)
    return _metrics(pd.concat(parts, ignore_index=True), scales, by)


def _metrics(lab: pd.DataFrame, scales: ScaleMap, by: str) -> pd.DataFrame:
    frames = []
    for group, part in lab.groupby("group", sort=True):
        m = study_metrics(part, scales)
        sizes = part.groupby("round")[by].nunique()
        m.insert(2, "group", group)
        m.insert(3, "n_panelists", m["round"].map(sizes).astype(int))
        frames.append(m)
    if not frames:
        empty = study_metrics(lab, scales)
        return empty.assign(group=pd.Series(dtype=object), n_panelists=pd.Series(dtype=int))
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values([*_KEYS, "group"], ignore_index=True)


def study_status(
    panel_metrics: pd.DataFrame,
    by_group: pd.DataFrame,
    consensus: str = "panel",
    min_groups: int | None = None,
) -> pd.DataFrame:
    """Per (round, statement): the panel's status, each count of groups, and the study-level
    status under ``consensus`` (``VERDICT_RULES``).

    Groups count when they rated the statement (``n`` > 0); ``(blank)`` is not a group.  For
    ``majority`` the groups needed are ``min_groups``, else more than half of those counted.

    >>> p = pd.DataFrame({"round": [1], "statement_id": ["S1"], "status": ["consensus_in"]})
    >>> g = pd.DataFrame({"round": 1, "statement_id": "S1", "group": ["A", "B", "C"],
    ...                   "n": 5, "status": ["consensus_in", "consensus_in", "no_consensus"]})
    >>> cols = ["status_study", "n_groups", "n_groups_in"]
    >>> study_status(p, g, "every_group")[cols].to_dict("records")
    [{'status_study': 'no_consensus', 'n_groups': 3, 'n_groups_in': 2}]
    >>> study_status(p, g, "majority")["status_study"].iloc[0]
    'consensus_in'
    """
    counted = by_group[(by_group["n"] > 0) & (by_group["group"] != BLANK)]
    per = (
        counted.assign(
            is_in=counted["status"] == "consensus_in", is_out=counted["status"] == "consensus_out"
        )
        .groupby(_KEYS)
        .agg(
            n_groups=("group", "nunique"),
            n_groups_in=("is_in", "sum"),
            n_groups_out=("is_out", "sum"),
        )
    )
    out = panel_metrics[[*_KEYS, "status"]].rename(columns={"status": "status_panel"})
    out = out.merge(per.reset_index(), on=_KEYS, how="left")
    for col in ("n_groups", "n_groups_in", "n_groups_out"):
        out[col] = out[col].fillna(0).astype(int)
    k, k_in, k_out = out["n_groups"], out["n_groups_in"], out["n_groups_out"]
    out["every_group_in"] = (k > 0) & (k_in == k)
    if consensus == "every_group":
        in_, out_ = (k > 0) & (k_in == k), (k > 0) & (k_out == k)
    elif consensus == "majority":
        need = pd.Series(min_groups, index=out.index) if min_groups else k // 2 + 1
        in_, out_ = (k > 0) & (k_in >= need), (k > 0) & (k_out >= need)
    else:
        in_, out_ = out["status_panel"] == "consensus_in", out["status_panel"] == "consensus_out"
    out["status_study"] = np.select(
        [in_, out_ & ~in_], ["consensus_in", "consensus_out"], "no_consensus"
    )
    return out


def concordance(
    panel_metrics: pd.DataFrame, by_group: pd.DataFrame, scales: ScaleMap
) -> pd.DataFrame:
    """Per (round, statement): how the groups' verdicts agree (``CONCORDANCE_RULE``), the gap in
    % agree between groups, and which group agrees least and most."""
    counted = by_group[(by_group["n"] > 0) & (by_group["group"] != BLANK)]
    panel = panel_metrics.set_index(_KEYS)["status"]
    rows = []
    for (rnd, sid), part in counted.groupby(_KEYS, sort=True):
        rule = scales.scale_for(int(rnd), sid).rule
        far = (rule.threshold - FAR_POINTS) if rule.threshold is not None else 50.0
        st, pct = part["status"], part["pct_agree"]
        has_in, has_out = (st == "consensus_in").any(), (st == "consensus_out").any()
        far_agree = (pct < far).any()  # some group far from agreeing
        far_dis = (part["pct_disagree"] < far).any()
        discordant = (has_in and (has_out or far_agree)) or (has_out and far_dis)
        overall = panel.get((rnd, sid), "no_consensus")
        if (st == "consensus_in").all() or (st == "consensus_out").all():
            kind = "consensus in every group"
        elif discordant:
            kind = "discordant"
        elif overall != "no_consensus":
            kind = "panel only"
        elif has_in or has_out:
            kind = "some groups"
        else:
            kind = "no consensus"
        lo = hi = None
        if pct.notna().any():
            lo, hi = part.loc[pct.idxmin(), "group"], part.loc[pct.idxmax(), "group"]
        rows.append(
            {
                "round": int(rnd),
                "statement_id": sid,
                "concordance": kind,
                "gap": float(pct.max() - pct.min()) if pct.notna().any() else np.nan,
                "lowest_group": lo,
                "highest_group": hi,
                "n_groups": int(len(part)),
            }
        )
    cols = [
        "round",
        "statement_id",
        "concordance",
        "gap",
        "lowest_group",
        "highest_group",
        "n_groups",
    ]
    return pd.DataFrame(rows, columns=cols)


# --- from the store's frames (what the pages and reports call) --------------------------------


def by_group(
    ratings: pd.DataFrame,
    attributes: pd.DataFrame,
    attribute: str,
    scales: ScaleMap,
    min_size: int | None = None,
) -> pd.DataFrame:
    """Per (round, statement, group) metrics from the store's ratings and panel attributes:
    every group (``min_size`` None: committee and coordinator), or pooled as observers see
    them."""
    groups = panel_groups(attributes, attribute)
    if min_size is None:
        return group_metrics(ratings, groups, scales)
    return pooled_group_metrics(ratings, groups, scales, min_size)


def concordance_table(
    ratings: pd.DataFrame,
    attributes: pd.DataFrame,
    attribute: str,
    scales: ScaleMap,
    min_size: int | None = None,
) -> pd.DataFrame:
    """:func:`concordance` over :func:`by_group` (pooled groups for observers), with the
    panel's own status recomputed from the ratings (the stored status may be the study's
    verdict under ``[groups]``)."""
    panel = study_metrics(ratings, scales)
    out = concordance(panel, by_group(ratings, attributes, attribute, scales, min_size), scales)
    return out.merge(
        panel[[*_KEYS, "pct_agree", "status"]].rename(
            columns={"pct_agree": "pct_agree_panel", "status": "status_panel"}
        ),
        on=_KEYS,
        how="left",
    )


def verdict_table(
    ratings: pd.DataFrame,
    attributes: pd.DataFrame,
    attribute: str,
    scales: ScaleMap,
    consensus: str = "panel",
    min_groups: int | None = None,
) -> pd.DataFrame:
    """:func:`study_status` on the true groups: the study's result, the same for every role
    (the stored status is this ``status_study``)."""
    panel = study_metrics(ratings, scales)
    groups = group_metrics(ratings, panel_groups(attributes, attribute), scales)
    return study_status(panel, groups, consensus, min_groups)
