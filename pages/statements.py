"""Statements: one statement across rounds — wording and its changes, distribution, metrics,
how solid the result is, stability between rounds, other consensus rules, whether the verdict
would survive attrition and a few changed votes, comments."""

import streamlit as st

from lib import ui
from lib.analysis import flow, sensitivity, solidity, stability, summary
from lib.charts.results import likert_chart, round_scales

ui.require_router()

st.title("Statements")
ui.snapshot_caption()
ui.require_ratings()
cfg = ui.config()
m = ui.metrics()

latest = summary.latest_per_statement(m)
with st.container(horizontal=True, vertical_alignment="bottom"):
    domain = st.selectbox("Domain", ["All", *sorted(latest["domain"].unique())], key="st_domain")
    labels = summary.statement_labels(latest, domain)
    sid = labels[st.selectbox("Statement", list(labels), key="st_statement")]

family = summary.lineage(ui.statements(), sid, ui.stat(flow.families))
ids = set(family["statement_id"])
versions = tuple(sorted(ids))  # the statistics below are per version: its family's rows suffice

st.subheader("Wording per round")
ui.wording_versions(summary.wording_history(family))

dist = ui.distribution()
per_round = round_scales(cfg.scale_map, family)
mine = dist[dist["statement_id"].isin(ids)]
fig = ui.figure(likert_chart, mine, ui.scale_labels(), "Ratings per round", per_round)
st.plotly_chart(fig, key="st_likert")
ui.group_ratings(family, key="st_groups")  # the same bars per group, side by side

st.subheader("Metrics and status per round")
ui.metrics_table(m[m["statement_id"].isin(ids)].sort_values("round"), key="st_metrics")

st.subheader("How solid is each result")
solid = ui.stat(solidity.solidity_by_scale, cfg.scale_map, only=versions)
ui.solidity_table(solid, key="st_solidity")
st.caption(
    "Wilson 95% interval for % agree (% yes for a Yes/No question; Newcombe 1998). "
    f"Votes needed: the integer cut-off of the rule. {solidity.FLIP_RULE}"
)

st.subheader("Stability between rounds")
stab = ui.stat(stability.stability, cfg.rule.agree, cfg.scale_map, only=versions)
if stab.empty:
    st.caption("Rated in one round only: nothing to compare.")
else:
    ui.stability_table(stab, key="st_stability")
    st.caption(stability.STABILITY_RULE)

st.subheader("Under other consensus definitions")
per = ui.stat(sensitivity.sensitivity_by_scale, cfg.scale_map, only=versions)
per = summary.with_study_status(per, m)
# which rules apply, and their labels: the scale's alone on one scale; on mixed scales, whether
# any statement of the study has a scale a rule applies to
whole = (
    summary.with_study_status(ui.stat(sensitivity.sensitivity_by_scale, cfg.scale_map), m)
    if cfg.scale_map.mixed
    else per
)
counts = ui.stat(sensitivity.sensitivity_counts_by_scale, whole, cfg.scale_map)
ui.rules_table(per, counts, key="st_rules")
ui.inapplicable_captions(counts)

st.subheader("Would the verdict survive?")
ui.verdict_survival(ids, solid, per, key="st_survive")

st.subheader("Comments")
if ui.at_least("committee") or cfg.observer_comments:
    comments = ui.comments()
    ui.comments_list(comments[comments["statement_id"].isin(ids)], key="st_comments")
else:
    st.caption("Comments are shown to the steering committee only.")
